"""A minimal sans-IO RTMP publisher, the server's sparring partner.

It speaks just enough RTMP to publish - handshake (plain or digest), connect,
releaseStream, FCPublish, createStream, publish, media, unpublish - and checks what the
server sends back, including the digest handshake proof. Tests run it against
:class:`~livegate.media.rtmp.session.ServerConnection` in memory or over TCP; benchmarks use
it as a load generator. It writes compressed chunk headers (fmt 1/2/3) the way real
encoders do, so the server's reader meets every header type.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from livegate.media.rtmp import amf0
from livegate.media.rtmp import messages as msgs
from livegate.media.rtmp.chunk import DEFAULT_CHUNK_SIZE, ChunkReader, ChunkWriter, RtmpMessage
from livegate.media.rtmp.errors import RtmpProtocolError
from livegate.media.rtmp.handshake import HANDSHAKE_SIZE, ClientHandshake
from livegate.media.rtmp.limits import RtmpLimits
from livegate.media.types import MediaKind

_TXN_CONNECT: Final = 1.0
_TXN_RELEASE: Final = 2.0
_TXN_FCPUBLISH: Final = 3.0
_TXN_CREATE: Final = 4.0
_TXN_PUBLISH: Final = 5.0


class ClientState(enum.Enum):
    HANDSHAKE = "handshake"
    CONNECTING = "connecting"
    CREATING_STREAM = "creating_stream"
    PUBLISH_REQUESTED = "publish_requested"
    PUBLISHING = "publishing"
    REFUSED = "refused"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """Base of what the client reports."""


@dataclass(frozen=True, slots=True)
class ServerMessage(ClientEvent):
    """Any message from the server, for tests that inspect the wire."""

    message: RtmpMessage


@dataclass(frozen=True, slots=True)
class ServerCommand(ClientEvent):
    name: str
    transaction_id: float
    values: list[Any] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PublishStarted(ClientEvent):
    stream_id: int


@dataclass(frozen=True, slots=True)
class Rejected(ClientEvent):
    """The server said no (``_error`` or an ``onStatus`` at level error)."""

    code: str
    description: str


class ClientConnection:
    """Publishes one stream; feed it the server's bytes, send what it queues."""

    def __init__(
        self,
        stream_key: str,
        *,
        app: str = "live",
        tc_url: str = "rtmp://127.0.0.1/live",
        digest: bool = True,
        scheme: int = 0,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        compress: bool = True,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.stream_key = stream_key
        self.app = app
        self.tc_url = tc_url
        self.handshake = ClientHandshake(random_bytes, digest=digest, scheme=scheme)
        self.state = ClientState.HANDSHAKE
        self.stream_id: int | None = None
        self._chunk_size = chunk_size
        self._reader = ChunkReader(RtmpLimits())
        self._writer = ChunkWriter(DEFAULT_CHUNK_SIZE, compress=compress)
        self._in = bytearray()
        self._out = bytearray(self.handshake.c0c1())
        self.acknowledgements: list[int] = []
        self.server_chunk_size = DEFAULT_CHUNK_SIZE
        self.window_ack_size: int | None = None

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def send(self, message: RtmpMessage) -> None:
        """Queue any message, for tests that need to say something unusual."""
        self._out += self._writer.write(message)

    def send_raw(self, data: bytes) -> None:
        self._out += data

    def set_chunk_size(self, size: int) -> None:
        self.send(msgs.set_chunk_size(size))
        self._writer.chunk_size = size

    def receive_data(self, data: bytes) -> list[ClientEvent]:
        """Feed the server's bytes; raises the typed RTMP errors on nonsense."""
        events: list[ClientEvent] = []
        if self.state is ClientState.HANDSHAKE:
            self._in += data
            if len(self._in) < 1 + 2 * HANDSHAKE_SIZE:
                return events
            self._out += self.handshake.receive_s0s1s2(bytes(self._in[: 1 + 2 * HANDSHAKE_SIZE]))
            data = bytes(self._in[1 + 2 * HANDSHAKE_SIZE :])
            self._in.clear()
            self.state = ClientState.CONNECTING
            if self._chunk_size != DEFAULT_CHUNK_SIZE:
                self.set_chunk_size(self._chunk_size)
            self.send(msgs.command("connect", _TXN_CONNECT, {
                "app": self.app, "type": "nonprivate", "flashVer": "FMLE/3.0 (compatible; livegate)",
                "tcUrl": self.tc_url,
            }))
        self._reader.receive(data)
        while (message := self._reader.next_message()) is not None:
            events.append(ServerMessage(message))
            self._on_message(message, events)
        return events

    def _on_message(self, message: RtmpMessage, events: list[ClientEvent]) -> None:
        if message.type_id == msgs.SET_CHUNK_SIZE:
            self.server_chunk_size = msgs.read_u32(message.payload, "Set Chunk Size")
            self._reader.set_chunk_size(self.server_chunk_size)
        elif message.type_id == msgs.WINDOW_ACK_SIZE:
            self.window_ack_size = msgs.read_u32(message.payload, "Window Acknowledgement Size")
        elif message.type_id == msgs.ACKNOWLEDGEMENT:
            self.acknowledgements.append(msgs.read_u32(message.payload, "Acknowledgement"))
        elif message.type_id == msgs.USER_CONTROL:
            control = msgs.parse_user_control(message.payload)
            if control.event_type == msgs.PING_REQUEST:
                self.send(msgs.user_control(msgs.PING_RESPONSE, control.values[0]))
        elif message.type_id == msgs.COMMAND_AMF0:
            values = amf0.decode_all(message.payload)
            if len(values) < 2 or not isinstance(values[0], str):
                raise RtmpProtocolError("server sent a malformed command")
            command = ServerCommand(values[0], float(values[1]), values[2:])
            events.append(command)
            self._on_command(command, events)

    def _on_command(self, command: ServerCommand, events: list[ClientEvent]) -> None:
        info = next((v for v in command.values if isinstance(v, dict) and "code" in v), {})
        if command.name == "_error" or (command.name == "onStatus" and info.get("level") == "error"):
            self.state = ClientState.REFUSED
            events.append(Rejected(str(info.get("code", "")), str(info.get("description", ""))))
        elif command.name == "_result" and command.transaction_id == _TXN_CONNECT:
            self.state = ClientState.CREATING_STREAM
            self.send(msgs.command("releaseStream", _TXN_RELEASE, None, self.stream_key))
            self.send(msgs.command("FCPublish", _TXN_FCPUBLISH, None, self.stream_key))
            self.send(msgs.command("createStream", _TXN_CREATE, None))
        elif command.name == "_result" and command.transaction_id == _TXN_CREATE:
            self.stream_id = int(command.values[1])
            self.state = ClientState.PUBLISH_REQUESTED
            self.send(msgs.command("publish", _TXN_PUBLISH, None, self.stream_key, "live",
                                   stream_id=self.stream_id, chunk_stream_id=msgs.CSID_STREAM_STATUS))
        elif command.name == "onStatus" and info.get("code") == "NetStream.Publish.Start":
            assert self.stream_id is not None
            self.state = ClientState.PUBLISHING
            events.append(PublishStarted(self.stream_id))

    def send_metadata(self, metadata: dict[str, Any], timestamp: int = 0) -> None:
        assert self.stream_id is not None
        self.send(RtmpMessage(
            msgs.CSID_STREAM_STATUS, msgs.DATA_AMF0, self.stream_id, timestamp,
            amf0.encode_all("@setDataFrame", "onMetaData", amf0.EcmaArray(metadata)),
        ))

    def send_media(self, kind: MediaKind, timestamp: int, payload: bytes) -> None:
        assert self.stream_id is not None
        type_id = msgs.AUDIO if kind == "audio" else msgs.VIDEO
        csid = msgs.CSID_AUDIO if kind == "audio" else msgs.CSID_VIDEO
        self.send(RtmpMessage(csid, type_id, self.stream_id, timestamp, payload))

    def unpublish(self) -> None:
        assert self.stream_id is not None
        self.send(msgs.command("FCUnpublish", 6.0, None, self.stream_key))
        self.send(msgs.command("deleteStream", 7.0, None, float(self.stream_id)))
        self.state = ClientState.CLOSED
