"""Typed RTMP errors with stable codes.

Every way a peer can misbehave has its own class, so the adapter can log, count and
answer each one precisely, and so a fuzzer can assert that nothing *else* ever escapes.
A remote error puts the offending connection in ``ERROR`` for good and closes only it.
"""

from __future__ import annotations

from typing import ClassVar

from livegate.core.errors import LivegateError


class RtmpError(LivegateError):
    """Base of everything the RTMP package raises on purpose."""

    code: ClassVar[str] = "rtmp_error"


class RtmpProtocolError(RtmpError):
    """The peer broke the RTMP protocol; its connection is closed."""

    code = "rtmp_protocol_error"


# -- handshake -----------------------------------------------------------------------------


class HandshakeError(RtmpProtocolError):
    """The RTMP handshake was malformed."""

    code = "rtmp_handshake_failed"


class UnsupportedVersion(HandshakeError):
    """The client asked for an RTMP version other than 3 (e.g. RTMPE, version 6)."""

    code = "rtmp_unsupported_version"


# -- timers --------------------------------------------------------------------------------


class HandshakeTimeout(RtmpProtocolError):
    """The handshake did not complete in time."""

    code = "rtmp_handshake_timeout"


class SetupTimeout(RtmpProtocolError):
    """The client did not ask to publish in time after connecting."""

    code = "rtmp_setup_timeout"


class IdleTimeout(RtmpProtocolError):
    """Nothing arrived from the peer for too long."""

    code = "rtmp_idle_timeout"


# -- chunk stream --------------------------------------------------------------------------


class ChunkStreamError(RtmpProtocolError):
    """A chunk header does not fit the state of its chunk stream."""

    code = "rtmp_chunk_stream_error"


class InvalidChunkSize(RtmpProtocolError):
    """Set Chunk Size carried zero or a value with the reserved top bit set."""

    code = "rtmp_invalid_chunk_size"


class ChunkSizeTooLarge(RtmpProtocolError):
    """Set Chunk Size asked for more than the configured maximum."""

    code = "rtmp_chunk_size_too_large"


class MessageTooLarge(RtmpProtocolError):
    """A message declared a length above the configured maximum."""

    code = "rtmp_message_too_large"


class BufferLimitExceeded(RtmpProtocolError):
    """The connection buffered more unfinished bytes than allowed."""

    code = "rtmp_buffer_limit_exceeded"


class TooManyChunkStreams(RtmpProtocolError):
    """The peer opened more chunk streams than allowed."""

    code = "rtmp_too_many_chunk_streams"


class MalformedMessage(RtmpProtocolError):
    """A protocol control or user control message has the wrong shape."""

    code = "rtmp_malformed_message"


# -- AMF0 ----------------------------------------------------------------------------------


class AmfDecodeError(RtmpProtocolError):
    """An AMF0 value is malformed or truncated."""

    code = "rtmp_amf_decode_error"


class AmfDepthExceeded(AmfDecodeError):
    """AMF0 values are nested deeper than allowed."""

    code = "rtmp_amf_depth_exceeded"


class AmfEncodeError(RtmpError):
    """A Python value has no AMF0 encoding (a programming error on our side)."""

    code = "rtmp_amf_encode_error"


# -- commands ------------------------------------------------------------------------------


class CommandError(RtmpProtocolError):
    """A command is malformed or not allowed in the connection's current state."""

    code = "rtmp_bad_command"


class TooManyStreams(CommandError):
    """The client called createStream more often than allowed."""

    code = "rtmp_too_many_streams"


class CommandTooLarge(RtmpProtocolError):
    """A command or data message is larger than the configured maximum."""

    code = "rtmp_command_too_large"


# -- local misuse --------------------------------------------------------------------------


class LocalProtocolError(RtmpError):
    """Our own code used the connection wrongly (e.g. accepted a publish nobody asked for)."""

    code = "rtmp_local_protocol_error"
    http_status = 500
