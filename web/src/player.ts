// The viewer page: hls.js playback, the room's WebSocket (viewer count, cut-off), the mark.
import Hls from "hls.js";

const root = document.querySelector<HTMLElement>(".room");
const video = document.querySelector<HTMLVideoElement>("#player");

interface RoomEvent { v?: number; type: string; [k: string]: unknown }

function stop(reason: string): void {
  const notice = document.querySelector<HTMLElement>("[data-testid=notice]");
  if (notice) {
    notice.hidden = false;
    if (reason) notice.dataset.reason = reason;
  }
  document.querySelector<HTMLElement>("[data-testid=live-badge]")?.setAttribute("hidden", "");
  if (video) {
    video.pause();
    video.removeAttribute("src");
    video.load();
  }
  (window as unknown as { livegateHls?: Hls }).livegateHls?.destroy();
  document.body.dataset.cutoff = "true";
}

function play(room: string): void {
  if (!video) return;
  const src = `/hls/${room}/index.m3u8`;
  if (Hls.isSupported()) {
    const hls = new Hls({ lowLatencyMode: true, liveSyncDurationCount: 2, manifestLoadingMaxRetry: 60,
                          manifestLoadingRetryDelay: 1000 });
    (window as unknown as { livegateHls?: Hls }).livegateHls = hls;
    hls.loadSource(src);
    hls.attachMedia(video);
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      document.querySelector<HTMLElement>("[data-testid=live-badge]")?.removeAttribute("hidden");
      void video.play().catch(() => undefined);
    });
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (data.response?.code === 410) stop("");
    });
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = src;
  }
}

function connect(room: string): void {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws/rooms/${room}`);
  ws.addEventListener("message", (ev) => {
    let msg: RoomEvent;
    try { msg = JSON.parse(String(ev.data)); } catch { return; }
    if (msg.type === "viewers") {
      const el = document.querySelector<HTMLElement>("[data-testid=viewers]");
      if (el) el.textContent = String(msg.count);
    } else if (msg.type === "cutoff") {
      stop(String(msg.reason ?? ""));
    }
    document.dispatchEvent(new CustomEvent("livegate:room-event", { detail: msg }));
  });
  ws.addEventListener("close", () => {
    if (document.body.dataset.cutoff !== "true") setTimeout(() => connect(room), 2000);
  });
  (window as unknown as { livegateWs?: WebSocket }).livegateWs = ws;
}

if (root) {
  const room = root.dataset.room!;
  if (root.dataset.cut === "true") {
    stop("");
  } else {
    play(room);
    connect(room);
  }
}
