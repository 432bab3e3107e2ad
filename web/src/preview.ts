// Studio preview: the publisher sees what viewers see (the public playlist, after the delay).
import Hls from "hls.js";

document.querySelectorAll<HTMLVideoElement>("video[data-preview]").forEach((video) => {
  const src = `/hls/${video.dataset.preview}/index.m3u8`;
  if (Hls.isSupported()) {
    const hls = new Hls({ liveSyncDuration: 1.5, manifestLoadingMaxRetry: 60, manifestLoadingRetryDelay: 1000 });
    hls.loadSource(src);
    hls.attachMedia(video);
    hls.on(Hls.Events.MANIFEST_PARSED, () => void video.play().catch(() => undefined));
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = src;
  }
});
