"""The room WebSocket adapter: moves frames between a socket, :class:`ClientConnection` (the
protocol state machine) and the chat service. No protocol decisions are made here.

Fanning a comment out to thousands of viewers must never wait on any one of them, and must
cost as little as possible per viewer. Under uvicorn (its ``websockets-sansio`` and
``websockets`` protocols), once the handshake is done every frame the server sends on the
connection — the hello, answers, room events — is written as whole, ready-made WebSocket
frame bytes straight to the connection's transport (:class:`DirectSocket`): no task, queue or
await per viewer, and a room event is framed once for all viewers. A viewer whose unsent
bytes pass :data:`MAX_BUFFERED_BYTES` is too slow to follow the room: it gets a ``too_slow``
error and is closed (4408), so it never slows the room. Only the closing handshake (and the
library's own pings and pongs, whole frames too) goes through the library; nothing is written
directly once the connection has left the OPEN state, so no data frame follows a close frame.

Elsewhere (another server, the test client) each socket has a writer task fed by a bounded
queue: a viewer that falls behind loses its oldest room events (counted), never an answer to
its own requests; waiting frames are sent as one ``batch`` frame.
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

from livegate.chat.hub import batch_frame, text_frame
from livegate.chat.protocol import (
    CLOSE_TOO_SLOW,
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
#: Room events a viewer may have queued before the oldest are dropped (queued path).
MAX_QUEUED_EVENTS = 2000
#: Frames joined into one ``batch`` frame at most (queued path).
MAX_BATCH = 100
#: Bytes a directly written socket may have waiting in its transport (beyond what the kernel
#: holds) before the viewer is dropped as too slow.
MAX_BUFFERED_BYTES = 512 * 1024
#: How long a too-slow viewer's closing handshake may take before its connection is aborted.
SLOW_CLOSE_GRACE = 5.0


class DirectSocket:
    """The transport under a uvicorn WebSocket connection, for writing whole frames to it.

    Found by unwrapping the ASGI ``send`` that Starlette holds (Starlette's own wrappers keep
    uvicorn's in a closure variable named ``send``) down to a bound method of one of the
    uvicorn protocols it is known to work with; anything else gives None (use the queue).
    """

    __slots__ = ("transport", "_conn", "_open")

    def __init__(self, transport: asyncio.Transport, conn: Any, open_state: Any) -> None:
        self.transport = transport
        self._conn = conn  # the object whose ``state`` says whether the connection is OPEN
        self._open = open_state

    def is_open(self) -> bool:
        return self._conn.state is self._open and not self.transport.is_closing()

    @classmethod
    async def attach(cls, ws: WebSocket) -> DirectSocket | None:
        """After ``ws.accept()``: the connection's transport, once the handshake response is
        written, if the server is a supported uvicorn protocol; otherwise None."""
        try:
            return await cls._attach(ws)
        except Exception:  # an unexpected shape of a library's internals: use the queue
            return None

    @classmethod
    async def _attach(cls, ws: WebSocket) -> DirectSocket | None:
        owner = _asgi_send_owner(getattr(ws, "_send", None))
        if owner is None:
            return None
        from websockets.extensions.permessage_deflate import PerMessageDeflate
        from websockets.protocol import State

        kind = type(owner).__module__ + "." + type(owner).__qualname__
        if kind == "uvicorn.protocols.websockets.websockets_sansio_impl.WebSocketsSansIOProtocol":
            if not owner.handshake_complete or owner.close_sent:
                return None
            conn, extensions = owner.conn, owner.conn.extensions
        elif kind == "uvicorn.protocols.websockets.websockets_impl.WebSocketProtocol":
            # accept() only lets the library's handshake go on: wait until it wrote the response
            await asyncio.wait_for(owner.handshake_completed_event.wait(), 10.0)
            conn, extensions = owner, owner.extensions
        else:
            return None
        # An uncompressed frame is valid in a permessage-deflate session (RSV1 clear, RFC 7692
        # §6) and leaves the compression context alone; any other extension: use the queue.
        if any(not isinstance(e, PerMessageDeflate) for e in extensions):
            return None
        transport = owner.transport
        needed = ("write", "is_closing", "get_write_buffer_size", "abort")
        if not all(callable(getattr(transport, name, None)) for name in needed):
            return None
        sock = cls(transport, conn, State.OPEN)
        return sock if sock.is_open() else None


def _asgi_send_owner(send: Any) -> Any:
    for _ in range(8):
        owner = getattr(send, "__self__", None)
        if owner is not None:
            return owner if getattr(send, "__name__", "") in ("send", "asgi_send") else None
        code, closure = getattr(send, "__code__", None), getattr(send, "__closure__", None)
        if code is None or not closure or "send" not in code.co_freevars:
            return None
        send = closure[code.co_freevars.index("send")].cell_contents
    return None


class SocketViewer:
    """One viewer's socket as the hub sees it: ``write_frame`` (direct) or ``enqueue`` + writer task."""

    def __init__(self, ws: WebSocket, account_id: int | None, *, moderator: bool = False,
                 max_queue: int = MAX_QUEUED_EVENTS, direct: DirectSocket | None = None,
                 max_buffered: int | None = None) -> None:
        self.ws = ws
        self.account_id = account_id
        self.moderator = moderator
        self.max_queue = max_queue
        self.max_buffered = MAX_BUFFERED_BYTES if max_buffered is None else max_buffered
        self.dropped = 0
        self.too_slow = False
        self._events: deque[str] = deque()
        self._replies: deque[str] = deque()  # answers to this client: never dropped
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._closed = False
        self._slow_close: asyncio.Task[None] | None = None
        self.direct = direct
        if direct is not None:
            self.write_frame = self._write_direct  # the hub writes frames; there is no queue

    # The direct path -------------------------------------------------------------------------
    def _write_direct(self, frame: bytes) -> bool:
        """Write whole frames now; False (and nothing written) if the socket is gone or too slow."""
        if self._closed:
            return False
        d = self.direct
        assert d is not None
        if not d.is_open():
            self._closed = True
            return False
        if d.transport.get_write_buffer_size() > self.max_buffered:
            self._drop_too_slow()
            return False
        d.transport.write(frame)
        return True

    def _drop_too_slow(self) -> None:
        self._closed = True
        self.too_slow = True
        d = self.direct
        assert d is not None
        d.transport.write(text_frame(encode({"type": "error", "code": "too_slow",
                                             "message": "this connection fell too far behind the room; reconnect"})))
        self._slow_close = asyncio.ensure_future(self._close_slow(d))

    async def _close_slow(self, d: DirectSocket) -> None:
        try:
            await asyncio.wait_for(self.ws.close(CLOSE_TOO_SLOW, "too slow"), SLOW_CLOSE_GRACE)
        except Exception:  # includes the grace running out: a viewer that reads nothing
            d.transport.abort()

    # Both paths ------------------------------------------------------------------------------
    def enqueue(self, text: str) -> None:
        if self.direct is not None:
            self._write_direct(text_frame(text))
            return
        if self._closed:
            return
        if len(self._events) >= self.max_queue:
            self._events.popleft()
            self.dropped += 1
        self._events.append(text)
        self._drained.clear()
        self._wake.set()

    def reply(self, message: dict[str, Any]) -> None:
        if self.direct is not None:
            self._write_direct(text_frame(encode(message)))
        elif not self._closed:
            self._replies.append(encode(message))
            self._drained.clear()
            self._wake.set()

    async def send_json(self, message: dict[str, Any]) -> None:
        self.enqueue(encode({k: v for k, v in message.items() if k != "v"}))

    async def close(self, code: int, reason: str) -> None:
        if self.direct is None:
            await self.flush(2.0)
        elif self._slow_close is not None:
            return
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
        """The queued path's writer (the direct path has none)."""
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
    direct = await DirectSocket.attach(ws)
    viewer = SocketViewer(ws, principal.account_id if principal else None, moderator=moderator, direct=direct)
    writer = asyncio.create_task(viewer.run_writer(), name=f"ws-writer-{room_id}") if direct is None else None
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
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
        if viewer._slow_close is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await viewer._slow_close
