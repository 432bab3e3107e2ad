"""Fan-out of comments to a room's viewers on one node: livegate against a bare broadcast.

* ours - the full platform served by uvicorn (``ws="websockets"``): every comment runs the
  whole flow (gate, rate limits, lexicon, stored in SQLite before the ack) and is fanned
  out through the broker and the room hub to every viewer's queue and writer;
* reference - a bare ``websockets`` server that ``broadcast()``s each frame it receives to
  every connection: no gate, no moderation, no storage.

Both servers run in a child process (its CPU time is read from /proc); the viewers and
the senders run in this process (viewers in ``--client-procs`` child processes). Each
comment carries its send time; a sample of viewers parses every frame and records
send-to-receive latency. Prints p50/p99 latency, server CPU, and the ratios ours/reference.

Run: ``.venv/bin/python bench/bench_fanout.py --viewers 5000 --rate 200 --seconds 10``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


# Servers (child processes) ------------------------------------------------------------------
def _serve_reference(port: int, ready: Any) -> None:
    import websockets
    from websockets.asyncio.server import broadcast, serve

    async def main() -> None:
        clients: set[Any] = set()

        async def handler(ws: Any) -> None:
            clients.add(ws)
            try:
                async for frame in ws:
                    broadcast(clients, frame if isinstance(frame, str) else frame.decode())
            except websockets.ConnectionClosed:
                pass
            finally:
                clients.discard(ws)

        async with serve(handler, "127.0.0.1", port, max_queue=None, backlog=8192, ping_interval=None):
            ready.set()
            await asyncio.Future()

    asyncio.run(main())


def _serve_ours(port: int, data_dir: str, ready: Any) -> None:
    import logging

    import uvicorn

    from livegate.app import Platform, create_app
    from livegate.config import Settings

    logging.disable(logging.WARNING)
    settings = Settings(data_dir=Path(data_dir), http_port=port, rtmp_port=0, secret_key="bench-secret-" + "x" * 20,
                        policy_file=str(Path(data_dir) / "policy.yaml"), node_name="bench")
    platform = Platform(settings, start_rtmp=False)
    app = create_app(platform)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                           lifespan="on", ws="auto", backlog=8192,
                                           ws_ping_interval=None, ws_ping_timeout=None))

    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        ready.set()
        profile_to = os.environ.get("BENCH_FANOUT_PROFILE")  # a path: profile the event loop's thread
        if profile_to:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
            await asyncio.sleep(float(os.environ.get("BENCH_FANOUT_PROFILE_SECONDS", "20")))
            prof.disable()
            prof.dump_stats(profile_to)
        await task

    asyncio.run(main())


def _prepare_ours(data_dir: Path, senders: int) -> tuple[str, list[str]]:
    """A room, and ``senders`` verified accounts with sessions; a policy whose limits admit the load."""
    import yaml
    from tests.e2e.helpers import make_room
    from tests.identity.helpers import accept_current_agreements, verify_phone_directly

    from livegate.app import Platform
    from livegate.config import Settings
    from livegate.core import policy as policy_mod
    from livegate.core.permissions import Role

    doc = yaml.safe_load((Path(policy_mod.__file__).parent / "default_policy.yaml").read_text())
    doc["comments"]["per_account_per_room"] = {"limit": 100_000, "per_seconds": 1}
    doc["comments"]["per_room"] = {"limit": 100_000, "per_seconds": 1}
    (data_dir / "policy.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    settings = Settings(data_dir=data_dir, rtmp_port=0, secret_key="bench-secret-" + "x" * 20,
                        policy_file=str(data_dir / "policy.yaml"), node_name="bench-setup")
    p = Platform(settings, start_rtmp=False)
    p.migrate()
    room, _ = make_room(p, "bench-streamer", category="education")
    cookies = []
    for i in range(senders):
        with p.db.session() as s:
            acc = p.accounts.create(s, username=f"sender{i}", password="bench password 1",
                                    roles=[(Role.AUDIENCE, None)],
                                    actor="bench")
            account_id = acc.id
        verify_phone_directly(p, account_id, f"+8613900{i:06d}")
        accept_current_agreements(p, account_id)
        with p.db.session() as s:
            token, _ws = p.accounts.open_session(s, p.accounts.get(s, account_id), ip="127.0.0.1", user_agent="bench")
            cookies.append(token)
    p.close()
    return room, cookies


# Clients -------------------------------------------------------------------------------------
def _flatten(msg: Any) -> list[Any]:
    if isinstance(msg, dict) and msg.get("type") == "batch":
        return [inner for ev in msg["events"] for inner in _flatten(ev)]
    return [msg]


class _Discard(asyncio.Protocol):
    """A viewer that stops reading once upgraded: the kernel's receive buffer (auto-tuned to
    megabytes) holds a run's frames, so thousands of viewers cost this process nothing while
    the server does all its work (encode, queue, frame, write). Sampled viewers read and parse."""

    def __init__(self, upgraded: asyncio.Future[None], received: list[int]) -> None:
        self.upgraded = upgraded
        self.received = received
        self.head = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if not self.upgraded.done():
            self.head += data
            if b"\r\n\r\n" in self.head:
                if self.head.startswith(b"HTTP/1.1 101"):
                    self.upgraded.set_result(None)
                    if self.transport is not None:
                        self.transport.pause_reading()
                else:
                    self.upgraded.set_exception(OSError(self.head.split(b"\r\n", 1)[0].decode()))
            return
        self.received[0] += len(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(OSError("closed during the handshake"))


async def _raw_viewer(url: str, opened: asyncio.Event, received: list[int]) -> None:
    import base64
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    for _attempt in range(20):
        upgraded: asyncio.Future[None] = loop.create_future()
        try:
            transport, _ = await loop.create_connection(lambda: _Discard(upgraded, received), parts.hostname,
                                                        parts.port)
            key = base64.b64encode(os.urandom(16)).decode()
            transport.write((f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                             f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                             ).encode())
            await asyncio.wait_for(upgraded, 120)
        except (OSError, TimeoutError):
            await asyncio.sleep(0.2)
            continue
        opened.set()
        try:
            await asyncio.Future()
        finally:
            transport.close()
    opened.set()


def _viewer_proc(url: str, n: int, sample: int, stop: Any, out: Any, ready: Any, seen: Any) -> None:
    import websockets
    from websockets.asyncio.client import connect

    async def main() -> list[float]:
        latencies: list[float] = []
        received = [0]

        async def viewer(i: int, opened: asyncio.Event) -> None:
            if i >= sample:
                await _raw_viewer(url, opened, received)
                return
            for _attempt in range(20):
                try:
                    async with connect(url, max_queue=None, open_timeout=120, ping_interval=None) as ws:
                        opened.set()
                        async for frame in ws:
                            received[0] += 1
                            now = time.time()
                            got = 0
                            for ev in _flatten(json.loads(frame)):
                                text = ev.get("text", "") if isinstance(ev, dict) else ""
                                if text.startswith("t="):
                                    latencies.append(now - float(text[2:].split(" ", 1)[0]))
                                    got += 1
                            if got:
                                with seen.get_lock():
                                    seen.value += got
                        return
                except (OSError, websockets.InvalidStatus, websockets.ConnectionClosed, TimeoutError):
                    await asyncio.sleep(0.2)
            opened.set()

        events = [asyncio.Event() for _ in range(n)]
        tasks = []
        for i in range(n):
            tasks.append(asyncio.create_task(viewer(i, events[i])))
            if i % 100 == 99:
                await asyncio.sleep(0.02)
        await asyncio.gather(*(e.wait() for e in events))
        ready.put(n)
        await asyncio.to_thread(stop.wait)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return latencies

    lat = asyncio.run(main())
    out.put(lat)


async def _send(url: str, cookies: list[str], rate: float, duration: float, start_at: float) -> int:
    from websockets.asyncio.client import connect

    per = rate / max(1, len(cookies))
    sent = [0]
    refused = [0]

    async def sender(cookie: str) -> None:
        headers = {"cookie": f"lg_session={cookie}"} if cookie else None
        async with connect(url, additional_headers=headers, max_queue=None, ping_interval=None) as ws:
            async def drain() -> None:
                try:
                    async for frame in ws:
                        if '"refused"' in frame or '"error"' in frame:
                            refused[0] += 1
                except Exception:
                    refused[0] += 1
            reader = asyncio.create_task(drain())
            await asyncio.sleep(max(0.0, start_at - time.time()))
            t0 = time.monotonic()
            k = 0
            while time.monotonic() - t0 < duration:
                k += 1
                await ws.send(json.dumps({"type": "comment", "ref": str(k), "text": f"t={time.time():.6f} 弹幕"}))
                sent[0] += 1
                target = t0 + k / per
                await asyncio.sleep(max(0.0, target - time.monotonic()))
            await asyncio.sleep(2)
            reader.cancel()

    await asyncio.gather(*(sender(c) for c in (cookies or [""])))
    if refused[0]:
        print(f"  warning: {refused[0]} comments refused or errors (limits?)", flush=True)
    return sent[0]


def _sender_proc(url: str, cookies: list[str], rate: float, duration: float, start_at: float, out: Any) -> None:
    out.put(asyncio.run(_send(url, cookies, rate, duration, start_at)))


def run(kind: str, viewers: int, rate: float, seconds: float, procs: int, sample: int, senders: int,
        drain: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    port = _free_port()
    ready = ctx.Event()
    tmp = tempfile.mkdtemp(prefix="bench-fanout-")
    cookies: list[str] = []
    if kind == "ours":
        room, cookies = _prepare_ours(Path(tmp), senders)
        url = f"ws://127.0.0.1:{port}/ws/rooms/{room}"
        server = ctx.Process(target=_serve_ours, args=(port, tmp, ready), daemon=True)
    else:
        url = f"ws://127.0.0.1:{port}/"
        server = ctx.Process(target=_serve_reference, args=(port, ready), daemon=True)
    server.start()
    assert ready.wait(60), "server did not start"
    stop = ctx.Event()
    seen = ctx.Value("q", 0)
    out, up, sent_q = ctx.Queue(), ctx.Queue(), ctx.Queue()
    per = [viewers // procs + (1 if i < viewers % procs else 0) for i in range(procs)]
    samples = [sample // procs + (1 if i < sample % procs else 0) for i in range(procs)]
    clients = [ctx.Process(target=_viewer_proc, args=(url, per[i], samples[i], stop, out, up, seen), daemon=True)
               for i in range(procs)]
    for c in clients:
        c.start()
    connected = sum(up.get(timeout=300) for _ in clients)
    assert server.pid is not None
    begin = time.time() + 3.0
    sending = ctx.Process(target=_sender_proc, args=(url, cookies, rate, seconds, begin, sent_q), daemon=True)
    sending.start()
    time.sleep(max(0.0, begin - time.time()))
    cpu0 = _cpu_seconds(server.pid)
    wall0 = time.monotonic()
    time.sleep(seconds)
    cpu1 = _cpu_seconds(server.pid)
    wall = time.monotonic() - wall0
    sent = int(sent_q.get(timeout=120))
    sending.join(10)
    # Let the sampled viewers drain what is still queued for them (so a slow server's
    # backlog counts in its latency), up to --drain seconds.
    deadline = time.monotonic() + drain
    while seen.value < sent * min(sample, viewers) and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    lat: list[float] = []
    for _ in clients:
        lat.extend(out.get(timeout=120))
    for c in clients:
        c.join(10)
    server.terminate()
    server.join(10)
    lat.sort()
    expected = sent * min(sample, viewers)
    return {"kind": kind, "viewers": connected, "sent": sent, "received_sampled": len(lat), "expected": expected,
            "p50_ms": 1000 * statistics.median(lat) if lat else float("nan"),
            "p99_ms": 1000 * lat[int(len(lat) * 0.99) - 1] if lat else float("nan"),
            "cpu_s": cpu1 - cpu0, "wall_s": wall, "cpu_share": (cpu1 - cpu0) / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--viewers", type=int, default=5000)
    ap.add_argument("--rate", type=float, default=200.0, help="comments per second in")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--client-procs", type=int, default=2)
    ap.add_argument("--drain", type=float, default=30.0, help="seconds to wait for queued frames after sending")
    ap.add_argument("--sample", type=int, default=50, help="viewers that parse frames and record latency")
    ap.add_argument("--senders", type=int, default=0,
                    help="sending connections; default: one per 8 comments/s (a connection may send 10 frames/s)")
    args = ap.parse_args()
    if args.senders <= 0:
        args.senders = max(1, -(-int(args.rate) // 8))
    results = {}
    for kind in ("reference", "ours"):
        r = run(kind, args.viewers, args.rate, args.seconds, args.client_procs, args.sample, args.senders,
                args.drain)
        results[kind] = r
        print(f"{kind:9s} viewers={r['viewers']} sent={r['sent']} sampled={r['received_sampled']}/{r['expected']} "
              f"p50={r['p50_ms']:.1f} ms p99={r['p99_ms']:.1f} ms server CPU={r['cpu_s']:.2f} s "
              f"({100 * r['cpu_share']:.0f}% of a core)", flush=True)
    ref, ours = results["reference"], results["ours"]
    print(f"ratio ours/reference: p99 {ours['p99_ms'] / ref['p99_ms']:.2f}  p50 {ours['p50_ms'] / ref['p50_ms']:.2f}  "
          f"CPU {ours['cpu_s'] / max(ref['cpu_s'], 1e-9):.2f}")
    print(f"goal: p99 <= 250 ms ({'met' if ours['p99_ms'] <= 250 else 'NOT met'}), "
          f"ratio <= 1.5 ({'met' if ours['p99_ms'] / ref['p99_ms'] <= 1.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
