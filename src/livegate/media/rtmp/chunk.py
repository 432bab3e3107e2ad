"""The RTMP chunk stream: messages cut into chunks and interleaved (RTMP spec 5.3).

A chunk is a basic header (format and chunk stream id, 1-3 bytes), a message header whose
size depends on the format, an optional 4-byte extended timestamp, and up to ``chunk_size``
bytes of the message. Headers are delta-compressed against the previous header on the
same chunk stream:

===  =====  ========================================================================
fmt  bytes  carries
===  =====  ========================================================================
0    11     absolute timestamp, length, type id, message stream id
1    7      timestamp delta, length, type id (same message stream)
2    3      timestamp delta (same length, type, stream)
3    0      nothing: a continuation, or a new message repeating the previous delta
===  =====  ========================================================================

A timestamp (or delta) field of 0xFFFFFF means a 4-byte extended timestamp follows. As
ffmpeg writes and reads it, type 3 chunks repeat the extended field whenever the last full
header on their chunk stream used it; a type 3 chunk that starts a new message takes its
delta from that repeated field.

The reader hands out one complete message at a time (:meth:`ChunkReader.next_message`),
because a Set Chunk Size or Abort message changes how the very next chunk must be read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from livegate.media.rtmp.errors import (
    BufferLimitExceeded,
    ChunkSizeTooLarge,
    ChunkStreamError,
    InvalidChunkSize,
    MessageTooLarge,
    TooManyChunkStreams,
)
from livegate.media.rtmp.limits import RtmpLimits

DEFAULT_CHUNK_SIZE: Final = 128
MAX_CHUNK_STREAM_ID: Final = 65599
EXTENDED: Final = 0xFFFFFF
_MASK32: Final = 0xFFFFFFFF
_HEADER_SIZES: Final = (11, 7, 3, 0)


@dataclass(frozen=True, slots=True)
class RtmpMessage:
    """One reassembled RTMP message; ``timestamp`` is absolute, in ms, modulo 2**32."""

    chunk_stream_id: int
    type_id: int
    stream_id: int
    timestamp: int
    payload: bytes


class _InboundChunkStream:
    __slots__ = ("timestamp", "delta", "ts_field", "length", "type_id", "stream_id", "partial")

    def __init__(self) -> None:
        self.timestamp = 0
        self.delta = 0
        self.ts_field = 0
        self.length = 0
        self.type_id = 0
        self.stream_id = 0
        self.partial: bytearray | None = None


class ChunkReader:
    """Reassembles messages from chunk bytes, within :class:`RtmpLimits`."""

    def __init__(self, limits: RtmpLimits) -> None:
        self.limits = limits
        self.chunk_size = DEFAULT_CHUNK_SIZE
        self._buf = bytearray()
        self._pos = 0
        self._streams: dict[int, _InboundChunkStream] = {}
        self._partial_bytes = 0

    @property
    def buffered_bytes(self) -> int:
        """Unparsed bytes plus the bytes of every unfinished message."""
        return len(self._buf) - self._pos + self._partial_bytes

    def receive(self, data: bytes | bytearray | memoryview) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def set_chunk_size(self, size: int) -> None:
        """Apply a peer's Set Chunk Size to the chunks that follow it."""
        if size <= 0 or size > 0x7FFFFFFF:
            raise InvalidChunkSize("Set Chunk Size must be in 1..2**31-1", size=size)
        if size > self.limits.max_chunk_size:
            raise ChunkSizeTooLarge(
                "Set Chunk Size is above the limit", size=size, limit=self.limits.max_chunk_size
            )
        self.chunk_size = size

    def abort(self, chunk_stream_id: int) -> None:
        """Drop the unfinished message on a chunk stream (the Abort message)."""
        stream = self._streams.get(chunk_stream_id)
        if stream is not None and stream.partial is not None:
            self._partial_bytes -= len(stream.partial)
            stream.partial = None

    def next_message(self) -> RtmpMessage | None:
        """The next complete message, or ``None`` when more bytes are needed."""
        buf = self._buf
        while True:
            message, consumed = self._one_chunk(buf, self._pos)
            if consumed == 0:
                if self.buffered_bytes > self.limits.max_buffered_bytes:
                    raise BufferLimitExceeded(
                        "too many bytes buffered", buffered=self.buffered_bytes,
                        limit=self.limits.max_buffered_bytes,
                    )
                return None
            self._pos += consumed
            if message is not None:
                return message

    def _one_chunk(self, buf: bytearray, pos: int) -> tuple[RtmpMessage | None, int]:
        """Parse one chunk at ``pos``; commit state only when the whole chunk is there."""
        avail = len(buf) - pos
        if avail < 1:
            return None, 0
        first = buf[pos]
        fmt = first >> 6
        csid = first & 0x3F
        need = 1
        if csid == 0:
            need = 2
            if avail < need:
                return None, 0
            csid = 64 + buf[pos + 1]
        elif csid == 1:
            need = 3
            if avail < need:
                return None, 0
            csid = 64 + buf[pos + 1] + (buf[pos + 2] << 8)
        header_at = pos + need
        need += _HEADER_SIZES[fmt]
        if avail < need:
            return None, 0

        stream = self._streams.get(csid)
        if stream is None:
            if fmt >= 2:
                raise ChunkStreamError(
                    "a chunk stream must start with a full header", chunk_stream_id=csid, fmt=fmt
                )
            if len(self._streams) >= self.limits.max_chunk_streams:
                raise TooManyChunkStreams(
                    "too many chunk streams", limit=self.limits.max_chunk_streams
                )

        ts_field = stream.ts_field if stream is not None else 0
        length = stream.length if stream is not None else 0
        type_id = stream.type_id if stream is not None else 0
        stream_id = stream.stream_id if stream is not None else 0
        if fmt <= 2:
            ts_field = int.from_bytes(buf[header_at : header_at + 3], "big")
        if fmt <= 1:
            length = int.from_bytes(buf[header_at + 3 : header_at + 6], "big")
            type_id = buf[header_at + 6]
        if fmt == 0:
            stream_id = int.from_bytes(buf[header_at + 7 : header_at + 11], "little")

        timestamp_value = ts_field
        if ts_field == EXTENDED:
            if avail < need + 4:
                return None, 0
            timestamp_value = int.from_bytes(buf[pos + need : pos + need + 4], "big")
            need += 4

        continuing = stream is not None and stream.partial is not None
        if continuing and fmt != 3:
            raise ChunkStreamError(
                "a new message header arrived before the previous message was complete",
                chunk_stream_id=csid, fmt=fmt,
            )
        if not continuing and length > self.limits.max_message_size:
            raise MessageTooLarge(
                "message is larger than the limit", length=length, limit=self.limits.max_message_size
            )
        already = len(stream.partial) if stream is not None and stream.partial is not None else 0
        take = min(self.chunk_size, length - already)
        if avail < need + take:
            return None, 0

        # -- the whole chunk is here: commit ---------------------------------------------------
        if stream is None:
            stream = _InboundChunkStream()
            self._streams[csid] = stream
        start = pos + need
        consumed = need + take
        if continuing:
            assert stream.partial is not None
            stream.partial += memoryview(buf)[start : start + take]  # no intermediate copy
            self._partial_bytes += take
        else:
            if fmt == 0:
                stream.timestamp = timestamp_value
                stream.delta = timestamp_value
            elif fmt in (1, 2):
                stream.delta = timestamp_value
                stream.timestamp = (stream.timestamp + timestamp_value) & _MASK32
            else:
                if ts_field == EXTENDED:
                    stream.delta = timestamp_value
                stream.timestamp = (stream.timestamp + stream.delta) & _MASK32
            stream.ts_field = ts_field
            stream.length = length
            stream.type_id = type_id
            stream.stream_id = stream_id
            if take < length:
                stream.partial = buf[start : start + take]  # a new bytearray already
                self._partial_bytes += take
                return None, consumed
            body = bytes(memoryview(buf)[start : start + take])
            return RtmpMessage(csid, type_id, stream_id, stream.timestamp, body), consumed

        if len(stream.partial) < stream.length:
            return None, consumed
        payload = bytes(stream.partial)
        self._partial_bytes -= len(stream.partial)
        stream.partial = None
        return RtmpMessage(csid, stream.type_id, stream.stream_id, stream.timestamp, payload), consumed


class _OutboundChunkStream:
    __slots__ = ("timestamp", "delta", "ts_field", "length", "type_id", "stream_id")

    def __init__(self, timestamp: int, delta: int, ts_field: int, length: int, type_id: int, sid: int):
        self.timestamp = timestamp
        self.delta = delta
        self.ts_field = ts_field
        self.length = length
        self.type_id = type_id
        self.stream_id = sid


def basic_header(fmt: int, csid: int) -> bytes:
    """The 1-, 2- or 3-byte basic header for a chunk stream id in 2..65599."""
    if not 2 <= csid <= MAX_CHUNK_STREAM_ID:
        raise ValueError(f"chunk stream id {csid} is outside 2..{MAX_CHUNK_STREAM_ID}")
    if csid < 64:
        return bytes([(fmt << 6) | csid])
    if csid < 320:
        return bytes([fmt << 6, csid - 64])
    rest = csid - 64
    return bytes([(fmt << 6) | 1, rest & 0xFF, rest >> 8])


class ChunkWriter:
    """Cuts messages into chunks.

    With ``compress`` it picks the smallest header each message allows (fmt 1, 2 or 3), as
    ffmpeg and OBS do; without it every message starts with a full fmt 0 header, which is
    what the server sends (its few messages gain nothing from compression).
    """

    def __init__(self, chunk_size: int = DEFAULT_CHUNK_SIZE, *, compress: bool = False) -> None:
        self.chunk_size = chunk_size
        self.compress = compress
        self._streams: dict[int, _OutboundChunkStream] = {}

    def write(self, message: RtmpMessage) -> bytes:
        csid = message.chunk_stream_id
        timestamp = message.timestamp & _MASK32
        length = len(message.payload)
        if length > 0xFFFFFF:
            raise ValueError("RTMP messages are at most 16 MiB - 1")
        prev = self._streams.get(csid)
        fmt = 0
        value = timestamp
        if self.compress and prev is not None and prev.stream_id == message.stream_id:
            delta = (timestamp - prev.timestamp) & _MASK32
            if delta < 0x80000000:  # forward in time: deltas are meaningful
                value = delta
                if prev.type_id == message.type_id and prev.length == length:
                    fmt = 3 if delta == prev.delta else 2
                else:
                    fmt = 1
        ts_field = EXTENDED if value >= EXTENDED else value
        if fmt == 3:
            ts_field = prev.ts_field if prev is not None else ts_field
        extended = value.to_bytes(4, "big") if ts_field == EXTENDED else b""

        out = bytearray(basic_header(fmt, csid))
        if fmt <= 2:
            out += ts_field.to_bytes(3, "big")
        if fmt <= 1:
            out += length.to_bytes(3, "big")
            out.append(message.type_id)
        if fmt == 0:
            out += message.stream_id.to_bytes(4, "little")
        out += extended
        payload = message.payload
        out += payload[: self.chunk_size]
        continuation = basic_header(3, csid) + extended
        for start in range(self.chunk_size, length, self.chunk_size):
            out += continuation
            out += payload[start : start + self.chunk_size]

        self._streams[csid] = _OutboundChunkStream(
            timestamp, value, ts_field, length, message.type_id, message.stream_id
        )
        return bytes(out)
