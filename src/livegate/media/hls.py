"""HLS media playlists, written by us rather than by FFmpeg's HLS muxer.

We need control FFmpeg's muxer does not give: a segment enters the playlist only when the
broadcast delay lets it, never after a cut-off, and the playlist ends (``EXT-X-ENDLIST``)
the moment a stream is cut off. So FFmpeg writes each segment file and this module writes
the playlist (RFC 8216, version 3: decimal ``EXTINF``), with ``EXT-X-PROGRAM-DATE-TIME`` on
every segment so players, reviewers and the audit log can tie a segment to wall-clock
time, and, in overlay mode, the platform mark as an ``EXT-X-DATERANGE`` with ``X-``
attributes that the player draws.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from livegate.media.layout import atomic_write


def format_date(value: dt.datetime) -> str:
    """ISO 8601 with milliseconds and ``Z``, the form HLS players parse everywhere."""
    utc = value.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _quote(value: str) -> str:
    # quoted-string may not contain CR, LF or '"'
    return '"' + value.replace('"', "'").replace("\r", " ").replace("\n", " ") + '"'


@dataclass(frozen=True, slots=True)
class PlaylistSegment:
    uri: str
    duration: float
    program_date_time: dt.datetime
    sequence: int


@dataclass(frozen=True, slots=True)
class DateRange:
    """An ``EXT-X-DATERANGE``; ``attributes`` become ``X-<KEY>`` quoted strings."""

    id: str
    start: dt.datetime
    cls: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()

    def render(self) -> str:
        parts = [f"ID={_quote(self.id)}"]
        if self.cls:
            parts.append(f"CLASS={_quote(self.cls)}")
        parts.append(f"START-DATE={_quote(format_date(self.start))}")
        for key, value in self.attributes:
            parts.append(f"X-{key.upper()}={_quote(value)}")
        return "#EXT-X-DATERANGE:" + ",".join(parts)


def target_duration(durations: list[float], minimum: float) -> int:
    """Smallest integer that every EXTINF, rounded to the nearest integer, does not exceed."""
    return max([1, math.ceil(minimum - 1e-9)] + [int(math.floor(d + 0.5)) for d in durations])


def render_playlist(
    segments: list[PlaylistSegment],
    *,
    target: int,
    ended: bool,
    vod: bool = False,
    dateranges: tuple[DateRange, ...] = (),
) -> str:
    first_seq = segments[0].sequence if segments else 0
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target}",
        f"#EXT-X-MEDIA-SEQUENCE:{first_seq}",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    if vod:
        lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
    lines.extend(d.render() for d in dateranges)
    for seg in segments:
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{format_date(seg.program_date_time)}")
        lines.append(f"#EXTINF:{seg.duration:.3f},")
        lines.append(seg.uri)
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


class LivePlaylist:
    """The sliding-window live playlist of one stream session, rewritten atomically on change.

    Not thread-safe: the pipeline calls it under its publication lock.
    """

    def __init__(self, path: Path, *, window: int, segment_seconds: float,
                 dateranges: tuple[DateRange, ...] = ()) -> None:
        self.path = path
        self.window = window
        self.segment_seconds = segment_seconds
        self.dateranges = dateranges
        self._listed: deque[PlaylistSegment] = deque()
        self._all_durations: list[float] = []
        self.ended = False

    @property
    def listed(self) -> list[PlaylistSegment]:
        return list(self._listed)

    def add(self, segment: PlaylistSegment) -> list[PlaylistSegment]:
        """Append a segment and rewrite; returns the segments that slid out of the window."""
        if self.ended:
            raise RuntimeError("playlist already ended")
        self._listed.append(segment)
        self._all_durations.append(segment.duration)
        evicted = []
        while len(self._listed) > self.window:
            evicted.append(self._listed.popleft())
        self.write()
        return evicted

    def end(self) -> None:
        """Add ``EXT-X-ENDLIST`` (idempotent)."""
        if not self.ended:
            self.ended = True
            self.write()

    def render(self) -> str:
        return render_playlist(
            list(self._listed),
            target=target_duration(self._all_durations, self.segment_seconds),
            ended=self.ended,
            dateranges=self.dateranges,
        )

    def write(self) -> None:
        atomic_write(self.path, self.render())
