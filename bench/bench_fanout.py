"""Fan-out of comments to a room's viewers on one node: livegate against a bare broadcast.

* ours - the full platform served by uvicorn as ``livegate serve`` serves it (``ws="auto"``,
  and uvicorn's auto loop, which is uvloop): every comment runs the whole flow (gate, rate limits, lexicon, stored
  in SQLite before the ack) and is fanned out through the broker and the room hub, which
  frames it once and writes it straight to every viewer's socket (coalescing busy rooms);
* reference - a bare ``websockets`` server that ``broadcast()``s each frame it receives to
  every connection: no gate, no moderation, no storage, no coalescing.

Both servers run in a child process on the same event loop (``--server-loop``); its CPU time
is read from /proc. The viewers run in ``--client-procs`` child processes as lean raw-socket
clients, the same for both servers: most read what arrived twice a second without parsing it;
``--sample`` of them read continuously, parse every WebSocket frame (checking it is a
well-formed server frame) and record send-to-receive latency (each comment carries its send
time). The senders run in one more process. Prints, for each server, p50/p99 latency, server
CPU (and the clients' CPU, to show they are not the bottleneck), and then the ratios
ours/reference of p99, p50 and server CPU. The goal: ours p99 <= 250 ms, and p99 ratio <= 1.5
(no worse than 1.5 times the bare broadcast).

Run: ``.venv/bin/python bench/bench_fanout.py --viewers 5000 --rate 200 --seconds 10``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
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
def _serve_reference(port: int, ready: Any, loop: str) -> None:
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

    _run_loop(main(), loop)


def _serve_ours(port: int, data_dir: str, ready: Any, loop: str, hub: dict[str, float]) -> None:
    import logging

    import uvicorn

    from livegate.app import Platform, create_app
    from livegate.config import Settings

    logging.disable(logging.WARNING)
    settings = Settings(data_dir=Path(data_dir), http_port=port, rtmp_port=0, secret_key="bench-secret-" + "x" * 20,
                        policy_file=str(Path(data_dir) / "policy.yaml"), node_name="bench")
    platform = Platform(settings, start_rtmp=False)
    for name, value in hub.items():  # --batch-window, --fanout-share
        setattr(platform.media.hub, name, value)
    app = create_app(platform)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                           lifespan="on", ws="auto", backlog=8192, ws_max_size=64 * 1024,
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

    _run_loop(main(), loop)


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
# Every viewer is a raw asyncio protocol (the same for both servers), so thousands of viewers
# cost this side little: most of them read what arrived every READ_PERIOD seconds without
# parsing it (the kernel holds it meanwhile); a sample of them reads continuously, parses each
# WebSocket frame (checking it is a well-formed server frame) and records send-to-receive latency.
READ_PERIOD = 0.5
_TIMESTAMP = re.compile(r"^t=(\d+\.\d+) ")


def _flatten(msg: Any) -> list[Any]:
    if isinstance(msg, dict) and msg.get("type") == "batch":
        return [inner for ev in msg["events"] for inner in _flatten(ev)]
    return [msg]


class _Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.bytes = 0
        self.bad_frames = 0
        self.closed_early = 0


class _Viewer(asyncio.Protocol):
    """One viewer: the upgrade, then either periodic unparsed reads or (sampled) every frame parsed."""

    def __init__(self, upgraded: asyncio.Future[None], stats: _Stats, sampled: bool, seen: Any) -> None:
        self.upgraded = upgraded
        self.stats = stats
        self.sampled = sampled
        self.seen = seen
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.running = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport

    def data_received(self, data: bytes) -> None:
        if not self.upgraded.done():
            self.buf += data
            head, sep, rest = bytes(self.buf).partition(b"\r\n\r\n")
            if not sep:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.upgraded.set_exception(OSError(head.split(b"\r\n", 1)[0].decode()))
                return
            self.buf = bytearray(rest)
            self.upgraded.set_result(None)
            self.running = True
            data = b""
        self.stats.bytes += len(data)
        if not self.sampled:
            assert self.transport is not None
            self.transport.pause_reading()  # resumed by the process's reading round
            return
        self.buf += data
        self._parse(time.time())

    def _parse(self, now: float) -> None:
        buf = self.buf
        got = 0
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            n, at = b1 & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, at = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, at = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < at + n:
                break
            payload = bytes(buf[at:at + n])
            del buf[:at + n]
            if b1 & 0x80 or b0 & 0x70 or not b0 & 0x80 or (b0 & 0x0F) not in (1, 2, 8, 9, 10):
                self.stats.bad_frames += 1  # masked, RSV bits, fragmented or unknown opcode
                continue
            if b0 & 0x0F != 1:
                continue
            try:
                events = _flatten(json.loads(payload))
            except ValueError:
                self.stats.bad_frames += 1
                continue
            for ev in events:
                m = _TIMESTAMP.match(ev.get("text", "")) if isinstance(ev, dict) else None
                if m:
                    self.stats.latencies.append(now - float(m.group(1)))
                    got += 1
        if got:
            with self.seen.get_lock():
                self.seen.value += got

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(OSError("closed during the handshake"))
        elif self.running:
            self.stats.closed_early += 1
        self.running = False


async def _open_viewer(url: str, stats: _Stats, sampled: bool, seen: Any) -> _Viewer | None:
    import base64
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    for _attempt in range(20):
        upgraded: asyncio.Future[None] = loop.create_future()
        try:
            transport, proto = await loop.create_connection(lambda: _Viewer(upgraded, stats, sampled, seen),
                                                            parts.hostname, parts.port)
            key = base64.b64encode(os.urandom(16)).decode()
            transport.write((f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                             f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                             ).encode())
            await asyncio.wait_for(upgraded, 120)
            return proto
        except (OSError, TimeoutError):
            await asyncio.sleep(0.2)
    return None


def _viewer_proc(url: str, n: int, sample: int, stop: Any, out: Any, ready: Any, seen: Any) -> None:
    async def main() -> dict[str, Any]:
        stats = _Stats()
        viewers: list[_Viewer] = []
        for start in range(0, n, 100):
            batch = await asyncio.gather(*(_open_viewer(url, stats, i < sample, seen)
                                           for i in range(start, min(n, start + 100))))
            viewers.extend(v for v in batch if v is not None)
        ready.put(len(viewers))
        unsampled = [v for v in viewers if not v.sampled]
        stopping = asyncio.ensure_future(asyncio.to_thread(stop.wait))
        rounds = 10  # each READ_PERIOD, resume reading on every viewer, spread over the period
        k = 0
        while not stopping.done():
            for v in unsampled[k % rounds::rounds]:
                if v.running and v.transport is not None and not v.transport.is_closing():
                    v.transport.resume_reading()
            k += 1
            await asyncio.wait([stopping], timeout=READ_PERIOD / rounds)
        for v in viewers:
            v.running = False
            if v.transport is not None:
                v.transport.close()
        return {"latencies": stats.latencies, "bytes": stats.bytes, "bad_frames": stats.bad_frames,
                "closed_early": stats.closed_early}

    out.put(_run_loop(main()))


def _run_loop(coro: Any, loop: str = "uvloop") -> Any:
    """Run ``coro`` on asyncio's own loop, or on uvloop where installed."""
    if loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run(coro)
    return asyncio.run(coro)


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
    out.put(_run_loop(_send(url, cookies, rate, duration, start_at)))


def run(kind: str, viewers: int, rate: float, seconds: float, procs: int, sample: int, senders: int,
        drain: float, loop: str, hub: dict[str, float]) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    port = _free_port()
    ready = ctx.Event()
    tmp = tempfile.mkdtemp(prefix="bench-fanout-")
    cookies: list[str] = []
    if kind == "ours":
        room, cookies = _prepare_ours(Path(tmp), senders)
        url = f"ws://127.0.0.1:{port}/ws/rooms/{room}"
        server = ctx.Process(target=_serve_ours, args=(port, tmp, ready, loop, hub), daemon=True)
    else:
        url = f"ws://127.0.0.1:{port}/"
        server = ctx.Process(target=_serve_reference, args=(port, ready, loop), daemon=True)
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
    client_pids = [c.pid for c in clients if c.pid is not None] + ([sending.pid] if sending.pid else [])
    cpu0, ccpu0 = _cpu_seconds(server.pid), sum(_cpu_seconds(p) for p in client_pids)
    wall0 = time.monotonic()
    time.sleep(seconds)
    cpu1, ccpu1 = _cpu_seconds(server.pid), sum(_cpu_seconds(p) for p in client_pids)
    wall = time.monotonic() - wall0
    sent = int(sent_q.get(timeout=120))
    sending.join(10)
    # Let the sampled viewers drain what is still queued for them (so a slow server's
    # backlog counts in its latency), up to --drain seconds.
    expected = sent * min(sample, viewers)
    deadline = time.monotonic() + drain
    while seen.value < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    lat: list[float] = []
    got: dict[str, int] = {"bytes": 0, "bad_frames": 0, "closed_early": 0}
    for _ in clients:
        r = out.get(timeout=120)
        lat.extend(r.pop("latencies"))
        for k in got:
            got[k] += r[k]
    for c in clients:
        c.join(10)
    server.terminate()
    server.join(10)
    lat.sort()
    return {"kind": kind, "viewers": connected, "sent": sent, "received_sampled": len(lat), "expected": expected,
            "p50_ms": 1000 * statistics.median(lat) if lat else float("nan"),
            "p99_ms": 1000 * lat[max(0, int(len(lat) * 0.99) - 1)] if lat else float("nan"),
            "cpu_s": cpu1 - cpu0, "wall_s": wall, "cpu_share": (cpu1 - cpu0) / wall,
            "client_cpu_s": ccpu1 - ccpu0, "mb_in": got["bytes"] / 1e6, "bad_frames": got["bad_frames"],
            "closed_early": got["closed_early"]}


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
    ap.add_argument("--only", choices=("both", "ours", "reference"), default="both")
    ap.add_argument("--server-loop", choices=("asyncio", "uvloop"), default="uvloop",
                    help="both servers' event loop (uvloop: as `livegate serve` runs)")
    ap.add_argument("--batch-window", type=float, help="ours: the room hub's longest coalescing window (s)")
    ap.add_argument("--fanout-share", type=float, help="ours: the share of the event loop fan-out may take")
    args = ap.parse_args()
    hub = {k: v for k, v in (("batch_window", args.batch_window), ("fanout_share", args.fanout_share))
           if v is not None}
    if args.senders <= 0:
        args.senders = max(1, -(-int(args.rate) // 8))
    kinds = ("reference", "ours") if args.only == "both" else (args.only,)
    results = {}
    for kind in kinds:
        r = run(kind, args.viewers, args.rate, args.seconds, args.client_procs, args.sample, args.senders,
                args.drain, args.server_loop, hub)
        results[kind] = r
        print(f"{kind:9s} viewers={r['viewers']} sent={r['sent']} sampled={r['received_sampled']}/{r['expected']} "
              f"p50={r['p50_ms']:.1f} ms p99={r['p99_ms']:.1f} ms server CPU={r['cpu_s']:.2f} s "
              f"({100 * r['cpu_share']:.0f}% of a core) clients CPU={r['client_cpu_s']:.2f} s "
              f"in={r['mb_in']:.0f} MB bad frames={r['bad_frames']} closed by server={r['closed_early']}",
              flush=True)
        if r["received_sampled"] < r["expected"]:
            print(f"  only {100 * r['received_sampled'] / max(1, r['expected']):.0f}% of the sampled frames arrived "
                  f"within --drain: its latencies are a lower bound", flush=True)
    if len(results) < 2:
        return
    ref, ours = results["reference"], results["ours"]
    p99_ratio = ours["p99_ms"] / ref["p99_ms"]
    print(f"ratio ours/reference: p99 {p99_ratio:.2f}  p50 {ours['p50_ms'] / ref['p50_ms']:.2f}  "
          f"CPU {ours['cpu_s'] / max(ref['cpu_s'], 1e-9):.2f}")
    print(f"goal: p99 <= 250 ms ({'met' if ours['p99_ms'] <= 250 else 'NOT met'}), "
          f"p99 ratio <= 1.5 ({'met' if p99_ratio <= 1.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
