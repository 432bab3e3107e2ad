"""Frame and audio taps: what review signals (hash banks, classifiers, ASR) look at.

The frame tap hands over one decoded picture every N seconds of stream time, as an RGB
array, as JPEG bytes (for people and HTTP classifiers) and with its timestamp. In copy
mode nothing else decodes video, so the tap decodes only the keyframe at or after each
due time (a keyframe decodes on its own), which keeps a 10-second tap at a small fraction of
a full decode. In burn mode the decoded frames are there anyway and the tap takes the
first frame at or after its due time.

The audio tap resamples decoded audio to mono 16-bit PCM (16 kHz by default, what speech
recognisers want) and hands it over in fixed-length chunks.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from av.video.codeccontext import VideoCodecContext
from PIL import Image

from livegate.core.clock import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SampledFrame:
    room: str
    session: str
    pts_seconds: float  # stream time of the picture
    captured_at: dt.datetime  # wall-clock time the picture was live
    width: int
    height: int
    rgb: np.ndarray  # height x width x 3, uint8
    jpeg: bytes


@dataclass(frozen=True, slots=True)
class AudioChunk:
    room: str
    session: str
    pts_seconds: float  # stream time of the first sample
    sample_rate: int
    pcm: np.ndarray  # mono int16


def _to_seconds(pts: int | None, time_base: Fraction | None) -> float | None:
    if pts is None or time_base is None:
        return None
    return float(pts * time_base)


class FrameSampler:
    """Publishes a frame every ``interval`` seconds of stream time to ``callback``."""

    def __init__(self, *, room: str, session: str, interval: float, callback: Callable[[SampledFrame], None],
                 clock: Clock, wall_time: Callable[[float], dt.datetime], jpeg_quality: int = 85) -> None:
        self.room = room
        self.session = session
        self.interval = interval
        self.callback = callback
        self.clock = clock
        self.wall_time = wall_time
        self.jpeg_quality = jpeg_quality
        self.next_due: float | None = None
        self.delivered = 0
        self.decode_failures = 0  # consecutive keyframes that gave no picture

    def due(self, pts_seconds: float) -> bool:
        return self.next_due is None or pts_seconds >= self.next_due - 1e-6

    def offer_keyframe(self, packet: av.Packet, decoder: VideoCodecContext) -> None:
        """Copy mode: decode ``packet`` (a keyframe) on its own if a sample is due."""
        t = _to_seconds(packet.pts, packet.time_base)
        if t is None or not self.due(t):
            return
        try:
            frames = decoder.decode(packet) + decoder.decode(None)
        except av.FFmpegError as exc:
            log.info("frame tap: keyframe did not decode: %s", exc)
            frames = []
        finally:
            decoder.flush_buffers()  # back to a clean state for the next keyframe
        for frame in frames:
            if isinstance(frame, av.VideoFrame):
                self.decode_failures = 0
                self._deliver(frame, t)
                return
        self.decode_failures += 1  # consecutive: the pipeline ends a stream whose pictures never decode

    def offer_frame(self, frame: av.VideoFrame) -> None:
        """Burn mode: ``frame`` is decoded already."""
        t = _to_seconds(frame.pts, frame.time_base)
        if t is not None and self.due(t):
            self._deliver(frame, t)

    def _deliver(self, frame: av.VideoFrame, t: float) -> None:
        self.next_due = t + self.interval
        rgb = frame.to_ndarray(format="rgb24")
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=self.jpeg_quality)
        sample = SampledFrame(
            room=self.room,
            session=self.session,
            pts_seconds=t,
            captured_at=self.wall_time(t),
            width=frame.width,
            height=frame.height,
            rgb=rgb,
            jpeg=buf.getvalue(),
        )
        self.delivered += 1
        self.callback(sample)


class AudioTap:
    """Chunks of mono s16 PCM at ``rate`` Hz, ``chunk_seconds`` long, to ``callback``."""

    def __init__(self, *, room: str, session: str, chunk_seconds: float, rate: int,
                 callback: Callable[[AudioChunk], None]) -> None:
        self.room = room
        self.session = session
        self.rate = rate
        self.chunk = max(1, int(round(chunk_seconds * rate)))
        self.callback = callback
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        self._parts: list[np.ndarray] = []
        self._buffered = 0
        self._start: float | None = None  # stream time of the first buffered sample
        self.delivered = 0

    def offer(self, frame: av.AudioFrame) -> None:
        t = _to_seconds(frame.pts, frame.time_base)
        for out in self._resampler.resample(frame):
            self._add(out.to_ndarray().reshape(-1), t)
            t = None

    def _add(self, pcm: np.ndarray, t: float | None) -> None:
        if self._start is None:
            self._start = t if t is not None else 0.0
        self._parts.append(pcm.astype(np.int16, copy=False))
        self._buffered += len(pcm)
        while self._buffered >= self.chunk:
            joined = np.concatenate(self._parts)
            head, rest = joined[: self.chunk], joined[self.chunk :]
            self._emit(head)
            self._parts = [rest] if len(rest) else []
            self._buffered = len(rest)

    def _emit(self, pcm: np.ndarray) -> None:
        start = self._start or 0.0
        self.delivered += 1
        self.callback(AudioChunk(self.room, self.session, start, self.rate, pcm))
        self._start = start + len(pcm) / self.rate

    def flush(self) -> None:
        """At the end of the stream: the last, shorter chunk."""
        for out in self._resampler.resample(None):
            self._add(out.to_ndarray().reshape(-1), None)
        if self._buffered:
            self._emit(np.concatenate(self._parts))
            self._parts, self._buffered = [], 0
