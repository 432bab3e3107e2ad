// The viewer page: hls.js playback, the room's WebSocket (viewer count, cut-off, comments,
// danmaku, removals), the mark. Protocol: docs/protocol.md.
import Hls from "hls.js";
import { DanmakuLayer } from "./danmaku";

const root = document.querySelector<HTMLElement>(".room");
const video = document.querySelector<HTMLVideoElement>("#player");

interface RoomEvent { v?: number; type: string; [k: string]: unknown }
interface Comment { id: number; text: string; nickname: string; color: string; position: string; self_only?: boolean }

const layerEl = document.querySelector<HTMLElement>("[data-testid=danmaku]");
const danmaku = layerEl ? new DanmakuLayer(layerEl) : null;
const list = document.querySelector<HTMLOListElement>("[data-testid=comment-list]");
const form = document.querySelector<HTMLFormElement>("[data-testid=comment-form]");
const statusEl = document.querySelector<HTMLElement>("[data-testid=comment-status]");
let moderator = false;
let sending = 0;

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
  danmaku?.clear();
}

function play(room: string): void {
  if (!video) return;
  const src = `/hls/${room}/index.m3u8`;
  if (Hls.isSupported()) {
    // Sit 1.5 s behind the live edge (1 s segments): glass-to-glass stays under 3 s, and
    // playback speeds up a little to catch up after a stall rather than drifting behind.
    const hls = new Hls({ lowLatencyMode: true, liveSyncDuration: 1.5, liveMaxLatencyDuration: 5,
                          maxLiveSyncPlaybackRate: 1.3, manifestLoadingMaxRetry: 60,
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

function setStatus(text: string, refused: boolean): void {
  if (!statusEl) return;
  statusEl.textContent = text;
  statusEl.classList.toggle("refused", refused);
  statusEl.dataset.state = refused ? "refused" : "ok";
}

function addToList(c: Comment, fly: boolean): void {
  if (list && !list.querySelector(`li[data-id="${c.id}"]`)) {
    const li = document.createElement("li");
    li.dataset.id = String(c.id);
    li.dataset.testid = "comment";
    if (root) {  // the report button (report.ts) attaches to anything carrying these
      li.dataset.reportTarget = "comment";
      li.dataset.reportId = String(c.id);
      li.dataset.reportRoom = root.dataset.room ?? "";
    }
    if (c.self_only) li.classList.add("self-only");
    const nick = document.createElement("span");
    nick.className = "nick";
    nick.textContent = c.nickname;
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = c.text;
    li.append(nick, text);
    if (moderator) {
      const btn = document.createElement("button");
      btn.type = "button";
      btn.textContent = "Remove";
      btn.dataset.testid = "comment-remove";
      btn.addEventListener("click", () => void removeComment(c.id));
      li.append(btn);
    }
    list.append(li);
    while (list.children.length > 200) list.firstElementChild?.remove();
    list.scrollTop = list.scrollHeight;
  }
  if (fly) danmaku?.show({ id: c.id, text: c.text, color: c.color, position: c.position, self: c.self_only });
}

function removeIds(ids: number[]): void {
  for (const id of ids) {
    list?.querySelector(`li[data-id="${id}"]`)?.remove();
    danmaku?.remove(id);
  }
}

async function removeComment(id: number): Promise<void> {
  const room = root?.dataset.room;
  const reason = prompt("Reason for removing this comment:", "violates the room rules");
  if (!room || !reason) return;
  const csrf = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";
  const resp = await fetch(`/api/v1/rooms/${room}/comments/${id}/remove`, {
    method: "POST", credentials: "same-origin",
    headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: JSON.stringify({ reason }),
  });
  if (!resp.ok) setStatus("could not remove the comment", true);
}

function handle(msg: RoomEvent): void {
  switch (msg.type) {
    case "batch":
      for (const ev of (msg.events as RoomEvent[]) ?? []) handle(ev);
      return;
    case "hello": {
      const you = msg.you as { moderator: boolean; can_comment: boolean; refusal: { message: string } | null };
      moderator = Boolean(you?.moderator);
      document.body.dataset.moderator = String(moderator);
      const limits = msg.limits as { colors: string[]; max_length: number } | undefined;
      const sel = form?.querySelector<HTMLSelectElement>("select[name=color]");
      if (sel && limits && sel.options.length === 0) {
        for (const c of limits.colors) {
          const o = document.createElement("option");
          o.value = c; o.textContent = "■"; o.style.color = c;
          sel.append(o);
        }
      }
      if (you && !you.can_comment && you.refusal) setStatus(you.refusal.message, true);
      for (const c of (msg.recent as Comment[]) ?? []) addToList(c, false);
      showModes(msg.modes as { premoderated: boolean; slow_seconds: number });
      document.body.dataset.chat = "ready";
      break;
    }
    case "viewers": {
      const el = document.querySelector<HTMLElement>("[data-testid=viewers]");
      if (el) el.textContent = String(msg.count);
      break;
    }
    case "cutoff":
      stop(String(msg.reason ?? ""));
      break;
    case "comment":
      addToList(msg as unknown as Comment, true);
      break;
    case "removed":
      removeIds((msg.ids as number[]) ?? []);
      break;
    case "modes":
      showModes(msg as unknown as { premoderated: boolean; slow_seconds: number });
      break;
    case "ack": {
      const c = msg.comment as Comment | undefined;
      if (msg.status === "held") setStatus("Sent for review: it appears once approved.", false);
      else if (msg.status === "self_only") setStatus(String(msg.reason ?? "Only you can see this comment."), true);
      else setStatus("", false);
      if (c) addToList({ ...c, self_only: true }, true);
      break;
    }
    case "refused": {
      const retry = typeof msg.retry_after === "number" ? ` (try again in ${Math.ceil(msg.retry_after)} s)` : "";
      setStatus(`${String(msg.message)}${retry}`, true);
      break;
    }
    case "notice":
      setStatus(String(msg.text ?? ""), msg.code === "muted");
      break;
    case "error":
      setStatus(String(msg.message ?? "error"), true);
      break;
  }
  document.dispatchEvent(new CustomEvent("livegate:room-event", { detail: msg }));
}

function showModes(m: { premoderated: boolean; slow_seconds: number } | undefined): void {
  const el = document.querySelector<HTMLElement>("[data-testid=chat-modes]");
  if (!el || !m) return;
  const parts = [];
  if (m.premoderated) parts.push("comments reviewed before they appear");
  if (m.slow_seconds > 0) parts.push(`slow mode ${m.slow_seconds} s`);
  el.textContent = parts.length ? `· ${parts.join(" · ")}` : "";
}

function connect(room: string): void {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws/rooms/${room}`);
  ws.addEventListener("message", (ev) => {
    let msg: RoomEvent;
    try { msg = JSON.parse(String(ev.data)); } catch { return; }
    if (msg.type === "batch") {
      for (const inner of (msg.events as RoomEvent[]) ?? []) handle(inner);
    } else {
      handle(msg);
    }
  });
  ws.addEventListener("close", (ev) => {
    if (ev.code === 4429) {  // the room is at the audience its publisher's credit level allows
      const notice = document.querySelector<HTMLElement>("[data-testid=notice]");
      if (notice) notice.textContent = ev.reason || "This room is full right now; try again later.";
      stop("room full");
      return;
    }
    if (document.body.dataset.cutoff !== "true") setTimeout(() => connect(room), 2000);
  });
  (window as unknown as { livegateWs?: WebSocket }).livegateWs = ws;
}

form?.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const ws = (window as unknown as { livegateWs?: WebSocket }).livegateWs;
  const input = form.querySelector<HTMLInputElement>("input[name=text]");
  if (!ws || ws.readyState !== WebSocket.OPEN || !input || !input.value.trim()) return;
  const color = form.querySelector<HTMLSelectElement>("select[name=color]")?.value || "#ffffff";
  const position = form.querySelector<HTMLSelectElement>("select[name=position]")?.value || "scroll";
  sending += 1;
  ws.send(JSON.stringify({ v: 1, type: "comment", ref: `c${Date.now()}-${sending}`, text: input.value, color, position }));
  input.value = "";
});

if (root) {
  const room = root.dataset.room!;
  if (root.dataset.cut === "true") {
    stop("");
  } else {
    play(room);
    connect(room);
  }
}
