"""The RTMP ingest connection as a sans-IO state machine.

:class:`ServerConnection` owns no socket and reads no clock. Its owner feeds it bytes
with the current time (:meth:`~ServerConnection.receive_data`), sends what
:meth:`~ServerConnection.data_to_send` returns, and calls
:meth:`~ServerConnection.handle_timer` when :meth:`~ServerConnection.get_timer` says so.
Everything it learns comes back as :mod:`~livegate.media.rtmp.events`; the one decision it
cannot take alone - may this key publish? - is answered with
:meth:`~ServerConnection.accept_publish` or :meth:`~ServerConnection.refuse_publish`.

Any protocol error ends in a :class:`~livegate.media.rtmp.events.ConnectionFailed` event and
the ``ERROR`` state, from which nothing leads back; the transitions themselves are all in
:mod:`~livegate.media.rtmp.state`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from typing import Any, Final

from livegate.media.rtmp import amf0
from livegate.media.rtmp import messages as msgs
from livegate.media.rtmp.chunk import DEFAULT_CHUNK_SIZE, ChunkReader, ChunkWriter, RtmpMessage
from livegate.media.rtmp.errors import (
    CommandError,
    CommandTooLarge,
    HandshakeTimeout,
    IdleTimeout,
    LocalProtocolError,
    MalformedMessage,
    RtmpProtocolError,
    SetupTimeout,
    TooManyStreams,
    UnsupportedVersion,
)
from livegate.media.rtmp.events import (
    Connected,
    ConnectionFailed,
    ConnectRejected,
    Event,
    HandshakeCompleted,
    MediaReceived,
    MetadataReceived,
    PeerClosed,
    PlayRefused,
    PublishRequested,
    UnpublishRequested,
)
from livegate.media.rtmp.handshake import HANDSHAKE_SIZE, RTMP_VERSION, ServerHandshake
from livegate.media.rtmp.limits import RtmpLimits
from livegate.media.rtmp.state import (
    BEFORE_PUBLISH,
    COMMAND_STATES,
    HANDSHAKING,
    LIVE_STATES,
    ConnState,
    Trigger,
    next_state,
)
from livegate.media.types import MediaKind, MediaMessage

FMS_VERSION: Final = "FMS/3,5,7,7009"
DEFAULT_APPS: Final = ("live",)
_MEDIA_KINDS: Final[dict[int, MediaKind]] = {msgs.AUDIO: "audio", msgs.VIDEO: "video"}


def strip_query(name: str) -> str:
    """``KEY?token=x`` -> ``KEY``: clients append query strings to app and stream names."""
    return name.split("?", 1)[0]


class ServerConnection:
    """One publisher's connection, from C0 to the last byte; see the module docstring."""

    def __init__(
        self,
        now: float,
        limits: RtmpLimits | None = None,
        *,
        apps: Collection[str] = DEFAULT_APPS,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.limits = limits or RtmpLimits()
        self.apps = frozenset(apps)
        self._state = ConnState.AWAIT_C0C1
        self._handshake = ServerHandshake(random_bytes)
        self._handshake_buf = bytearray()
        self._reader = ChunkReader(self.limits)
        self._writer = ChunkWriter(DEFAULT_CHUNK_SIZE)
        self._out = bytearray()
        self._created_at = now
        self._last_received = now
        self._last_ping: float | None = None
        self._bytes_received = 0
        self._bytes_acked = 0
        self._peer_window: int | None = None
        self._next_stream_id = 1
        self._streams: set[int] = set()
        self._publish_stream_id: int | None = None
        self._app = ""
        self._tc_url = ""
        self._connect_params: dict[str, Any] = {}
        self.error: RtmpProtocolError | None = None
        self.dropped_messages = 0
        """Media that arrived outside a publishing stream and was dropped (counted, not an error)."""

    # -- introspection ---------------------------------------------------------------------

    @property
    def state(self) -> ConnState:
        return self._state

    @property
    def app(self) -> str:
        return self._app

    @property
    def publishing_stream_id(self) -> int | None:
        return self._publish_stream_id if self._state is ConnState.PUBLISHING else None

    @property
    def bytes_received(self) -> int:
        return self._bytes_received

    @property
    def handshake(self) -> ServerHandshake:
        return self._handshake

    # -- the one place state changes -------------------------------------------------------

    def _transition(self, trigger: Trigger, *, remote: bool) -> None:
        new = next_state(self._state, trigger)
        if new is None:
            if remote:
                raise CommandError(
                    "not allowed in this connection state", state=self._state.value, trigger=trigger.value
                )
            raise LocalProtocolError(
                "not allowed in this connection state", state=self._state.value, trigger=trigger.value
            )
        self._state = new

    def _fail(self, error: RtmpProtocolError, trigger: Trigger, events: list[Event]) -> None:
        self.error = error
        self._transition(trigger, remote=False)
        events.append(ConnectionFailed(error))

    # -- input -----------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview, now: float) -> list[Event]:
        """Feed bytes from the peer (``b""`` means end of file); return what they caused."""
        if self._state in (ConnState.ERROR, ConnState.CLOSED):
            raise LocalProtocolError("the connection is finished", state=self._state.value)
        events: list[Event] = []
        if not data:
            self._transition(Trigger.PEER_CLOSED, remote=False)
            events.append(PeerClosed())
            return events
        if self._state is ConnState.CLOSING:
            return events  # we are hanging up; whatever the peer says no longer matters
        self._last_received = now
        self._bytes_received += len(data)
        try:
            self._process(data, events)
        except RtmpProtocolError as error:
            self._fail(error, Trigger.PROTOCOL_ERROR, events)
        return events

    def _process(self, data: bytes | bytearray | memoryview, events: list[Event]) -> None:
        if self._state in HANDSHAKING:
            data = self._handshake_step(data, events)
            if not data:
                return
        self._reader.receive(data)
        while self._state in LIVE_STATES:
            message = self._reader.next_message()
            if message is None:
                break
            self._on_message(message, events)
        if self._state in LIVE_STATES:
            self._maybe_acknowledge()

    def _handshake_step(self, data: bytes | bytearray | memoryview, events: list[Event]) -> bytes:
        """Buffer handshake bytes; return whatever follows C2 (the first chunks)."""
        buf = self._handshake_buf
        buf += data
        if self._state is ConnState.AWAIT_C0C1:
            if buf[0] != RTMP_VERSION:  # say no at once; do not wait for 1536 more bytes
                raise UnsupportedVersion("only RTMP version 3 is supported", version=buf[0])
            if len(buf) < 1 + HANDSHAKE_SIZE:
                return b""
            self._out += self._handshake.receive_c0c1(bytes(buf[: 1 + HANDSHAKE_SIZE]))
            del buf[: 1 + HANDSHAKE_SIZE]
            self._transition(Trigger.C0C1_RECEIVED, remote=False)
        if len(buf) < HANDSHAKE_SIZE:
            return b""
        self._handshake.receive_c2(bytes(buf[:HANDSHAKE_SIZE]))
        rest = bytes(buf[HANDSHAKE_SIZE:])
        buf.clear()
        self._transition(Trigger.C2_RECEIVED, remote=False)
        events.append(HandshakeCompleted(self._handshake.digest))
        return rest

    def _maybe_acknowledge(self) -> None:
        window = self._peer_window or self.limits.ack_window
        if self._bytes_received - self._bytes_acked >= window:
            self._send(msgs.acknowledgement(self._bytes_received))
            self._bytes_acked = self._bytes_received

    # -- messages --------------------------------------------------------------------------

    def _on_message(self, message: RtmpMessage, events: list[Event]) -> None:
        type_id = message.type_id
        payload = message.payload
        if type_id in _MEDIA_KINDS:
            self._on_media(message, _MEDIA_KINDS[type_id], events)
        elif type_id == msgs.SET_CHUNK_SIZE:
            self._reader.set_chunk_size(msgs.read_u32(payload, "Set Chunk Size"))
        elif type_id == msgs.ABORT:
            self._reader.abort(msgs.read_u32(payload, "Abort"))
        elif type_id == msgs.ACKNOWLEDGEMENT:
            msgs.read_u32(payload, "Acknowledgement")
        elif type_id == msgs.WINDOW_ACK_SIZE:
            window = msgs.read_u32(payload, "Window Acknowledgement Size")
            if window == 0:
                raise MalformedMessage("Window Acknowledgement Size must not be zero")
            self._peer_window = window
        elif type_id == msgs.SET_PEER_BANDWIDTH:
            if len(payload) < 5:
                raise MalformedMessage("Set Peer Bandwidth needs 5 bytes", length=len(payload))
        elif type_id == msgs.USER_CONTROL:
            control = msgs.parse_user_control(payload)
            if control.event_type == msgs.PING_REQUEST:
                self._send(msgs.user_control(msgs.PING_RESPONSE, control.values[0]))
        elif type_id in (msgs.COMMAND_AMF0, msgs.COMMAND_AMF3):
            body = self._amf_body(message)
            values = amf0.decode_all(body, max_depth=self.limits.max_amf_depth)
            self._on_command(message, values, events)
        elif type_id in (msgs.DATA_AMF0, msgs.DATA_AMF3):
            self._on_data(message, self._amf_body(message), events)
        elif type_id == msgs.AGGREGATE:
            self._on_aggregate(message, events)
        # Shared objects and unknown types are ignored, as the spec asks of future types.

    def _amf_body(self, message: RtmpMessage) -> bytes:
        if len(message.payload) > self.limits.max_command_size:
            raise CommandTooLarge(
                "command or data message is too large",
                length=len(message.payload),
                limit=self.limits.max_command_size,
            )
        if message.type_id in (msgs.COMMAND_AMF3, msgs.DATA_AMF3):
            return message.payload[1:]  # a format byte, then AMF0 values
        return message.payload

    def _is_publishing(self, stream_id: int) -> bool:
        return self._state is ConnState.PUBLISHING and stream_id == self._publish_stream_id

    def _on_media(self, message: RtmpMessage, kind: MediaKind, events: list[Event]) -> None:
        if not self._is_publishing(message.stream_id):
            self.dropped_messages += 1
            return
        if message.payload:  # some encoders send empty tags as keep-alives
            events.append(
                MediaReceived(message.stream_id, MediaMessage(kind, message.timestamp, message.payload))
            )

    def _on_aggregate(self, message: RtmpMessage, events: list[Event]) -> None:
        if not self._is_publishing(message.stream_id):
            self.dropped_messages += 1
            return
        for sub in msgs.split_aggregate(message.payload, message.timestamp):
            inner = RtmpMessage(
                message.chunk_stream_id, sub.type_id, message.stream_id, sub.timestamp, sub.payload
            )
            if sub.type_id in _MEDIA_KINDS:
                self._on_media(inner, _MEDIA_KINDS[sub.type_id], events)
            elif sub.type_id == msgs.DATA_AMF0:
                self._on_data(inner, self._amf_body(inner), events)

    def _on_data(self, message: RtmpMessage, body: bytes, events: list[Event]) -> None:
        """Deliver a data message as an FLV script tag body, and onMetaData also as a dict.

        ``@setDataFrame`` is an instruction to the server ("keep this for players"); what an
        FLV file would hold is the rest of the message, so that is what the sink gets.
        """
        if not self._is_publishing(message.stream_id):
            self.dropped_messages += 1
            return
        if not body:
            return
        depth = self.limits.max_amf_depth
        first, end = amf0.decode_value(body, 0, max_depth=depth)
        if first == "@clearDataFrame":
            return
        if first == "@setDataFrame":
            body = body[end:]
        values = amf0.decode_all(body, max_depth=depth)
        if not values:
            return
        if values[0] == "onMetaData" and len(values) > 1 and isinstance(values[1], dict):
            events.append(MetadataReceived(message.stream_id, dict(values[1])))
        events.append(MediaReceived(message.stream_id, MediaMessage("data", message.timestamp, body)))

    # -- commands --------------------------------------------------------------------------

    def _on_command(self, message: RtmpMessage, values: list[Any], events: list[Event]) -> None:
        if len(values) < 2 or not isinstance(values[0], str) or not isinstance(values[1], float):
            raise CommandError("a command needs a name and a transaction id")
        name: str = values[0]
        transaction_id: float = values[1]
        command_object = values[2] if len(values) > 2 else None
        args = values[3:]
        allowed = COMMAND_STATES.get(name)
        if allowed is None:
            if self._state is ConnState.AWAIT_CONNECT:
                raise CommandError("the first command must be connect")
            return  # an optional command we do not offer; clients carry on without a reply
        if self._state not in allowed:
            raise CommandError(
                "command not allowed in this connection state", command=name, state=self._state.value
            )
        if name == "connect":
            self._on_connect(transaction_id, command_object, events)
        elif name == "createStream":
            self._on_create_stream(transaction_id)
        elif name == "publish":
            self._on_publish(message.stream_id, args, events)
        elif name == "play":
            self._send_status(message.stream_id, "error", "NetStream.Play.Failed",
                              "This server accepts publishers only.")
            self._transition(Trigger.PLAY_REFUSED, remote=True)
            events.append(PlayRefused())
        elif name in ("releaseStream", "FCPublish"):
            self._reply_result(transaction_id, None, amf0.UNDEFINED)
            if name == "FCPublish":
                self._send(msgs.command("onFCPublish", 0, None, {
                    "code": "NetStream.Publish.Start", "description": "FCPublish"}))
        else:  # FCUnpublish, deleteStream, closeStream
            self._on_unpublish(name, transaction_id, message.stream_id, args, events)

    def _reply_result(self, transaction_id: float, *values: Any) -> None:
        if transaction_id:  # transaction 0 asks for no answer
            self._send(msgs.command("_result", transaction_id, *values))

    def _send_status(self, stream_id: int, level: str, code: str, description: str) -> None:
        info = {"level": level, "code": code, "description": description}
        self._send(msgs.command("onStatus", 0, None, info, stream_id=stream_id,
                                chunk_stream_id=msgs.CSID_STREAM_STATUS))

    def _on_connect(self, transaction_id: float, command_object: Any, events: list[Event]) -> None:
        if not isinstance(command_object, dict):
            raise CommandError("connect needs a command object")
        raw_app = command_object.get("app", "")
        tc_url = command_object.get("tcUrl", "")
        if not isinstance(raw_app, str) or not isinstance(tc_url, str):
            raise CommandError("connect's app and tcUrl must be strings")
        app = strip_query(raw_app).strip("/")
        if app not in self.apps:
            self._send(msgs.command("_error", transaction_id, None, {
                "level": "error", "code": "NetConnection.Connect.Rejected",
                "description": "Unknown application.",
            }))
            self._transition(Trigger.CONNECT_REJECTED, remote=True)
            events.append(ConnectRejected(app))
            return
        self._send(msgs.window_ack_size(self.limits.ack_window))
        self._send(msgs.set_peer_bandwidth(self.limits.peer_bandwidth))
        self._send(msgs.set_chunk_size(self.limits.server_chunk_size))
        self._writer.chunk_size = self.limits.server_chunk_size
        self._send(msgs.command(
            "_result", transaction_id,
            {"fmsVer": FMS_VERSION, "capabilities": 31.0, "mode": 1.0},
            {"level": "status", "code": "NetConnection.Connect.Success",
             "description": "Connection succeeded.", "objectEncoding": 0.0},
        ))
        self._app = app
        self._tc_url = tc_url
        self._connect_params = dict(command_object)
        self._transition(Trigger.CONNECT_ACCEPTED, remote=True)
        events.append(Connected(app, tc_url, dict(command_object)))

    def _on_create_stream(self, transaction_id: float) -> None:
        if len(self._streams) >= self.limits.max_streams:
            raise TooManyStreams("too many streams on one connection", limit=self.limits.max_streams)
        stream_id = self._next_stream_id
        self._next_stream_id += 1
        self._streams.add(stream_id)
        self._reply_result(transaction_id, None, float(stream_id))

    def _on_publish(self, stream_id: int, args: list[Any], events: list[Event]) -> None:
        if stream_id not in self._streams:
            raise CommandError("publish on a stream that was not created", stream_id=stream_id)
        if not args or not isinstance(args[0], str):
            raise CommandError("publish needs a stream name")
        publish_type = args[1] if len(args) > 1 and isinstance(args[1], str) else "live"
        stream_key = strip_query(args[0])
        self._transition(Trigger.PUBLISH_REQUESTED, remote=True)
        self._publish_stream_id = stream_id
        events.append(PublishRequested(
            stream_id, stream_key, publish_type, self._app, self._tc_url, dict(self._connect_params)
        ))

    def _on_unpublish(
        self, name: str, transaction_id: float, stream_id: int, args: list[Any], events: list[Event]
    ) -> None:
        target = stream_id
        if name == "deleteStream":
            value = args[0] if args else None
            if not isinstance(value, float) or not value.is_integer() or not 0 <= value <= 0xFFFFFFFF:
                raise CommandError("deleteStream needs a stream id")
            target = int(value)
        if self._state is ConnState.PUBLISH_PENDING:
            return  # the decision is on its way; the peer's hang-up will follow if it left
        ends_publish = name == "FCUnpublish" or target == self._publish_stream_id
        if self._state is ConnState.PUBLISHING and ends_publish:
            publishing = self._publish_stream_id
            assert publishing is not None
            self._send_status(publishing, "status", "NetStream.Unpublish.Success", "Stream is unpublished.")
            self._transition(Trigger.UNPUBLISHED, remote=True)
            self._publish_stream_id = None
            events.append(UnpublishRequested(publishing, name))
        if name == "deleteStream":
            self._streams.discard(target)
        elif name == "FCUnpublish":
            self._reply_result(transaction_id, None, amf0.UNDEFINED)

    # -- decisions from the owner ----------------------------------------------------------

    def accept_publish(self) -> None:
        """Let the pending publish start: Stream Begin and NetStream.Publish.Start."""
        self._transition(Trigger.PUBLISH_ACCEPTED, remote=False)
        stream_id = self._publish_stream_id
        assert stream_id is not None
        self._send(msgs.user_control(msgs.STREAM_BEGIN, stream_id))
        self._send_status(stream_id, "status", "NetStream.Publish.Start", "Stream is now published.")

    def refuse_publish(self, reason: str, code: str = "NetStream.Publish.BadName") -> None:
        """Refuse the pending publish with a reason the publisher's software will show; then close."""
        self._transition(Trigger.PUBLISH_REFUSED, remote=False)
        stream_id = self._publish_stream_id
        assert stream_id is not None
        self._send_status(stream_id, "error", code, reason)

    def close(self, reason: str = "") -> None:
        """Hang up from our side; a publisher is told ``reason`` first. Idempotent once closing."""
        if self._state not in LIVE_STATES and self._state is not ConnState.CLOSING:
            return
        if reason and self._state in (ConnState.PUBLISHING, ConnState.PUBLISH_PENDING):
            stream_id = self._publish_stream_id
            assert stream_id is not None
            self._send_status(stream_id, "error", "NetConnection.Connect.Closed", reason)
        self._transition(Trigger.LOCAL_CLOSE, remote=False)

    # -- timers ----------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` should next be called, or ``None`` if never."""
        if self._state not in LIVE_STATES:
            return None
        limits = self.limits
        deadline = self._last_received + limits.idle_timeout
        if self._state in HANDSHAKING:
            deadline = min(deadline, self._created_at + limits.handshake_timeout)
        if self._state in BEFORE_PUBLISH:
            deadline = min(deadline, self._created_at + limits.setup_timeout)
        if limits.ping_interval is not None and self._state not in HANDSHAKING:
            quiet_since = max(self._last_received, self._last_ping or self._last_received)
            deadline = min(deadline, quiet_since + limits.ping_interval)
        return deadline

    def handle_timer(self, now: float) -> list[Event]:
        """Act on expired deadlines: time out, or ping a quiet peer."""
        events: list[Event] = []
        if self._state not in LIVE_STATES:
            return events
        limits = self.limits
        if self._state in HANDSHAKING and now >= self._created_at + limits.handshake_timeout:
            self._fail(HandshakeTimeout("the handshake took too long", timeout=limits.handshake_timeout),
                       Trigger.TIMEOUT, events)
        elif self._state in BEFORE_PUBLISH and now >= self._created_at + limits.setup_timeout:
            self._fail(SetupTimeout("no publish request in time", timeout=limits.setup_timeout),
                       Trigger.TIMEOUT, events)
        elif now >= self._last_received + limits.idle_timeout:
            self._fail(IdleTimeout("the peer went quiet", timeout=limits.idle_timeout),
                       Trigger.TIMEOUT, events)
        elif limits.ping_interval is not None and self._state not in HANDSHAKING:
            quiet_since = max(self._last_received, self._last_ping or self._last_received)
            if now >= quiet_since + limits.ping_interval:
                millis = int((now - self._created_at) * 1000) & 0xFFFFFFFF
                self._send(msgs.user_control(msgs.PING_REQUEST, millis))
                self._last_ping = now
        return events

    # -- output ----------------------------------------------------------------------------

    def _send(self, message: RtmpMessage) -> None:
        self._out += self._writer.write(message)

    def data_to_send(self) -> bytes:
        """Bytes to write to the peer, in order; each call hands them out once."""
        out = bytes(self._out)
        self._out.clear()
        return out
