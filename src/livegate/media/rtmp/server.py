"""The asyncio adapter around :class:`~livegate.media.rtmp.session.ServerConnection`.

It only moves bytes and timers: one protocol object per TCP connection is handed what
arrives, feeds the state machine with the clock's time, writes what it queued, and turns
its events into calls on
the :class:`~livegate.media.types.PublishHandler` and the accepted stream's
:class:`~livegate.media.types.StreamSink`. Awaiting the handler pauses reading from that
one connection, which is the backpressure we want while a publish is being decided.

It also holds the one piece of cross-connection state: which stream keys are live (or
being decided), so that a key has one publisher at a time and a cut-off order can find
its connection. Stream keys are secrets; logs name them by :func:`key_tag` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
from collections.abc import Callable, Collection
from typing import Any, cast

from livegate.core.clock import Clock, SystemClock
from livegate.media.rtmp.events import (
    ConnectionFailed,
    ConnectRejected,
    Event,
    MediaReceived,
    MetadataReceived,
    PeerClosed,
    PlayRefused,
    PublishRequested,
    UnpublishRequested,
)
from livegate.media.rtmp.limits import RtmpLimits
from livegate.media.rtmp.session import DEFAULT_APPS, ServerConnection
from livegate.media.rtmp.state import LIVE_STATES, ConnState
from livegate.media.types import PublishDecision, PublishHandler, PublishRequest, StreamSink

log = logging.getLogger("livegate.media.rtmp")

CLOSE_GRACE = 2.0
"""Seconds a hung-up connection may take to flush its last words before it is reset."""

REASON_UNPUBLISHED = "unpublished"
REASON_DISCONNECTED = "disconnected"
REASON_SERVER_STOPPED = "server stopped"
REASON_KEY_IN_USE = "This stream key is already live; stop the other publisher first."
REASON_EMPTY_KEY = "The stream key is empty."
REASON_HANDLER_FAILED = "The server could not decide on this publish; try again later."


def key_tag(stream_key: str) -> str:
    """A stable, non-reversible name for a stream key, safe for logs."""
    return "key#" + hashlib.sha256(stream_key.encode("utf-8", "surrogatepass")).hexdigest()[:10]


class _ReadPacer:
    """Fewer, larger reads for a live publisher: the socket's low-water mark (SO_RCVLOWAT) is set
    to ~``WAKE_SECONDS`` of the stream's measured rate, so a 2.5 Mbit/s stream wakes the event
    loop ~5 times a second instead of ~100 (each read costs tens of µs of asyncio machinery;
    the 0.2 s it may add before a segment closes is small beside 1 s segments).
    A slow (audio-only) stream gets a low mark, so no data waits longer than that either; at
    the end of the stream the peer's FIN wakes the reader whatever the mark. Linux honours the
    option for TCP; elsewhere this does nothing."""

    WAKE_SECONDS = 0.2
    MAX_LOWAT = 256 * 1024

    def __init__(self, sock: Any, clock: Clock) -> None:
        self._sock = sock
        self._clock = clock
        self._bytes = 0
        self._since = clock.monotonic()
        self._lowat = 1
        self._enabled = self._sock is not None and hasattr(socket, "SO_RCVLOWAT")

    def received(self, n: int) -> None:
        if not self._enabled:
            return
        self._bytes += n
        now = self._clock.monotonic()
        elapsed = now - self._since
        if elapsed < 1.0:
            return
        lowat = max(1, min(self.MAX_LOWAT, int(self._bytes / elapsed * self.WAKE_SECONDS)))
        self._bytes, self._since = 0, now
        if abs(lowat - self._lowat) * 4 < self._lowat:  # within 25%: leave it
            return
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, lowat)
            self._lowat = lowat
        except Exception:  # noqa: BLE001 - an optimisation only: a socket (or uvloop's stand-in) that
            self._enabled = False  # refuses it, or is closing, just reads as before


class _Session(asyncio.Protocol):
    """One TCP connection: feeds the state machine what arrives and carries out its events.

    A protocol, not a reader coroutine: bytes are handed over by the transport's read callback
    (no future, task step or timeout context per read), and the state machine's timer is one
    loop timer re-armed only when its deadline moves earlier (a deadline that moved later is
    found when the timer fires early, which is harmless). While a publish is being decided,
    reading from this one connection is paused.
    """

    def __init__(self, server: RtmpServer) -> None:
        self.server = server
        self.conn: ServerConnection | None = None
        self.transport: asyncio.Transport | None = None
        self.peer = "-"
        self.stream_key: str | None = None
        self.sink: StreamSink | None = None
        self.ended = False
        self.cut_reason: str | None = None
        self.end_reason = REASON_DISCONNECTED
        self.deciding: asyncio.Task[None] | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pacer: _ReadPacer | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._stall: asyncio.TimerHandle | None = None
        self._abort_later: asyncio.TimerHandle | None = None
        self._finished = False

    # -- transport callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio subclasses
        transport = self.transport
        server = self.server
        if len(server._sessions) >= server.limits.max_connections:
            log.warning("RTMP connection limit (%d) reached; refusing one", server.limits.max_connections)
            self._finished = True
            self.done.set_result(None)
            transport.abort()
            return
        peername = transport.get_extra_info("peername")
        self.peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername)
        clock = server._clock
        self.conn = ServerConnection(clock.monotonic(), server.limits, apps=server._apps,
                                     random_bytes=server._random_bytes)
        self._pacer = _ReadPacer(transport.get_extra_info("socket"), clock)
        server._sessions.add(self)
        self._arm()

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        if self._finished or conn is None or conn.state not in LIVE_STATES:
            return  # hanging up: what the peer says no longer matters
        try:
            events = conn.receive_data(data, self.server._clock.monotonic())
            if self.sink is not None and self._pacer is not None:
                self._pacer.received(len(data))
            self._handle(events)
        except Exception:
            log.exception("RTMP connection from %s failed unexpectedly", self.peer)
            self._drop()

    def eof_received(self) -> bool:
        self._peer_closed()
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            log.debug("RTMP connection from %s dropped: %s", self.peer, type(exc).__name__)
        self._peer_closed()
        if self._abort_later is not None:
            self._abort_later.cancel()
        self._finish()

    def pause_writing(self) -> None:
        # The peer stopped reading what we send (acknowledgements, pings, statuses): give
        # it the idle timeout to catch up, then drop it.
        if self._stall is None:
            self._stall = asyncio.get_running_loop().call_later(self.server.limits.idle_timeout, self._drop)

    def resume_writing(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    # -- the state machine's events ----------------------------------------------------------

    def _peer_closed(self) -> None:
        conn = self.conn
        if self._finished or conn is None or conn.state not in LIVE_STATES:
            return
        try:
            self._handle(conn.receive_data(b"", self.server._clock.monotonic()))
        except Exception:
            log.exception("RTMP connection from %s failed unexpectedly", self.peer)
            self._drop()

    def _handle(self, events: list[Event]) -> None:
        server = self.server
        for i, event in enumerate(events):
            if isinstance(event, MediaReceived):
                if self.sink is not None and not self.ended:
                    try:
                        self.sink.on_media(event.message)
                    except Exception:
                        server._sink_failed(self)
            elif isinstance(event, MetadataReceived):
                if self.sink is not None and not self.ended:
                    try:
                        self.sink.on_metadata(event.metadata)
                    except Exception:
                        server._sink_failed(self)
            elif isinstance(event, PublishRequested):
                # The decision may take a database round trip: stop reading this connection
                # until it is made, then carry on with what followed the request.
                assert self.transport is not None
                self.transport.pause_reading()
                self._flush()
                self.deciding = asyncio.get_running_loop().create_task(self._decide(event, events[i + 1 :]))
                return
            elif isinstance(event, UnpublishRequested):
                server._end(self, REASON_UNPUBLISHED)
                server._release_key(self)
            elif isinstance(event, ConnectionFailed):
                error = event.error
                self.end_reason = f"protocol error: {error.code}"
                log.warning("RTMP connection from %s failed: %s (%s)", self.peer, error.code, error.message)
            elif isinstance(event, PeerClosed):
                self.end_reason = REASON_DISCONNECTED
            elif isinstance(event, ConnectRejected | PlayRefused):
                log.info("RTMP connection from %s refused: %s", self.peer, type(event).__name__)
        self._settle()

    async def _decide(self, event: PublishRequested, rest: list[Event]) -> None:
        try:
            await self.server._decide(self, event)
        except Exception:
            log.exception("RTMP publish decision for %s failed", self.peer)
            self._drop()
            return
        finally:
            self.deciding = None
        if self._finished:
            return
        try:
            self._handle(rest)
        except Exception:
            log.exception("RTMP connection from %s failed unexpectedly", self.peer)
            self._drop()
            return
        conn, transport = self.conn, self.transport
        if not self._finished and conn is not None and transport is not None and conn.state in LIVE_STATES:
            transport.resume_reading()

    def _settle(self) -> None:
        """After events: send what the state machine queued; hang up if it is done."""
        self._flush()
        conn = self.conn
        assert conn is not None
        if conn.state not in LIVE_STATES:
            self._hang_up()
        else:
            self._arm()

    # -- timers and output ---------------------------------------------------------------------

    def _arm(self) -> None:
        conn = self.conn
        deadline = conn.get_timer() if conn is not None else None
        if deadline is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        if self._timer is not None and self._timer_at <= deadline:
            return  # fires at or before the deadline; _on_timer re-arms
        if self._timer is not None:
            self._timer.cancel()
        delay = max(0.0, deadline - self.server._clock.monotonic())
        self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)
        self._timer_at = deadline

    def _on_timer(self) -> None:
        self._timer = None
        conn = self.conn
        if self._finished or conn is None or conn.state not in LIVE_STATES:
            return
        try:
            self._handle(conn.handle_timer(self.server._clock.monotonic()))
        except Exception:
            log.exception("RTMP connection from %s failed unexpectedly", self.peer)
            self._drop()

    def _flush(self) -> None:
        conn, transport = self.conn, self.transport
        if conn is None or transport is None:
            return
        data = conn.data_to_send()
        if data and not transport.is_closing():
            transport.write(data)

    def _hang_up(self) -> None:
        """Send the last queued words, then close; reset the socket if that stalls."""
        transport = self.transport
        self._finish()
        if transport is None or transport.is_closing():
            return
        self._flush()
        transport.close()
        self._abort_later = asyncio.get_running_loop().call_later(CLOSE_GRACE, transport.abort)

    def _drop(self) -> None:
        self._finish()
        if self.transport is not None:
            self.transport.abort()

    def _finish(self) -> None:
        """The connection is over for the platform (the socket may still be closing)."""
        if self._finished:
            return
        self._finished = True
        for handle in (self._timer, self._stall):
            if handle is not None:
                handle.cancel()
        self._timer = self._stall = None
        server = self.server
        server._end(self, self.cut_reason or self.end_reason)
        server._release_key(self)
        server._sessions.discard(self)
        if not self.done.done():
            self.done.set_result(None)


class RtmpServer:
    """RTMP ingest: accepts publishers, asks ``handler`` about each, feeds the sinks."""

    def __init__(
        self,
        handler: PublishHandler,
        limits: RtmpLimits | None = None,
        clock: Clock | None = None,
        *,
        apps: Collection[str] = DEFAULT_APPS,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._handler = handler
        self.limits = limits or RtmpLimits()
        self._clock: Clock = clock or SystemClock()
        self._apps = tuple(apps)
        self._random_bytes = random_bytes
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._by_key: dict[str, _Session] = {}

    # -- life cycle ------------------------------------------------------------------------

    async def start(self, host: str = "0.0.0.0", port: int = 1935) -> None:
        if self._server is not None:
            raise RuntimeError("RtmpServer is already started")
        self._server = await asyncio.get_running_loop().create_server(lambda: _Session(self), host, port)
        log.info("RTMP ingest listening on %s:%d", host, self.port)

    @property
    def port(self) -> int:
        """The bound port (useful after ``start(port=0)``)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("RtmpServer is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        """Stop listening, end every stream with reason "server stopped", drop connections."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        sessions = list(self._sessions)
        for session in sessions:
            self._end(session, REASON_SERVER_STOPPED)
            session.cut_reason = session.cut_reason or REASON_SERVER_STOPPED
            if session.conn is not None:
                session.conn.close()
            if session.transport is not None:
                session.transport.abort()
        pending = [s.done for s in sessions if not s.done.done()]
        if pending:
            await asyncio.wait(pending, timeout=5.0)
        if server is not None:
            await server.wait_closed()

    # -- control from the platform -----------------------------------------------------------

    def active_stream_keys(self) -> frozenset[str]:
        """Keys whose publisher is live right now (not those still being decided)."""
        return frozenset(key for key, s in self._by_key.items() if s.sink is not None and not s.ended)

    async def close_publisher(self, stream_key: str, reason: str) -> bool:
        """Cut a publisher off now: end its sink with ``reason`` and hang up on it.

        Returns whether a publisher (live, or waiting for its publish decision) was found.
        The publisher's software is told ``reason`` in a last onStatus, but no more of its
        media is read: reading stops at once, and the socket is reset if it will not flush.
        """
        session = self._by_key.get(stream_key)
        if session is None or session.cut_reason is not None:
            return False
        session.cut_reason = reason
        self._end(session, reason)
        self._release_key(session)
        conn, transport = session.conn, session.transport
        assert conn is not None and transport is not None
        conn.close(reason)
        with contextlib.suppress(Exception):
            transport.write(conn.data_to_send())
        transport.close()
        asyncio.get_running_loop().call_later(CLOSE_GRACE, transport.abort)
        log.info("publisher %s cut off from %s", key_tag(stream_key), session.peer)
        return True

    # -- per connection (called by _Session) -------------------------------------------------


    async def _decide(self, session: _Session, event: PublishRequested) -> None:
        conn = session.conn
        assert conn is not None
        key = event.stream_key
        if not key:
            conn.refuse_publish(REASON_EMPTY_KEY)
            return
        tag = key_tag(key)
        if key in self._by_key:
            log.info("publish of %s from %s refused: key already live", tag, session.peer)
            conn.refuse_publish(REASON_KEY_IN_USE)
            return
        self._by_key[key] = session
        session.stream_key = key
        request = PublishRequest(
            app=event.app, stream_key=key, peer=session.peer,
            tc_url=event.tc_url, connect_params=event.connect_params,
        )
        try:
            decision = await self._handler.on_publish(request)
        except Exception:
            log.exception("publish handler failed for %s", tag)
            decision = PublishDecision.refuse(REASON_HANDLER_FAILED)
        if session.cut_reason is not None or conn.state is not ConnState.PUBLISH_PENDING:
            # Cut off or gone while the decision was being made: release what was granted.
            if decision.accepted and decision.sink is not None:
                session.sink, session.ended = decision.sink, False
                failed = f"protocol error: {conn.error.code}" if conn.error is not None else None
                self._end(session, session.cut_reason or failed or REASON_DISCONNECTED)
            self._release_key(session)
            return
        if decision.accepted and decision.sink is not None:
            session.sink, session.ended = decision.sink, False  # a connection may publish again
            conn.accept_publish()
            log.info("publish of %s from %s started", tag, session.peer)
        else:
            self._release_key(session)
            reason = decision.reason or "Publishing is not allowed."
            conn.refuse_publish(reason)
            log.info("publish of %s from %s refused", tag, session.peer)

    def _sink_failed(self, session: _Session) -> None:
        log.exception("stream sink failed; closing the publisher from %s", session.peer)
        session.cut_reason = "internal error"
        self._end(session, "internal error: the stream sink failed")
        self._release_key(session)
        if session.conn is not None:
            session.conn.close("The server could not process this stream.")

    def _end(self, session: _Session, reason: str) -> None:
        """Call the sink's on_end exactly once, whatever path got here first."""
        if session.sink is None or session.ended:
            return
        session.ended = True
        tag = key_tag(session.stream_key) if session.stream_key else "-"
        log.info("stream %s ended: %s", tag, reason)
        try:
            session.sink.on_end(reason)
        except Exception:
            log.exception("stream sink on_end failed for %s", tag)

    def _release_key(self, session: _Session) -> None:
        key = session.stream_key
        if key is not None and self._by_key.get(key) is session:
            del self._by_key[key]
