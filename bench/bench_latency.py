"""Benchmark 4 of the go-live issue: latency without delay.

- frame ingested -> listed in the playlist: the playlist is polled every 20 ms; a segment's
  EXT-X-PROGRAM-DATE-TIME is the wall time its first frame was ingested, so (first seen -
  PDT) is the worst frame's wait, and (first seen - PDT - duration) is our processing time.
- glass-to-glass in Chromium: hls.js's `playingDate` (the PDT-derived wall time of the frame
  on screen) against the page's clock, sampled while the player runs. Goal: <= 3 s.

    .venv/bin/python bench/bench_latency.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from _server import FFMPEG, Server, bench_policy, seed

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=20)
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="livegate-latency-"))
    info = seed(data, 1, bench_policy(broadcast_delay_seconds=0, watermark_mode="overlay"))
    room, key = info["rooms"][0]["room"], info["rooms"][0]["key"]
    server = Server(data)
    server.start()
    pub = subprocess.Popen([FFMPEG, "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                            "-f", "lavfi", "-i", "sine", "-c:v", "libx264", "-preset", "ultrafast", "-tune",
                            "zerolatency", "-g", "30", "-c:a", "aac", "-t", str(args.seconds + 30), "-f", "flv",
                            f"rtmp://127.0.0.1:{server.rtmp_port}/live/{key}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    listed: list[tuple[float, float]] = []
    seen: set[str] = set()
    try:
        with httpx.Client(base_url=server.url) as http:
            end = time.monotonic() + args.seconds / 2
            while time.monotonic() < end:
                r = http.get(f"/hls/{room}/index.m3u8")
                now = dt.datetime.now(dt.UTC)
                if r.status_code == 200:
                    entries = re.findall(r"#EXT-X-PROGRAM-DATE-TIME:(\S+)\n#EXTINF:([\d.]+),\n(\S+)", r.text)
                    for pdt, dur, name in entries:
                        if name not in seen:
                            seen.add(name)
                            start = dt.datetime.fromisoformat(pdt.replace("Z", "+00:00"))
                            if len(seen) > 1:  # the first one may predate our polling
                                wait = (now - start).total_seconds()
                                listed.append((wait, wait - float(dur)))
                time.sleep(0.02)
        from playwright.sync_api import sync_playwright

        g2g: list[float] = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                         args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"{server.url}/r/{room}")
            page.wait_for_function("window.livegateHls && window.livegateHls.playingDate", timeout=30_000)
            end = time.monotonic() + args.seconds / 2
            while time.monotonic() < end:
                g2g.append(page.evaluate("(Date.now() - window.livegateHls.playingDate.getTime()) / 1000"))
                time.sleep(0.25)
            browser.close()
    finally:
        pub.kill()
        pub.wait()
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
    waits = [w for w, _ in listed]
    proc = [p for _, p in listed]
    print(f"latency without delay, 640x360p30, 1 s keyframes ({len(listed)} segments, {len(g2g)} player samples)")
    print(f"  first frame of a segment -> listed: median {statistics.median(waits):.3f} s  max {max(waits):.3f} s")
    print(f"  segment complete -> listed (ours):  median {statistics.median(proc) * 1000:.0f} ms  "
          f"max {max(proc) * 1000:.0f} ms")
    print(f"  glass-to-glass in Chromium:         median {statistics.median(g2g):.2f} s  max {max(g2g):.2f} s"
          f"   (goal <= 3 s)")


if __name__ == "__main__":
    main()
