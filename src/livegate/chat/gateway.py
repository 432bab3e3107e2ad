"""The room WebSocket adapter: moves frames between a socket, :class:`ClientConnection` (the
protocol state machine) and the chat service. No protocol decisions are made here.

Each socket has a writer task fed by a bounded queue, so fanning a comment out to thousands
of viewers never waits on any one of them: room events are encoded once by the hub and
queued; a viewer that falls behind loses its oldest room events (counted), never an answer
to its own requests. When several frames are waiting, the writer sends them as one
``batch`` frame, which keeps a busy room's cost per viewer near one frame per wake-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import WebSocket, WebSocketDisconnect

from livegate.chat.hub import batch_frame
from livegate.chat.protocol import (
    COLORS,
    POSITIONS,
    PROTOCOL_VERSION,
    ClientConnection,
    CloseConnection,
    CommentRequest,
    Ping,
    ProtocolError,
    encode,
)
from livegate.chat.service import RoomModes, Sender
from livegate.identity.accounts import Principal
from livegate.media.models import Room
from livegate.web.deps import SESSION_COOKIE

if TYPE_CHECKING:
    from livegate.app import Platform

ROOM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
#: Room events a viewer may have queued before the oldest are dropped.
MAX_QUEUED_EVENTS = 2000
#: Frames joined into one ``batch`` frame at most.
MAX_BATCH = 100


class SocketViewer:
    """One viewer's socket as the hub sees it: a non-blocking ``enqueue`` and a writer task."""

    def __init__(self, ws: WebSocket, account_id: int | None, *, moderator: bool = False,
                 max_queue: int = MAX_QUEUED_EVENTS) -> None:
        self.ws = ws
        self.account_id = account_id
        self.moderator = moderator
        self.max_queue = max_queue
        self.dropped = 0
        self._events: deque[str] = deque()
        self._replies: deque[str] = deque()  # answers to this client: never dropped
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._closed = False

    def enqueue(self, text: str) -> None:
        if self._closed:
            return
        if len(self._events) >= self.max_queue:
            self._events.popleft()
            self.dropped += 1
        self._events.append(text)
        self._drained.clear()
        self._wake.set()

    def reply(self, message: dict[str, Any]) -> None:
        if not self._closed:
            self._replies.append(encode(message))
            self._drained.clear()
            self._wake.set()

    async def send_json(self, message: dict[str, Any]) -> None:
        self.enqueue(encode({k: v for k, v in message.items() if k != "v"}))

    async def close(self, code: int, reason: str) -> None:
        await self.flush(2.0)
        self._closed = True
        with contextlib.suppress(Exception):
            await self.ws.close(code, reason)

    async def flush(self, timeout: float) -> None:  # noqa: ASYNC109
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), timeout)

    def _next_frame(self) -> str | None:
        if self._replies:
            return self._replies.popleft()
        if not self._events:
            return None
        if len(self._events) == 1:
            return self._events.popleft()
        n = min(len(self._events), MAX_BATCH)
        return batch_frame([self._events.popleft() for _ in range(n)])

    async def run_writer(self) -> None:
        try:
            while not self._closed:
                await self._wake.wait()
                self._wake.clear()
                while (frame := self._next_frame()) is not None:
                    await self.ws.send_text(frame)
                self._drained.set()
        except (WebSocketDisconnect, RuntimeError, OSError):
            self._closed = True
        except Exception:
            self._closed = True
        finally:
            self._drained.set()


@dataclass(frozen=True)
class _Opening:
    blocked: bool
    viewers: int
    principal: Principal | None
    refusal: dict[str, Any] | None
    modes: RoomModes
    recent: list[dict[str, Any]]
    max_length: int
    audience_cap: int | None = None


def _open(p: Platform, room_id: str, cookie: str | None, bearer: str | None) -> _Opening | None:
    with p.db.session() as s:
        room = s.get(Room, room_id)
        if room is None:
            return None
        principal: Principal | None = None
        if bearer:
            principal = p.accounts.resolve_api_token(s, bearer)
        elif cookie:
            principal = p.accounts.resolve_session(s, cookie)
        adm = p.chat._admission(s, room, Sender(principal))
        refusal = None
        if adm.refusal is not None:
            refusal = {"code": adm.refusal.rule, "article": adm.refusal.article, "message": adm.refusal.message}
        enforcement = getattr(p, "enforcement", None)  # the owner's credit level caps the audience (Art. 15)
        cap = enforcement.audience_cap(s, room.owner_id) if enforcement is not None else None
        return _Opening(room.blocked, room.viewers, principal, refusal, adm.modes,
                        p.chat.recent(s, room_id, 30), p.policy.get().comments.max_length, cap)


async def serve_room_socket(ws: WebSocket, room_id: str) -> None:
    """The whole life of one viewer's connection to a room."""
    p: Platform = ws.app.state.platform
    if not ROOM_ID.match(room_id):
        await ws.close(4404, "no such room")
        return
    await p.chat.start()
    auth = ws.headers.get("authorization", "")
    bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    opening = await asyncio.to_thread(_open, p, room_id, ws.cookies.get(SESSION_COOKIE), bearer)
    if opening is None:
        await ws.close(4404, "no such room")
        return
    principal = opening.principal
    moderator = p.chat.is_moderator(principal, room_id)
    if opening.audience_cap is not None and opening.viewers >= opening.audience_cap and not moderator:
        await ws.close(4429, "this room has reached the audience its publisher's credit level allows")
        return
    await ws.accept()
    viewer = SocketViewer(ws, principal.account_id if principal else None, moderator=moderator)
    writer = asyncio.create_task(viewer.run_writer(), name=f"ws-writer-{room_id}")
    viewer.reply({"type": "hello", "room": room_id, "protocol": PROTOCOL_VERSION, "viewers": opening.viewers,
                  "you": {"account": principal.account_id if principal else None,
                          "nickname": principal.nickname if principal else None,
                          "moderator": viewer.moderator, "can_comment": opening.refusal is None,
                          "refusal": opening.refusal},
                  "modes": opening.modes.to_json(),
                  "limits": {"max_length": opening.max_length, "colors": list(COLORS), "positions": list(POSITIONS)},
                  "recent": opening.recent})
    if opening.blocked:
        viewer.reply({"type": "cutoff", "room": room_id, "reason": ""})
    hub = p.chat.hub
    await hub.join(room_id, viewer)
    p.metrics.ws_connections.inc()
    conn = ClientConnection()
    sender = Sender(principal, ws.client.host if ws.client else "", ws.headers.get("user-agent", "")[:255])
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            frame: str | bytes = message["text"] if message.get("text") is not None else (message.get("bytes") or b"")
            event = conn.receive(frame, time.monotonic())
            if isinstance(event, CommentRequest):
                result = await p.chat.post_comment(room_id, sender, event.text, ref=event.ref,
                                                   position=event.position, color=event.color)
                viewer.reply(result.frame())
            elif isinstance(event, Ping):
                viewer.reply({"type": "pong", "ref": event.ref} if event.ref else {"type": "pong"})
            elif isinstance(event, ProtocolError):
                viewer.reply({k: v for k, v in event.frame().items() if k != "v"})
            elif isinstance(event, CloseConnection):
                viewer.reply({k: v for k, v in event.error.frame().items() if k != "v"})
                await viewer.close(event.code, event.reason)
                break
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        p.metrics.ws_connections.dec()
        with contextlib.suppress(Exception):
            await hub.leave(room_id, viewer)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer
