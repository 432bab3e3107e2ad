"""The seam between RTMP ingest and the media pipeline.

The RTMP server speaks only in these types: it asks a :class:`PublishHandler` whether a
publish may start, and feeds the accepted stream's messages to the :class:`StreamSink` the
handler returned. The pipeline implements the sink; it never sees a socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

MediaKind = Literal["audio", "video", "data"]


@dataclass(frozen=True, slots=True)
class MediaMessage:
    """One RTMP audio (8), video (9) or data (18) message: its body is an FLV tag body."""

    kind: MediaKind
    timestamp_ms: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class PublishRequest:
    app: str
    stream_key: str
    peer: str
    tc_url: str = ""
    connect_params: dict[str, Any] = field(default_factory=dict)


class StreamSink(Protocol):
    """Receives one accepted stream. Methods are called on the event loop and must not block."""

    def on_metadata(self, metadata: dict[str, Any]) -> None: ...

    def on_media(self, message: MediaMessage) -> None: ...

    def on_end(self, reason: str) -> None: ...


@dataclass(frozen=True, slots=True)
class PublishDecision:
    accepted: bool
    reason: str = ""
    sink: StreamSink | None = None

    @classmethod
    def accept(cls, sink: StreamSink) -> PublishDecision:
        return cls(True, "", sink)

    @classmethod
    def refuse(cls, reason: str) -> PublishDecision:
        return cls(False, reason, None)


class PublishHandler(Protocol):
    async def on_publish(self, request: PublishRequest) -> PublishDecision: ...
