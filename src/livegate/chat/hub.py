"""The room's real-time channel on one node: every open viewer WebSocket of a room.

Room events that every viewer on every node must see (comments, removals) travel over the
broker on ``room:<id>``; the hub subscribes once per room with local viewers and forwards
to them. Control events that each node carries out itself (a cut-off order) are delivered
with :meth:`RoomHub.send_local`, so they never depend on one node relaying to another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from livegate.core.broker import Broker

log = logging.getLogger(__name__)
PROTOCOL_VERSION = 1


def room_channel(room: str) -> str:
    return f"room.{room}"


class Viewer(Protocol):
    """One connected socket, as the hub sees it."""

    account_id: int | None

    async def send_json(self, message: dict[str, Any]) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class RoomHub:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
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
        msg = {"v": PROTOCOL_VERSION, **message}
        viewers = list(self._viewers.get(room, ()))
        results = await asyncio.gather(*(v.send_json(msg) for v in viewers), return_exceptions=True)
        return sum(1 for r in results if not isinstance(r, BaseException))

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
        viewers = list(self._viewers.get(room, ()))
        await asyncio.gather(*(v.send_json(message) for v in viewers), return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self._relays.values()):
            task.cancel()
        for task in list(self._relays.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._relays.clear()
