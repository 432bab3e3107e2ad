"""Cuts a stream's packets into short, keyframe-aligned MPEG-TS segment files.

Each segment is its own small PyAV ``mpegts`` muxer, so every file starts with PAT/PMT
and a keyframe and stands alone: a player can start at any segment, and a segment can be
held, published, withdrawn or deleted as one file. Segments are written under ``held/``
(first as ``.part``, renamed when complete); the pipeline decides when they become public.

A new segment starts at the first video keyframe once the current one has lasted about the
target duration (any audio packet, for audio-only streams). Timestamps are kept from the
source (plus a constant offset, see :data:`MUX_OFFSET_SECONDS`) so consecutive segments
join without gaps. Audio is held back until video has caught up to it, so that in burn mode,
where the encoder returns pictures a little late, a segment's audio and video cover the
same span.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.container import OutputContainer
from av.stream import Stream

from livegate.core.clock import Clock
from livegate.media.layout import MediaLayout

log = logging.getLogger(__name__)

#: Added to every muxed timestamp. Encoders emit decode timestamps before the first
#: presentation time (B-frames, AAC priming); MPEG-TS cannot carry negative ones and the
#: muxer would otherwise shift only the first segment, leaving a gap after it.
MUX_OFFSET_SECONDS = 10
#: Audio waits at most this long for video before it is written anyway (video stalled).
MAX_AUDIO_HOLD_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class FinishedSegment:
    """A complete segment file in ``held/``, not yet public."""

    seq: int
    name: str
    path: Path
    start_seconds: float  # source stream time of its first picture (or sample)
    duration: float
    program_date_time: dt.datetime
    finished_at: dt.datetime
    size: int


def _seconds(ts: int | None, tb: Fraction | None) -> float | None:
    if ts is None or tb is None:
        return None
    return float(ts * tb)


class Segmenter:
    """Packets in, segment files out; ``on_finished`` gets each one as it is closed.

    ``templates`` maps ``"video"``/``"audio"`` to the stream whose codec parameters the
    output streams copy: the input stream when copying, the encoder's stream when
    re-encoding.
    """

    def __init__(self, *, layout: MediaLayout, room: str, session: str, target_seconds: float,
                 templates: dict[str, Stream], clock: Clock,
                 wall_time: Callable[[float], dt.datetime],
                 on_finished: Callable[[FinishedSegment], None]) -> None:
        self.layout = layout
        self.room = room
        self.session = session
        self.target = target_seconds
        self.templates = templates
        self.has_video = "video" in templates
        self.clock = clock
        self.wall_time = wall_time
        self.on_finished = on_finished
        self.seq = 0
        self._out: OutputContainer | None = None
        self._streams: dict[str, Stream] = {}
        self._part: Path | None = None
        self._start: float | None = None  # segment start, source seconds
        self._end: float | None = None  # end of the latest clock-kind packet
        self._prev_t: float | None = None
        self._last_dts: dict[str, int] = {}
        # A kind's packets keep one time base (its stream's or its encoder's): reading it from
        # each packet makes a new Fraction, and Fraction arithmetic costs more than the mux.
        self._tb: dict[str, float] = {}
        self._offset: dict[str, int] = {}
        self._pending_audio: deque[tuple[av.Packet, float]] = deque()  # with its PTS in seconds
        self.dropped_packets = 0
        self.finished = 0
        layout.held_dir(room).mkdir(parents=True, exist_ok=True)

    # -- input -------------------------------------------------------------------------

    def _time_base(self, kind: str, packet: av.Packet) -> float | None:
        tb = self._tb.get(kind)
        if tb is None:
            exact = packet.time_base
            if exact is None:
                return None
            tb = self._tb[kind] = float(exact)
            self._offset[kind] = int(MUX_OFFSET_SECONDS / exact)
        return tb

    def video(self, packet: av.Packet) -> None:
        tb = self._time_base("video", packet)
        pts = packet.pts
        t = None if tb is None or pts is None else pts * tb
        if t is None:
            self.dropped_packets += 1
            return
        if packet.is_keyframe:
            if self._out is None:
                self._cut(t)  # audio that came before the first picture opens the segment
            elif self._start is not None and t - self._start >= 0.9 * self.target:
                self._flush_audio(before=t)
                self._cut(t)
        if self._out is None:  # no keyframe yet: nothing decodable to start a segment with
            self.dropped_packets += 1
            return
        dts = packet.dts
        self._write("video", packet, t)
        assert tb is not None
        self._flush_audio(before=dts * tb if dts is not None else t, inclusive=True)

    def audio(self, packet: av.Packet) -> None:
        tb = self._time_base("audio", packet)
        pts = packet.pts
        t = None if tb is None or pts is None else pts * tb
        if t is None:
            self.dropped_packets += 1
            return
        if not self.has_video:
            if self._out is None or (self._start is not None and t - self._start >= self.target - 1e-6):
                self._cut(t)
            self._write("audio", packet, t)
            return
        self._pending_audio.append((packet, t))
        first = self._pending_audio[0][1]
        if t - first > MAX_AUDIO_HOLD_SECONDS:
            # video has stalled (or never started): write the oldest audio, or drop it if no
            # segment is open yet, rather than hold it without bound
            self._flush_audio(before=t - MAX_AUDIO_HOLD_SECONDS, inclusive=True)

    def finish(self) -> None:
        """End of stream: write what is pending and close the last segment."""
        if self._out is not None:
            self._flush_audio(before=None)
        self._close(next_start=None)

    def abort(self) -> None:
        """Cut-off: close the open segment and delete it; it is never published."""
        self._pending_audio.clear()
        if self._out is not None:
            try:
                self._out.close()
            except av.FFmpegError:
                pass
            self._out = None
        if self._part is not None:
            self._part.unlink(missing_ok=True)
            self._part = None

    # -- internals ---------------------------------------------------------------------

    def _flush_audio(self, *, before: float | None, inclusive: bool = False) -> None:
        while self._pending_audio:
            pkt, t = self._pending_audio[0]
            if before is not None and (t > before if inclusive else t >= before):
                break
            self._pending_audio.popleft()
            if self._out is not None:
                self._write("audio", pkt, t)
            else:
                self.dropped_packets += 1

    def _cut(self, t: float) -> None:
        self._close(next_start=t)
        name = self.layout.segment_name(self.session, self.seq)
        self._part = self.layout.held_dir(self.room) / (name + ".part")
        out = av.open(str(self._part), "w", format="mpegts")
        self._streams = {kind: out.add_stream_from_template(tpl) for kind, tpl in self.templates.items()}
        self._out = out
        self._start = t
        self._end = t

    def _write(self, kind: str, packet: av.Packet, t: float | None) -> None:
        assert self._out is not None
        tb = self._time_base(kind, packet)
        dts = packet.dts
        if dts is None or tb is None:
            self.dropped_packets += 1
            return
        last = self._last_dts.get(kind)
        if last is not None and dts <= last:
            self.dropped_packets += 1  # the muxer refuses non-increasing DTS
            return
        self._last_dts[kind] = dts
        if t is not None and (kind == "video" or not self.has_video):
            dur = (packet.duration or 0) * tb
            if dur <= 0 and self._prev_t is not None and t > self._prev_t:
                dur = t - self._prev_t  # FLV carries no durations: assume the last interval
            self._prev_t = t
            self._end = max(self._end or t, t + dur)
        offset = self._offset[kind]
        packet.dts = dts + offset
        pts = packet.pts
        if pts is not None:
            packet.pts = pts + offset
        packet.stream = self._streams[kind]
        self._out.mux(packet)  # rebases the packet to the output time base

    def _close(self, *, next_start: float | None) -> None:
        if self._out is None or self._part is None or self._start is None:
            return
        self._out.close()
        self._out = None
        end = next_start if next_start is not None else (self._end or self._start)
        duration = max(0.001, end - self._start)
        name = self.layout.segment_name(self.session, self.seq)
        final = self.layout.held_segment(self.room, self.session, self.seq)
        os.replace(self._part, final)
        self._part = None
        segment = FinishedSegment(
            seq=self.seq,
            name=name,
            path=final,
            start_seconds=self._start,
            duration=duration,
            program_date_time=self.wall_time(self._start),
            finished_at=self.clock.now(),
            size=final.stat().st_size,
        )
        self.seq += 1
        self.finished += 1
        self._start = None
        self.on_finished(segment)
