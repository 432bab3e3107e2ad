"""The retention copy of every accepted stream: exactly what the publisher sent, as FLV.

The Measures require live content to be kept (and producible to the authorities) whether
or not it was ever shown, so recording does not depend on the public playlist, the delay
or a cut-off: every media message the stream received is appended as an FLV tag, and the
file is finished and indexed after a cut-off, an error or a normal end alike. FLV is
append-only, so even a crash leaves a file that FFmpeg can read up to the last whole tag.

Next to it, ``<session>.json`` records when the stream started and ended, why it ended,
the publisher's metadata and a keyframe index (timestamp, byte offset) for seeking
into evidence without scanning the file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from livegate.media.flv import encode_message, file_header, tag_frame, video_info
from livegate.media.layout import MediaLayout, atomic_write
from livegate.media.types import MediaKind, MediaMessage

#: Flush to the OS at most this often (bytes), so a crash loses little and writes stay large.
FLUSH_BYTES = 256 * 1024


@dataclass(slots=True)
class RecordingIndex:
    room: str
    session: str
    started_at: str
    path: str
    has_audio: bool = False
    has_video: bool = False
    ended_at: str | None = None
    end_reason: str | None = None
    end_code: str | None = None
    bytes: int = 0
    tags: int = 0
    first_timestamp_ms: int | None = None
    last_timestamp_ms: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    keyframes: list[tuple[int, int]] = field(default_factory=list)  # (timestamp_ms, byte offset)

    def to_json(self) -> str:
        body = {k: getattr(self, k) for k in self.__slots__}  # type: ignore[attr-defined]
        return json.dumps(body, ensure_ascii=False, default=str, indent=1)


class Recorder:
    """Writes one session's FLV and index. Used from the pipeline's worker thread only."""

    def __init__(self, layout: MediaLayout, room: str, session: str, *, started_at: dt.datetime) -> None:
        self.path = layout.recording(room, session)
        self.index_path = layout.recording_index(room, session)
        self.index = RecordingIndex(room=room, session=session, started_at=started_at.isoformat(),
                                    path=str(self.path))
        self._fh: IO[bytes] | None = None
        self._unflushed = 0
        self.closed = False

    def open(self, *, audio: bool, video: bool, metadata: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # a buffer as large as the flush interval: one write(2) per flush, not one per big tag
        self._fh = open(self.path, "wb", buffering=FLUSH_BYTES)  # noqa: SIM115 - lives as long as the stream
        header = file_header(audio=audio, video=video)
        self._fh.write(header)
        self.index.bytes = len(header)
        self.index.has_audio, self.index.has_video = audio, video
        self.index.metadata = _jsonable(metadata)
        atomic_write(self.index_path, self.index.to_json())

    @property
    def is_open(self) -> bool:
        return self._fh is not None

    def write(self, message: MediaMessage, tag: bytes | None = None, *, keyframe: bool | None = None) -> None:
        """Append one message; ``tag`` is its FLV encoding and ``keyframe`` whether it is a
        picture that starts a GOP, if the caller knows them already."""
        if self._fh is None:
            return
        data = tag if tag is not None else encode_message(message)
        if keyframe is not None:
            if keyframe:
                self.index.keyframes.append((message.timestamp_ms, self.index.bytes))
        elif message.kind == "video":
            try:
                info = video_info(message.payload)
                if info.keyframe and info.picture:
                    self.index.keyframes.append((message.timestamp_ms, self.index.bytes))
            except Exception:  # noqa: BLE001, S110 - a bad message is still recorded, just not indexed
                pass
        self._fh.write(data)
        self.index.bytes += len(data)
        self.index.tags += 1
        if self.index.first_timestamp_ms is None:
            self.index.first_timestamp_ms = message.timestamp_ms
        self.index.last_timestamp_ms = message.timestamp_ms
        self._unflushed += len(data)
        if self._unflushed >= FLUSH_BYTES:
            self._fh.flush()
            self._unflushed = 0

    def write_body(self, kind: MediaKind, timestamp_ms: int, body: bytes, *, keyframe: bool) -> None:
        """:meth:`write` for a message known to be well-formed, without building its tag: the
        header, the body and the trailer go to the (buffered) file one after the other."""
        if self._fh is None:
            return
        header, trailer = tag_frame(kind, timestamp_ms, len(body))
        index = self.index
        if keyframe:
            index.keyframes.append((timestamp_ms, index.bytes))
        fh = self._fh
        fh.write(header)
        fh.write(body)
        fh.write(trailer)
        size = len(header) + len(body) + len(trailer)
        index.bytes += size
        index.tags += 1
        if index.first_timestamp_ms is None:
            index.first_timestamp_ms = timestamp_ms
        index.last_timestamp_ms = timestamp_ms
        self._unflushed += size
        if self._unflushed >= FLUSH_BYTES:
            fh.flush()
            self._unflushed = 0

    def close(self, *, ended_at: dt.datetime, reason: str, code: str) -> None:
        """Finish the file (fsync: this is the copy we must be able to produce) and the index."""
        if self.closed:
            return
        self.closed = True
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None
        self.index.ended_at = ended_at.isoformat()
        self.index.end_reason = reason
        self.index.end_code = code
        atomic_write(self.index_path, self.index.to_json())


    def set_outcome(self, *, reason: str, code: str) -> None:
        """A stream cut off after its input ended: the index says so."""
        self.index.end_reason = reason
        self.index.end_code = code
        atomic_write(self.index_path, self.index.to_json())


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def load_index(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result
