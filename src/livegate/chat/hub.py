"""The room's real-time channel on one node: every open viewer WebSocket of a room.

Room events that every viewer on every node must see (comments, removals) travel over the
broker on ``room:<id>``; the hub subscribes once per room with local viewers and forwards
to them. Control events that each node carries out itself (a cut-off order) are delivered
with :meth:`RoomHub.send_local`, so they never depend on one node relaying to another.

Fan-out is the hot path: a room event is encoded once, framed once (the WebSocket frame
bytes), and written to every viewer whose socket the gateway can write to directly (see
:class:`livegate.chat.gateway.SocketViewer`). Busy rooms coalesce events into ``batch``
frames so the cost per viewer stays near one write per flush, not one per comment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from livegate.core.broker import Broker

log = logging.getLogger(__name__)
PROTOCOL_VERSION = 1


def room_channel(room: str) -> str:
    return f"room.{room}"


#: Keys that address a room event and are stripped before it is sent: ``_to: "moderators"``
#: reaches only viewers who moderate the room, ``_to_account: N`` only that account's sockets.
_ROUTING_KEYS = ("_to", "_to_account")

#: A ``batch`` frame holds at most this many bytes of events; a larger flush becomes several
#: frames (written together), so no client's message size limit (1 MiB in ``websockets``) is hit.
MAX_BATCH_BYTES = 64 * 1024
#: Viewers written to in one go before the event loop gets to run other work: a flush to a
#: big room is spread over loop iterations, so the comments behind it keep moving meanwhile.
FLUSH_CHUNK = 64


class Viewer(Protocol):
    """One connected socket, as the hub sees it.

    A viewer may also have ``moderator: bool``, ``write_frame(frame: bytes) -> bool`` (write
    whole WebSocket frames built by :func:`text_frame` straight to its socket, without
    blocking; False if the socket is gone or was dropped) or else ``enqueue(text) -> None`` (a
    non-blocking send of an already encoded frame); the hub encodes and frames each event
    once for all such viewers.
    """

    account_id: int | None

    async def send_json(self, message: dict[str, Any]) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


def _addressed(viewers: list[Viewer], message: dict[str, Any]) -> tuple[list[Viewer], dict[str, Any]]:
    if "_to" not in message and "_to_account" not in message:
        return viewers, message
    to = message.get("_to")
    account = message.get("_to_account")
    body = {k: v for k, v in message.items() if k not in _ROUTING_KEYS}
    if to == "moderators":
        viewers = [v for v in viewers if getattr(v, "moderator", False)]
    if account is not None:
        viewers = [v for v in viewers if v.account_id == account]
    return viewers, body


def batch_frame(texts: list[str]) -> str:
    """Several encoded frames as one ``batch`` frame (docs/protocol.md), without re-encoding."""
    if len(texts) == 1:
        return texts[0]
    return '{"v":' + str(PROTOCOL_VERSION) + ',"type":"batch","events":[' + ",".join(texts) + "]}"


def batch_frames(texts: list[str], max_bytes: int = MAX_BATCH_BYTES) -> list[str]:
    """``texts`` as few ``batch`` frames as fit ``max_bytes`` each (a lone big event stays whole)."""
    out: list[str] = []
    group: list[str] = []
    size = 0
    for t in texts:
        if group and size + len(t) > max_bytes:
            out.append(batch_frame(group))
            group, size = [], 0
        group.append(t)
        size += len(t) + 1
    if group:
        out.append(batch_frame(group))
    return out


_HEADER_SHORT = struct.Struct("!BB")
_HEADER_MEDIUM = struct.Struct("!BBH")
_HEADER_LONG = struct.Struct("!BBQ")


def text_frame(text: str) -> bytes:
    """``text`` as one whole WebSocket text frame from a server (RFC 6455 §5.2): FIN set, RSV
    bits clear (never compressed, which a permessage-deflate session allows per message, RFC
    7692 §6), opcode 1, unmasked, the UTF-8 payload."""
    payload = text.encode("utf-8")
    n = len(payload)
    if n < 126:
        return _HEADER_SHORT.pack(0x81, n) + payload
    if n < 1 << 16:
        return _HEADER_MEDIUM.pack(0x81, 126, n) + payload
    return _HEADER_LONG.pack(0x81, 127, n) + payload


class _Room:
    """One room's flush state: the events waiting, the flush in progress, what a flush costs."""

    __slots__ = ("pending", "timer", "flushing", "last_start", "cost", "last_event", "gap")

    def __init__(self) -> None:
        self.pending: list[str] = []
        self.timer: asyncio.TimerHandle | None = None
        self.flushing = False
        self.last_start = -1e9
        self.cost = 0.0  # seconds one flush to the room takes, writing (moving average)
        self.last_event = -1e9
        self.gap = 1.0  # seconds between room events (moving average)


class RoomHub:
    """Viewers of each room on this node.

    A room event is encoded once and framed once; a flush writes everything waiting to every
    viewer of the room, one write per viewer (several ``batch`` frames if needed), spread over
    event loop iterations. Events arriving during a flush wait for the next one, so a busy
    room coalesces by itself. Beyond that, a room is only made to wait when fanning out every
    event as it comes would take more than ``fanout_share`` of the event loop (what a flush to
    the room costs is measured, times the room's event rate): the starts of its flushes are
    then spaced ``cost / fanout_share`` seconds apart, at most ``batch_window``. A small or
    quiet room gets every event at once; a big busy room one write per viewer per window, for
    at most that window of added latency.
    """

    def __init__(self, broker: Broker, *, batch_window: float = 0.1, fanout_share: float = 0.5) -> None:
        self.broker = broker
        self.batch_window = batch_window
        self.fanout_share = fanout_share
        self._state: dict[str, _Room] = {}
        self._viewers: dict[str, set[Viewer]] = defaultdict(set)
        self._relays: dict[str, asyncio.Task[None]] = {}
        self._relay_ready: dict[str, asyncio.Event] = {}
        self.on_count_change: Callable[[str, int], Awaitable[None]] | None = None

    def count(self, room: str) -> int:
        return len(self._viewers.get(room, ()))

    def rooms(self) -> list[str]:
        return [r for r, v in self._viewers.items() if v]

    def total(self) -> int:
        return sum(len(v) for v in self._viewers.values())

    async def join(self, room: str, viewer: Viewer) -> None:
        self._viewers[room].add(viewer)
        if room not in self._relays:
            ready = asyncio.Event()
            self._relay_ready[room] = ready
            self._relays[room] = asyncio.create_task(self._relay(room, ready), name=f"relay-{room}")
        await self._relay_ready[room].wait()
        if self.on_count_change:
            await self.on_count_change(room, self.count(room))

    async def leave(self, room: str, viewer: Viewer) -> None:
        viewers = self._viewers.get(room)
        if viewers is None:
            return
        viewers.discard(viewer)
        if not viewers:
            self._viewers.pop(room, None)
            state = self._state.pop(room, None)
            if state is not None and state.timer is not None:
                state.timer.cancel()
            task = self._relays.pop(room, None)
            self._relay_ready.pop(room, None)
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.on_count_change:
            await self.on_count_change(room, self.count(room))

    async def publish(self, room: str, message: dict[str, Any]) -> None:
        """Send to every viewer of the room on every node."""
        await self.broker.publish(room_channel(room), {"v": PROTOCOL_VERSION, **message})

    async def send_local(self, room: str, message: dict[str, Any]) -> int:
        """Send to this node's viewers of the room only; return how many got it."""
        return await self._deliver(room, {"v": PROTOCOL_VERSION, **message})

    async def close_room(self, room: str, code: int, reason: str) -> None:
        for v in list(self._viewers.get(room, ())):
            with contextlib.suppress(Exception):
                await v.close(code, reason)

    async def _relay(self, room: str, ready: asyncio.Event) -> None:
        try:
            async with self.broker.subscribe(room_channel(room)) as sub:
                ready.set()
                async for message in sub:
                    await self.send_local_raw(room, message)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("relay for room %s stopped", room)
        finally:
            ready.set()

    async def send_local_raw(self, room: str, message: dict[str, Any]) -> None:
        await self._deliver(room, message)

    async def _deliver(self, room: str, message: dict[str, Any]) -> int:
        """Encode once; addressed events go out now, room-wide ones through the room's flushes."""
        everyone = self._viewers.get(room)
        if not everyone:
            return 0
        viewers, body = _addressed(list(everyone), message)
        if not viewers:
            return 0
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        if body is not message:
            self._write(viewers, [text])
            return len(viewers)
        state = self._state.get(room)
        if state is None:
            state = self._state[room] = _Room()
        now = time.monotonic()
        state.gap = 0.8 * state.gap + 0.2 * min(1.0, now - state.last_event)
        state.last_event = now
        state.pending.append(text)
        if not state.flushing and state.timer is None:
            self._schedule(room, state, now)
        return len(viewers)

    def interval(self, room: str) -> float:
        """The least time between the starts of two flushes to the room now (0: at once)."""
        state = self._state.get(room)
        return self._interval(state) if state is not None else 0.0

    def _interval(self, state: _Room) -> float:
        if self.fanout_share <= 0 or state.cost <= self.fanout_share * state.gap:
            return 0.0
        return min(self.batch_window, state.cost / self.fanout_share)

    def _schedule(self, room: str, state: _Room, now: float) -> None:
        delay = state.last_start + self._interval(state) - now
        if delay <= 0:
            self._start_flush(room, state)
        else:
            state.timer = asyncio.get_running_loop().call_later(delay, self._start_flush, room, state)

    def _start_flush(self, room: str, state: _Room) -> None:
        state.timer = None
        if self._state.get(room) is not state or not state.pending:
            return
        texts, state.pending = state.pending, []
        viewers = list(self._viewers.get(room, ()))
        state.flushing = True
        state.last_start = time.monotonic()
        self._flush_chunk(room, state, viewers, batch_frames(texts), None, 0, 0.0)

    def _flush_chunk(self, room: str, state: _Room, viewers: list[Viewer], texts: list[str],
                     frame: bytes | None, start: int, spent: float) -> None:
        t0 = time.perf_counter()
        end = start + FLUSH_CHUNK
        frame = self._write(viewers[start:end], texts, frame)
        spent += time.perf_counter() - t0
        if end < len(viewers) and self._state.get(room) is state:
            # Let other threads have the GIL between chunks. uvloop writes (and polls) in C
            # without giving it up, so a thread that wants it back after each SQLite call (the
            # comments' group commit) otherwise waits a whole switch interval (5 ms) every
            # time: 50-100 ms per transaction during big flushes, and p99 fan-out latency
            # ~300 ms instead of ~210 (bench_fanout --server-loop uvloop). asyncio's send()
            # releases the GIL by itself; there this costs one cheap syscall per chunk.
            time.sleep(0)
            asyncio.get_running_loop().call_soon(self._flush_chunk, room, state, viewers, texts, frame, end, spent)
            return
        state.flushing = False
        state.cost = spent if state.cost == 0.0 else 0.7 * state.cost + 0.3 * spent
        if state.pending and self._state.get(room) is state:
            self._schedule(room, state, time.monotonic())

    def _write(self, viewers: list[Viewer], texts: list[str], frame: bytes | None = None) -> bytes | None:
        """Write ``texts`` (encoded frames, in order) to ``viewers``; return the WebSocket frame
        bytes, built on first need and once, so a flush spread over chunks frames them once."""
        for v in viewers:
            try:
                write = getattr(v, "write_frame", None)
                if write is not None:
                    if frame is None:
                        frame = b"".join(text_frame(t) for t in texts)
                    write(frame)
                    continue
                enqueue = getattr(v, "enqueue", None)
                if enqueue is None:
                    for t in texts:
                        task = asyncio.ensure_future(v.send_json(json.loads(t)))
                        task.add_done_callback(_ignore_result)
                    continue
                for t in texts:
                    enqueue(t)
            except Exception:  # one viewer's failure never stops the others' fan-out
                log.debug("viewer dropped a frame", exc_info=True)
        return frame

    async def stop(self) -> None:
        for state in list(self._state.values()):
            if state.timer is not None:
                state.timer.cancel()
        self._state.clear()
        for task in list(self._relays.values()):
            task.cancel()
        for task in list(self._relays.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._relays.clear()


def _ignore_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
