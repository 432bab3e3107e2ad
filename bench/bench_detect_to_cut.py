"""Detection-to-cut latency: from the first frame of a banked picture entering ingest to the
cut-off being carried out on the node (the media service's cut-off listener). Goal: under 2 s.

The publisher is the ffmpeg CLI sending a pre-encoded FLV in real time (``-re``): a benign
picture, then the banked one from a known offset. ffmpeg paces frames from its own start,
which lies between its launch and the publish being accepted, so the banked frame entered
ingest between ``launch + offset`` and ``accepted + offset``. We report the latency from the
earlier bound (an upper bound on the true latency: it includes ffmpeg's start-up) and show
the lower bound beside it.

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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

GOAL_S = 2.0


def trial(interval: float, n: int) -> tuple[float, float]:
    from tests.e2e.conftest import start_live_server, stop_live_server
    from tests.e2e.helpers import make_room, use_policy
    from tests.review.media import publish_file, write_flv

    from livegate.app import Platform
    from livegate.config import Settings
    from livegate.review.signals.hashbank import example_picture

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
            offset = 4.0 + 0.3 * n
            flv = write_flv(Path(d) / "s.flv", [(benign, offset), (banned, 20.0)])
            accepted = threading.Event()
            real_on_publish = p.media.on_publish

            async def on_publish(request):  # type: ignore[no-untyped-def]
                decision = await real_on_publish(request)
                at.setdefault("accepted", time.monotonic())
                accepted.set()
                return decision

            p.media.on_publish = on_publish
            at["launch"] = time.monotonic()
            proc = publish_file(flv, live.rtmp_url(key))
            try:
                ok = cut.wait(40)
            finally:
                proc.kill()
                proc.wait()
            if not ok or not accepted.is_set():
                raise RuntimeError("no cut-off")
            return at["cut"] - (at["launch"] + offset), at["cut"] - (at["accepted"] + offset)
        finally:
            stop_live_server(live)
            p.close()


def main() -> None:
    for interval in (1.0, 2.0):
        runs = [trial(interval, n) for n in range(3)]
        upper = [u for u, _ in runs]
        ours = statistics.median(upper)
        print(f"sampling every {interval:g} s: reference (goal) {GOAL_S:.2f} s | ours median {ours:.2f} s, worst "
              f"{max(upper):.2f} s (upper bounds; lower bounds {', '.join(f'{lo:.2f}' for _, lo in runs)}) | "
              f"ratio ours/goal {ours / GOAL_S:.2f}")


if __name__ == "__main__":
    main()
