"""Test doubles and drivers for the RTMP tests: a recording sink and handler, an in-memory
pump between the sans-IO client and server, and a TCP publisher for the asyncio adapter.
Everything waits on events with timeouts, never on the clock."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable
from typing import Any

from livegate.media.rtmp import messages as msgs
from livegate.media.rtmp.client import ClientConnection, ClientEvent, PublishStarted, Rejected
from livegate.media.rtmp.events import Event, PublishRequested
from livegate.media.rtmp.session import ServerConnection
from livegate.media.types import MediaMessage, PublishDecision, PublishRequest

WAIT = 10.0

AVC_SEQUENCE_HEADER = bytes([0x17, 0x00, 0, 0, 0]) + bytes.fromhex("0164001effe1001967")
AVC_KEYFRAME = bytes([0x17, 0x01, 0, 0, 0]) + bytes(range(256)) * 4
AVC_INTERFRAME = bytes([0x27, 0x01, 0, 0, 0]) + bytes(300)
AAC_SEQUENCE_HEADER = bytes([0xAF, 0x00, 0x12, 0x10])
AAC_FRAME = bytes([0xAF, 0x01]) + bytes(200)


def seeded_bytes(seed: int = 7) -> Callable[[int], bytes]:
    """Deterministic ``random_bytes`` for reproducible handshakes."""
    rng = random.Random(seed)
    return lambda n: rng.randbytes(n)


class RecordingSink:
    """A StreamSink that remembers everything and lets a test wait for a condition."""

    def __init__(self) -> None:
        self.metadata: list[dict[str, Any]] = []
        self.media: list[MediaMessage] = []
        self.ends: list[str] = []
        self._changed: asyncio.Event | None = None

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def on_metadata(self, metadata: dict[str, Any]) -> None:
        self.metadata.append(metadata)
        self._notify()

    def on_media(self, message: MediaMessage) -> None:
        self.media.append(message)
        self._notify()

    def on_end(self, reason: str) -> None:
        self.ends.append(reason)
        self._notify()

    def kinds(self, kind: str) -> list[MediaMessage]:
        return [m for m in self.media if m.kind == kind]

    async def wait_for(self, predicate: Callable[[], bool], within: float = WAIT) -> None:
        if self._changed is None:
            self._changed = asyncio.Event()
        async with asyncio.timeout(within):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()


Decide = Callable[[PublishRequest], "PublishDecision | Awaitable[PublishDecision]"]


class RecordingHandler:
    """A PublishHandler: accepts every key except those in ``refuse`` (key -> reason)."""

    def __init__(self, refuse: dict[str, str] | None = None) -> None:
        self.refuse = refuse or {}
        self.requests: list[PublishRequest] = []
        self.sinks: dict[str, list[RecordingSink]] = {}
        self.gate: asyncio.Event | None = None
        self.entered: asyncio.Event = asyncio.Event()
        self._changed = asyncio.Event()

    async def on_publish(self, request: PublishRequest) -> PublishDecision:
        self.requests.append(request)
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if request.stream_key in self.refuse:
            return PublishDecision.refuse(self.refuse[request.stream_key])
        sink = RecordingSink()
        self.sinks.setdefault(request.stream_key, []).append(sink)
        self._changed.set()
        return PublishDecision.accept(sink)

    async def sink_for(self, key: str, index: int = 0, within: float = WAIT) -> RecordingSink:
        async with asyncio.timeout(within):
            while len(self.sinks.get(key, [])) <= index:
                self._changed.clear()
                await self._changed.wait()
        return self.sinks[key][index]


def pump(
    client: ClientConnection,
    server: ServerConnection,
    now: float = 0.0,
    *,
    accept: bool | str = True,
    rounds: int = 50,
) -> tuple[list[Event], list[ClientEvent]]:
    """Move bytes both ways in memory until both sides are quiet.

    ``accept`` answers a PublishRequested: True accepts, a string refuses with that reason.
    """
    server_events: list[Event] = []
    client_events: list[ClientEvent] = []
    for _ in range(rounds):
        to_server = client.data_to_send()
        if to_server:
            events = server.receive_data(to_server, now)
            server_events += events
            for event in events:
                if isinstance(event, PublishRequested):
                    if accept is True:
                        server.accept_publish()
                    elif isinstance(accept, str):
                        server.refuse_publish(accept)
        to_client = server.data_to_send()
        if to_client:
            client_events += client.receive_data(to_client)
        if not to_server and not to_client:
            break
    return server_events, client_events


def published_pair(
    key: str = "secret-key", *, now: float = 0.0, **client_kw: Any
) -> tuple[ClientConnection, ServerConnection, list[Event]]:
    """A client and a server connection that have got as far as publishing."""
    client = ClientConnection(key, random_bytes=seeded_bytes(1), **client_kw)
    server = ServerConnection(now, random_bytes=seeded_bytes(2))
    server_events, client_events = pump(client, server, now)
    assert any(isinstance(e, PublishStarted) for e in client_events), (server_events, client_events)
    return client, server, server_events


class TcpPublisher:
    """The sans-IO client over a real TCP connection, for the asyncio adapter."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, client: ClientConnection):
        self.reader = reader
        self.writer = writer
        self.client = client
        self.events: list[ClientEvent] = []
        self.closed = False

    @classmethod
    async def open(cls, port: int, key: str, **client_kw: Any) -> TcpPublisher:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, ClientConnection(key, **client_kw))

    async def flush(self) -> None:
        data = self.client.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)
            await self.writer.drain()

    async def until(self, predicate: Callable[[list[ClientEvent]], bool], within: float = WAIT) -> None:
        """Exchange bytes until ``predicate(events)`` holds or the server hangs up."""
        async with asyncio.timeout(within):
            await self.flush()
            while not predicate(self.events):
                try:
                    data = await self.reader.read(65536)
                except ConnectionError:
                    data = b""
                if not data:
                    self.closed = True
                    return
                self.events += self.client.receive_data(data)
                await self.flush()

    async def publish(self, within: float = WAIT) -> ClientEvent:
        """Run the publish flow; return PublishStarted or Rejected."""
        await self.until(lambda evs: any(isinstance(e, PublishStarted | Rejected) for e in evs), within)
        for event in self.events:
            if isinstance(event, PublishStarted | Rejected):
                return event
        raise AssertionError(f"server hung up before answering the publish: {self.events}")

    async def send_media(self, kind: Any, timestamp: int, payload: bytes) -> None:
        self.client.send_media(kind, timestamp, payload)
        await self.flush()

    async def wait_closed(self, within: float = WAIT) -> None:
        """Read (and discard) until the server closes the connection."""
        async with asyncio.timeout(within):
            while True:
                try:
                    data = await self.reader.read(65536)
                except ConnectionError:
                    break
                if not data:
                    break
        self.closed = True

    async def close(self) -> None:
        self.writer.close()
        try:
            async with asyncio.timeout(2):
                await self.writer.wait_closed()
        except (ConnectionError, TimeoutError):
            pass


def valid_transcript(key: str = "fuzz-key", *, media: int = 6, **client_kw: Any) -> bytes:
    """Every byte a well-behaved publisher sends in a short session, for mutation fuzzing."""
    client = ClientConnection(key, random_bytes=seeded_bytes(3), **client_kw)
    server = ServerConnection(0.0, random_bytes=seeded_bytes(4))
    sent = bytearray()
    for _ in range(20):
        chunk = client.data_to_send()
        sent += chunk
        if chunk:
            for event in server.receive_data(chunk, 0.0):
                if isinstance(event, PublishRequested):
                    server.accept_publish()
        reply = server.data_to_send()
        if reply:
            events = client.receive_data(reply)
            if any(isinstance(e, PublishStarted) for e in events):
                client.send_metadata({"width": 320.0, "height": 240.0, "encoder": "fuzz"})
                for i, ts in zip(range(media), itertools.count(0, 40), strict=False):
                    client.send_media("video", ts, AVC_KEYFRAME if i == 0 else AVC_INTERFRAME)
                    client.send_media("audio", ts, AAC_FRAME)
                client.send(msgs.user_control(msgs.PING_REQUEST, 1234))
                client.unpublish()
        if not chunk and not reply:
            break
    return bytes(sent)
