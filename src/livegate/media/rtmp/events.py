"""What a :class:`~livegate.media.rtmp.session.ServerConnection` tells its owner.

Stream keys are secrets: fields that can hold one are left out of ``repr`` so that logging
an event never leaks a key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from livegate.media.rtmp.errors import RtmpProtocolError
from livegate.media.types import MediaMessage


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all connection events."""


@dataclass(frozen=True, slots=True)
class HandshakeCompleted(Event):
    digest: bool
    """Whether the client used the digest (complex) handshake."""


@dataclass(frozen=True, slots=True)
class Connected(Event):
    """The client's ``connect`` named one of our applications and was answered with success."""

    app: str
    tc_url: str = field(repr=False)
    params: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class PublishRequested(Event):
    """The client asked to publish; answer with ``accept_publish`` or ``refuse_publish``."""

    stream_id: int
    stream_key: str = field(repr=False)
    publish_type: str
    app: str
    tc_url: str = field(repr=False)
    connect_params: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class MetadataReceived(Event):
    """``@setDataFrame onMetaData`` (or a bare ``onMetaData``) on the publishing stream."""

    stream_id: int
    metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MediaReceived(Event):
    """An audio, video or data message on the publishing stream, its body unchanged."""

    stream_id: int
    message: MediaMessage


@dataclass(frozen=True, slots=True)
class UnpublishRequested(Event):
    """The client stopped publishing (FCUnpublish, deleteStream or closeStream)."""

    stream_id: int
    command: str


@dataclass(frozen=True, slots=True)
class PlayRefused(Event):
    """The client asked to play; this server only ingests, so it was told so and is closing."""


@dataclass(frozen=True, slots=True)
class ConnectRejected(Event):
    """The client's ``connect`` named an application we do not serve; it is closing."""

    app: str


@dataclass(frozen=True, slots=True)
class PeerClosed(Event):
    """The peer closed its side (end of file)."""


@dataclass(frozen=True, slots=True)
class ConnectionFailed(Event):
    """A protocol error or a timeout; the connection is in ``ERROR`` for good."""

    error: RtmpProtocolError
