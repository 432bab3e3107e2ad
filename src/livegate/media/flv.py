"""FLV framing: RTMP media messages to an FLV byte stream and back.

An RTMP audio (8), video (9) or data (18) message body *is* an FLV tag body, so the
pipeline turns the messages it receives into an FLV byte stream (header + tags) that
FFmpeg's FLV demuxer reads, and the recorder writes the very same bytes to disk. The
parser goes the other way: it splits an FLV file or byte stream into tags, which the tests
use to make :class:`~livegate.media.types.MediaMessage` s from an FLV that PyAV encoded, and
which replay and evidence tools use to walk a recording without FFmpeg.

Only the framing is parsed here, plus the first byte or two of each body, which say the
codec, whether a video frame is a keyframe and whether a message is a sequence header
(decoder configuration). Nothing here decodes media.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from livegate.media.errors import CorruptMedia
from livegate.media.types import MediaKind, MediaMessage

TAG_AUDIO: Final = 8
TAG_VIDEO: Final = 9
TAG_SCRIPT: Final = 18

HEADER_FLAG_AUDIO: Final = 0x04
HEADER_FLAG_VIDEO: Final = 0x01

TAG_HEADER_SIZE: Final = 11
FILE_HEADER_SIZE: Final = 9
#: The body size field is 24 bits; this is the largest tag body FLV can carry.
MAX_TAG_BODY: Final = 0xFFFFFF

_KIND_TO_TYPE: Final[dict[str, int]] = {"audio": TAG_AUDIO, "video": TAG_VIDEO, "data": TAG_SCRIPT}
_TYPE_TO_KIND: Final[dict[int, MediaKind]] = {TAG_AUDIO: "audio", TAG_VIDEO: "video", TAG_SCRIPT: "data"}

#: Legacy FLV video codec ids (low nibble of the first body byte).
VIDEO_CODECS: Final[dict[int, str]] = {
    2: "h263",
    3: "screen",
    4: "vp6",
    5: "vp6a",
    6: "screen2",
    7: "h264",
    12: "hevc",  # not in the Adobe spec, but widely used before enhanced RTMP
}
#: Enhanced RTMP video FourCCs.
VIDEO_FOURCCS: Final[dict[bytes, str]] = {b"avc1": "h264", b"hvc1": "hevc", b"av01": "av1", b"vp09": "vp9"}
#: Legacy FLV sound formats (high nibble of the first body byte).
AUDIO_CODECS: Final[dict[int, str]] = {
    0: "pcm",
    1: "adpcm",
    2: "mp3",
    3: "pcm_le",
    4: "nellymoser",
    5: "nellymoser",
    6: "nellymoser",
    7: "pcm_alaw",
    8: "pcm_mulaw",
    10: "aac",
    11: "speex",
    14: "mp3",
    15: "device",
}
AUDIO_FOURCCS: Final[dict[bytes, str]] = {
    b"Opus": "opus",
    b"fLaC": "flac",
    b".mp3": "mp3",
    b"mp4a": "aac",
    b"ac-3": "ac3",
    b"ec-3": "eac3",
}


@dataclass(frozen=True, slots=True)
class FlvTag:
    """One tag of an FLV stream; ``offset`` is where its header starts in the stream."""

    kind: MediaKind
    timestamp_ms: int
    body: bytes
    offset: int = 0

    def to_message(self) -> MediaMessage:
        return MediaMessage(self.kind, self.timestamp_ms, self.body)


@dataclass(frozen=True, slots=True)
class VideoInfo:
    codec: str  # "h264", "hevc", ... or "unknown:<id>"
    keyframe: bool
    sequence_header: bool  # decoder configuration, not a picture
    command: bool  # frame type 5: video info/command, carries no picture
    end_of_sequence: bool = False

    @property
    def picture(self) -> bool:
        """Whether the message carries coded picture data."""
        return not (self.sequence_header or self.command or self.end_of_sequence)


@dataclass(frozen=True, slots=True)
class AudioInfo:
    codec: str
    sequence_header: bool


def file_header(*, audio: bool, video: bool) -> bytes:
    """The 9-byte FLV header plus PreviousTagSize0."""
    flags = (HEADER_FLAG_AUDIO if audio else 0) | (HEADER_FLAG_VIDEO if video else 0)
    return b"FLV\x01" + bytes([flags]) + struct.pack(">I", FILE_HEADER_SIZE) + b"\x00\x00\x00\x00"


def tag_frame(kind: MediaKind, timestamp_ms: int, size: int) -> tuple[bytes, bytes]:
    """The 11-byte tag header and the 4-byte PreviousTagSize that enclose a body of ``size``."""
    if size > MAX_TAG_BODY:
        raise CorruptMedia("media message too large for an FLV tag", size=size)
    ts = timestamp_ms & 0xFFFFFFFF
    # type, 24-bit size, 24-bit timestamp + its upper 8 bits, 24-bit stream id (always 0)
    header = _TAG_HEADER.pack(_KIND_TO_TYPE[kind], size >> 16, size & 0xFFFF, (ts >> 16) & 0xFF, ts & 0xFFFF,
                              (ts >> 24) & 0xFF, 0, 0)
    return header, _PREVIOUS_SIZE.pack(TAG_HEADER_SIZE + size)


_TAG_HEADER = struct.Struct(">BBHBHBBH")
_PREVIOUS_SIZE = struct.Struct(">I")


def encode_tag(kind: MediaKind, timestamp_ms: int, body: bytes) -> bytes:
    """One FLV tag (header, body, PreviousTagSize) for a message of ``kind``.

    Timestamps are kept modulo 2**32, as RTMP's are; bodies above the 24-bit size limit
    cannot be framed and raise :class:`CorruptMedia`.
    """
    header, trailer = tag_frame(kind, timestamp_ms, len(body))
    return header + body + trailer


def encode_message(message: MediaMessage) -> bytes:
    return encode_tag(message.kind, message.timestamp_ms, message.payload)


class FlvParser:
    """Incremental FLV parser: ``feed(bytes)`` returns the tags completed so far.

    It checks the signature and each tag's framing; a stream that is not FLV raises
    :class:`CorruptMedia` and the parser stays failed (like h11's ERROR state), so a caller
    cannot resynchronise into garbage by accident.
    """

    def __init__(self, *, max_tag_body: int = MAX_TAG_BODY) -> None:
        self._buffer = bytearray()
        self._offset = 0  # stream offset of _buffer[0]
        self._header_done = False
        self._failed: CorruptMedia | None = None
        self._max_tag_body = max_tag_body
        self.has_audio = False
        self.has_video = False

    def feed(self, data: bytes) -> list[FlvTag]:
        if self._failed is not None:
            raise self._failed
        self._buffer += data
        try:
            return list(self._drain())
        except CorruptMedia as exc:
            self._failed = exc
            raise

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete tag (a truncated tail)."""
        return len(self._buffer)

    def _drain(self) -> Iterator[FlvTag]:
        buf = self._buffer
        pos = 0
        if not self._header_done:
            if len(buf) < FILE_HEADER_SIZE + 4:
                return
            if bytes(buf[:3]) != b"FLV":
                raise CorruptMedia("not an FLV stream: bad signature")
            data_offset = struct.unpack_from(">I", buf, 5)[0]
            if data_offset < FILE_HEADER_SIZE or data_offset > 1024:
                raise CorruptMedia("not an FLV stream: bad header size", size=data_offset)
            if len(buf) < data_offset + 4:
                return
            self.has_audio = bool(buf[4] & HEADER_FLAG_AUDIO)
            self.has_video = bool(buf[4] & HEADER_FLAG_VIDEO)
            pos = data_offset + 4
            self._header_done = True
        try:
            while len(buf) - pos >= TAG_HEADER_SIZE:
                tag_type = buf[pos] & 0x1F
                if buf[pos] & 0x20:
                    raise CorruptMedia("encrypted FLV tags are not supported", offset=self._offset + pos)
                size = int.from_bytes(buf[pos + 1 : pos + 4], "big")
                if size > self._max_tag_body:
                    raise CorruptMedia("FLV tag too large", size=size, offset=self._offset + pos)
                end = pos + TAG_HEADER_SIZE + size + 4
                if len(buf) < end:
                    break
                ts = int.from_bytes(buf[pos + 4 : pos + 7], "big") | (buf[pos + 7] << 24)
                body = bytes(buf[pos + TAG_HEADER_SIZE : pos + TAG_HEADER_SIZE + size])
                kind = _TYPE_TO_KIND.get(tag_type)
                start = self._offset + pos
                pos = end
                if kind is not None:  # other tag types are skipped, as FFmpeg does
                    yield FlvTag(kind, ts, body, start)
        finally:
            del buf[:pos]
            self._offset += pos


def iter_tags(data: bytes | Iterable[bytes]) -> Iterator[FlvTag]:
    """All complete tags of an FLV given as bytes or as chunks; a truncated tail is ignored."""
    parser = FlvParser()
    chunks: Iterable[bytes] = [data] if isinstance(data, bytes | bytearray) else data
    for chunk in chunks:
        yield from parser.feed(bytes(chunk))


def read_messages(data: bytes) -> list[MediaMessage]:
    """The media messages an RTMP publisher would send for this FLV file."""
    return [tag.to_message() for tag in iter_tags(data)]


def video_info(body: bytes) -> VideoInfo:
    """Codec, keyframe and sequence-header flags of a video tag body (legacy or enhanced)."""
    if not body:
        raise CorruptMedia("empty video message")
    first = body[0]
    if first & 0x80:  # enhanced RTMP: IsExHeader
        frame_type = (first >> 4) & 0x07
        packet_type = first & 0x0F
        if packet_type == 7:  # ModEx: not used by any encoder we accept
            raise CorruptMedia("enhanced RTMP ModEx video packets are not supported")
        if len(body) < 5:
            raise CorruptMedia("truncated enhanced RTMP video header")
        fourcc = bytes(body[1:5])
        codec = VIDEO_FOURCCS.get(fourcc, "unknown:" + fourcc.hex())
        return VideoInfo(
            codec=codec,
            keyframe=frame_type == 1,
            sequence_header=packet_type == 0,
            command=frame_type == 5 or packet_type == 4,
            end_of_sequence=packet_type == 2,
        )
    frame_type = first >> 4
    codec_id = first & 0x0F
    codec = VIDEO_CODECS.get(codec_id, f"unknown:{codec_id}")
    sequence_header = end_of_sequence = False
    if codec_id in (7, 12) and frame_type != 5:
        if len(body) < 5:
            raise CorruptMedia("truncated AVC video message")
        sequence_header = body[1] == 0
        end_of_sequence = body[1] == 2
    return VideoInfo(codec=codec, keyframe=frame_type == 1, sequence_header=sequence_header,
                     command=frame_type == 5, end_of_sequence=end_of_sequence)


def audio_info(body: bytes) -> AudioInfo:
    if not body:
        raise CorruptMedia("empty audio message")
    fmt = body[0] >> 4
    if fmt == 9:  # enhanced RTMP audio: ExHeader
        if len(body) < 5:
            raise CorruptMedia("truncated enhanced RTMP audio header")
        fourcc = bytes(body[1:5])
        return AudioInfo(AUDIO_FOURCCS.get(fourcc, "unknown:" + fourcc.hex()), (body[0] & 0x0F) == 0)
    codec = AUDIO_CODECS.get(fmt, f"unknown:{fmt}")
    if fmt == 10:
        if len(body) < 2:
            raise CorruptMedia("truncated AAC audio message")
        return AudioInfo(codec, body[1] == 0)
    return AudioInfo(codec, False)


def script_name(body: bytes) -> str | None:
    """The AMF0 string that names a data message (``onMetaData``, ``@setDataFrame``...)."""
    if len(body) < 3 or body[0] != 0x02:
        return None
    size = int.from_bytes(body[1:3], "big")
    if len(body) < 3 + size:
        return None
    return body[3 : 3 + size].decode("utf-8", "replace")


def strip_set_data_frame(body: bytes) -> bytes:
    """``@setDataFrame "onMetaData" {...}`` as sent over RTMP becomes ``"onMetaData" {...}``.

    That is how the metadata is stored in an FLV file; FFmpeg ignores a script tag whose
    first string it does not know.
    """
    name = script_name(body)
    if name == "@setDataFrame":
        return body[3 + len(name.encode("utf-8")) :]
    return body
