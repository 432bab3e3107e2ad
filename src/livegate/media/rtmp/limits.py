"""Every bound the RTMP ingest enforces, in one place.

A publisher is an untrusted peer on the open internet: each buffer, counter and timer it
can grow has a named limit here, and exceeding one raises a specific error that closes
only that connection. The wire settings we announce to clients live here too, because
they size the same buffers on the other side.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RtmpLimits:
    # -- what we accept from a peer ----------------------------------------------------------
    max_chunk_size: int = 65536
    """Largest Set Chunk Size a peer may announce (the spec allows 2**31-1; nobody needs it)."""

    max_message_size: int = 8 * 1024 * 1024
    """Largest message length a chunk header may declare; a 1080p keyframe is well below."""

    max_command_size: int = 64 * 1024
    """Largest AMF command or data message; they carry a few names and numbers."""

    max_buffered_bytes: int = 16 * 1024 * 1024
    """Unparsed bytes plus unfinished messages, summed over all chunk streams of a connection."""

    max_chunk_streams: int = 64
    """Distinct chunk stream ids a connection may use; each costs a little state."""

    max_streams: int = 8
    """createStream calls per connection; a publisher needs one."""

    max_amf_depth: int = 16
    """Nesting depth of AMF objects and arrays; bounds recursion in the decoder."""

    handshake_timeout: float = 10.0
    """Seconds from accept until C2 has arrived."""

    setup_timeout: float = 30.0
    """Seconds from accept until the client has asked to publish."""

    idle_timeout: float = 30.0
    """Seconds without a single byte from the peer before we give up on it."""

    ping_interval: float | None = 10.0
    """Seconds of silence after which we send a PingRequest, so a live peer answers."""

    max_connections: int = 512
    """Concurrent TCP connections the server adapter accepts; more are closed at once."""

    # -- what we announce --------------------------------------------------------------------
    server_chunk_size: int = 4096
    """Chunk size we send with (announced by Set Chunk Size right after connect)."""

    ack_window: int = 2_500_000
    """Window Acknowledgement Size we announce, and use until the peer announces its own."""

    peer_bandwidth: int = 2_500_000
    """Set Peer Bandwidth we announce (dynamic limit)."""

    def __post_init__(self) -> None:
        positive = {
            "max_chunk_size": self.max_chunk_size,
            "max_message_size": self.max_message_size,
            "max_command_size": self.max_command_size,
            "max_buffered_bytes": self.max_buffered_bytes,
            "max_chunk_streams": self.max_chunk_streams,
            "max_streams": self.max_streams,
            "max_amf_depth": self.max_amf_depth,
            "handshake_timeout": self.handshake_timeout,
            "setup_timeout": self.setup_timeout,
            "idle_timeout": self.idle_timeout,
            "max_connections": self.max_connections,
            "server_chunk_size": self.server_chunk_size,
            "ack_window": self.ack_window,
            "peer_bandwidth": self.peer_bandwidth,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"RtmpLimits.{name} must be positive, got {value!r}")
        if self.ping_interval is not None and self.ping_interval <= 0:
            raise ValueError("RtmpLimits.ping_interval must be positive or None")
        if self.max_chunk_size < 128:
            raise ValueError("RtmpLimits.max_chunk_size must be at least 128, the protocol default")
        if not 128 <= self.server_chunk_size <= 0x7FFFFFFF:
            raise ValueError("RtmpLimits.server_chunk_size must be in 128..2**31-1")
        if self.max_buffered_bytes < self.max_message_size + self.max_chunk_size:
            # One full message plus the chunk that completes it must always fit.
            raise ValueError("RtmpLimits.max_buffered_bytes must hold max_message_size + max_chunk_size")
        if self.max_command_size > self.max_message_size:
            raise ValueError("RtmpLimits.max_command_size must not exceed max_message_size")
