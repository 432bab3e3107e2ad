"""The room's real-time channel on one node: every open viewer WebSocket of a room.

Room events that every viewer on every node must see (comments, removals) travel over the
broker on ``room:<id>``; the hub subscribes once per room with local viewers and forwards
to them. Control events that each node carries out itself (a cut-off order) are delivered
with :meth:`RoomHub.send_local`, so they never depend on one node relaying to another.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
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


class Viewer(Protocol):
    """One connected socket, as the hub sees it.

    A viewer may also have ``moderator: bool`` and ``enqueue(text) -> None`` (a non-blocking
    send of an already encoded frame); the hub encodes each event once for all such viewers.
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


class RoomHub:
    """Viewers of each room on this node.

    Room-wide events are coalesced in big rooms: the first event after a quiet window goes out
    at once; events arriving within the window are sent together as one ``batch`` frame when
    it closes. The window grows with the room's local viewers (0 for a small room, up to
    ``batch_window`` seconds at ``full_batch_viewers``), because the cost of a room event is one
    frame per viewer: a busy big room then costs each viewer one frame per window instead of
    one per comment, for at most that window of added latency.
    """

    def __init__(self, broker: Broker, *, batch_window: float = 0.15, full_batch_viewers: int = 4000) -> None:
        self.broker = broker
        self.batch_window = batch_window
        self.full_batch_viewers = full_batch_viewers
        self._pending: dict[str, list[str]] = {}
        self._flush_at: dict[str, asyncio.TimerHandle] = {}
        self._last_flush: dict[str, float] = {}
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
            handle = self._flush_at.pop(room, None)
            if handle is not None:
                handle.cancel()
            self._pending.pop(room, None)
            self._last_flush.pop(room, None)
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
        """Encode once; addressed events go out now, room-wide ones through the batch window."""
        everyone = list(self._viewers.get(room, ()))
        viewers, body = _addressed(everyone, message)
        if not viewers:
            return 0
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        window = self.window_for(len(viewers))
        pending = self._pending.get(room)
        if body is not message or (window <= 0 and pending is None):
            return self._send_text(viewers, text)
        loop = asyncio.get_running_loop()
        now = loop.time()
        if pending is None and now - self._last_flush.get(room, -1e9) >= window:
            self._last_flush[room] = now
            return self._send_text(viewers, text)
        if pending is None:
            pending = self._pending[room] = []
            delay = max(0.0, window - (now - self._last_flush.get(room, now)))
            self._flush_at[room] = loop.call_later(delay, self._flush, room)
        pending.append(text)
        return len(viewers)

    def window_for(self, viewers: int) -> float:
        """The coalescing window of a room with this many local viewers."""
        if viewers < 50 or self.batch_window <= 0:
            return 0.0
        return self.batch_window * min(1.0, viewers / self.full_batch_viewers)

    def _flush(self, room: str) -> None:
        self._flush_at.pop(room, None)
        texts = self._pending.pop(room, None)
        if not texts:
            return
        self._last_flush[room] = asyncio.get_running_loop().time()
        self._send_text(list(self._viewers.get(room, ())), batch_frame(texts))

    def _send_text(self, viewers: list[Viewer], text: str) -> int:
        sent = 0
        for v in viewers:
            enqueue = getattr(v, "enqueue", None)
            if enqueue is None:
                task = asyncio.ensure_future(v.send_json(json.loads(text)))
                task.add_done_callback(_ignore_result)
                sent += 1
                continue
            try:
                enqueue(text)
                sent += 1
            except Exception:
                log.debug("viewer dropped a frame", exc_info=True)
        return sent

    async def stop(self) -> None:
        for handle in list(self._flush_at.values()):
            handle.cancel()
        self._flush_at.clear()
        self._pending.clear()
        for task in list(self._relays.values()):
            task.cancel()
        for task in list(self._relays.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._relays.clear()


def _ignore_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
