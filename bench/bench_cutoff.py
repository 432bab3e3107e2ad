"""Benchmark 3 of the go-live issue: instant cut-off (Art. 8).

For each trial a room goes live (ffmpeg CLI publisher), N players hold its WebSocket, and an
officer's API call cuts it off. Measured from the moment the call is sent:
  - API answered: by then the publisher's socket is closed and the playlist ended (the
    response says so, and the playlist is fetched right after to check EXT-X-ENDLIST);
  - the publisher process saw its connection end (ffmpeg exits);
  - every player received the "cutoff" control event.
Reference: the goal, p99 < 200 ms.

    .venv/bin/python bench/bench_cutoff.py [--players 1000] [--trials 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import websockets
from _server import FFMPEG, Server, bench_policy, seed


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def trial(server: Server, token: str, room: str, key: str, players: int) -> dict[str, object]:
    pub = subprocess.Popen([FFMPEG, "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
                            "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-t", "120", "-f", "flv",
                            f"rtmp://127.0.0.1:{server.rtmp_port}/live/{key}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    async with httpx.AsyncClient(base_url=server.url, headers={"authorization": f"Bearer {token}"}) as http:
        while (await http.get(f"/api/v1/rooms/{room}")).json()["status"] != "live":
            await asyncio.sleep(0.05)
        socks = []
        for i in range(0, players, 100):
            socks += await asyncio.gather(*(websockets.connect(f"ws://127.0.0.1:{server.http_port}/ws/rooms/{room}",
                                                               max_queue=None) for _ in range(min(100, players - i))))
        for s in socks:
            await s.recv()  # hello
        received: list[float] = []

        async def wait_cut(ws: websockets.ClientConnection) -> None:
            while True:
                msg = json.loads(await ws.recv())
                if msg["type"] == "cutoff":
                    received.append(time.perf_counter())
                    return

        waiters = [asyncio.create_task(wait_cut(s)) for s in socks]
        t0 = time.perf_counter()
        r = await http.post(f"/api/v1/rooms/{room}/cutoff", json={"reason": "benchmark"})
        t_api = time.perf_counter()
        body = r.json()
        ended = "#EXT-X-ENDLIST" in (await http.get(f"/hls/{room}/index.m3u8")).text
        await asyncio.wait_for(asyncio.gather(*waiters), 30)
        t_pub = None
        while pub.poll() is None and time.perf_counter() - t0 < 10:
            await asyncio.sleep(0.005)
        t_pub = time.perf_counter()
        for s in socks:
            await s.close()
    pub.kill()
    pub.wait()
    return {"api_ms": (t_api - t0) * 1000, "publisher_closed": body.get("publisher_closed"), "ended": ended,
            "publisher_exit_ms": (t_pub - t0) * 1000,
            "players_ms": [(t - t0) * 1000 for t in received]}


async def main_async(players: int, trials: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="livegate-cutoff-"))
    info = seed(data, trials, bench_policy(broadcast_delay_seconds=0, watermark_mode="overlay"))
    server = Server(data)
    server.start()
    results = []
    try:
        for i in range(trials):
            r = info["rooms"][i]
            results.append(await trial(server, info["token"], r["room"], r["key"], players))
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
    api = [r["api_ms"] for r in results]
    pub = [r["publisher_exit_ms"] for r in results]
    last = [max(r["players_ms"]) for r in results]  # type: ignore[type-var]
    allp = [x for r in results for x in r["players_ms"]]  # type: ignore[attr-defined]
    print(f"cut-off, {trials} trials, {players} players each (goal: p99 < 200 ms)")
    print(f"  API answered (publisher closed + playlist ended): p50 {statistics.median(api):6.1f} ms  "
          f"p99 {pct(api, 0.99):6.1f} ms   closed={all(r['publisher_closed'] for r in results)} "
          f"ENDLIST={all(r['ended'] for r in results)}")
    print(f"  publisher process saw the end:                   p50 {statistics.median(pub):6.1f} ms  "
          f"p99 {pct(pub, 0.99):6.1f} ms")
    print(f"  each player notified ({len(allp)} deliveries):         p50 {statistics.median(allp):6.1f} ms  "
          f"p99 {pct(allp, 0.99):6.1f} ms")
    print(f"  last player of a trial notified:                 p50 {statistics.median(last):6.1f} ms  "
          f"p99 {pct(last, 0.99):6.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--players", type=int, default=1000)
    ap.add_argument("--trials", type=int, default=10)
    args = ap.parse_args()
    asyncio.run(main_async(args.players, args.trials))


if __name__ == "__main__":
    main()
