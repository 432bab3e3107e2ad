"""Detection-to-cut latency: from the first frame of a banked picture entering ingest (a PyAV
RTMP publisher in real time notes when it sends it) to the cut-off being carried out on the
node (the media service's cut-off listener). Goal: under 2 s.

Runs the platform in-process on real sockets (uvicorn + RTMP) with a 10 s broadcast delay and
1 s keyframes, at frame-sampling intervals of 1 s and 2 s (news and the massive tier sample
every 2 s). Prints the reference (the goal), ours and the ratio."""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
from PIL import Image  # noqa: E402

GOAL_S = 2.0


def publish(url: str, benign, banned, seconds_benign: float, stop: threading.Event, sent: dict) -> None:  # type: ignore[no-untyped-def]
    fps = 25
    with av.open(url, "w", format="flv") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = benign.shape[1], benign.shape[0], "yuv420p"
        st.codec_context.time_base = Fraction(1, fps)
        st.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency", "g": "25", "keyint_min": "25",
                                    "sc_threshold": "0"}
        start = time.monotonic()
        i = 0
        while not stop.is_set() and i < fps * 60:
            t = i / fps
            pic = benign if t < seconds_benign else banned
            frame = av.VideoFrame.from_ndarray(pic, format="rgb24")
            frame.pts = i
            try:
                for packet in st.encode(frame):
                    out.mux(packet)
            except (av.FFmpegError, OSError):
                return  # the server hung up: cut off
            if pic is banned and "at" not in sent:
                sent["at"] = time.monotonic()
            i += 1
            delay = start + (i / fps) - time.monotonic()
            if delay > 0:
                stop.wait(delay)


def trial(interval: float, n: int) -> float:
    from livegate.app import Platform
    from livegate.config import Settings
    from livegate.review.signals.hashbank import example_picture
    from tests.e2e.conftest import start_live_server, stop_live_server
    from tests.e2e.helpers import make_room, use_policy

    with tempfile.TemporaryDirectory() as d:
        p = Platform(Settings(data_dir=Path(d), secret_key="bench-" + "x" * 26, http_port=0, rtmp_port=0,
                              node_name="bench"))
        p.migrate()
        use_policy(p, education={"broadcast_delay_seconds": 10, "frame_sampling_seconds": interval})
        benign, banned = example_picture(100 + n, (360, 640)), example_picture(200 + n, (360, 640))
        buf = io.BytesIO()
        Image.fromarray(banned).save(buf, format="PNG")
        with p.db.session() as s:
            p.review.add_hash(s, actor="bench", label="bench", image=buf.getvalue())
        live = start_live_server(p)
        try:
            room, key = make_room(p, username=f"bench{n}")
            cut = threading.Event()
            at: dict[str, float] = {}
            p.media.cutoff_listeners.append(
                lambda r: (at.setdefault("cut", r.at), cut.set()) if r.room == room and r.stream_cut else None)
            stop, sent = threading.Event(), {}
            pub = threading.Thread(target=publish, args=(live.rtmp_url(key), benign, banned, 3.3 + 0.3 * n, stop,
                                                         sent), daemon=True)
            pub.start()
            ok = cut.wait(40)
            stop.set()
            pub.join(10)
            if not ok or "at" not in sent:
                raise RuntimeError("no cut-off")
            return at["cut"] - sent["at"]
        finally:
            stop_live_server(live)
            p.close()


def main() -> None:
    for interval in (1.0, 2.0):
        lat = [trial(interval, n) for n in range(3)]
        ours = statistics.median(lat)
        print(f"sampling every {interval:g} s: reference (goal) {GOAL_S:.2f} s | ours median {ours:.2f} s "
              f"(runs {', '.join(f'{x:.2f}' for x in lat)}) | ratio ours/goal {ours / GOAL_S:.2f}")


if __name__ == "__main__":
    main()
