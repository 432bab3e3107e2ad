"""Synthetic publisher input: a test pattern encoded the way OBS or ffmpeg would send it.

The tests, the benchmark and the demo need real H.264/AAC in FLV without a camera or the
RTMP server. PyAV encodes numpy-made frames (colour bars with a moving block, so the
encoder has motion to code and a pixel check has a known background) and a sine tone into
an in-memory FLV, which :func:`livegate.media.flv.read_messages` splits back into the
messages an RTMP publisher sends.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

import av
import numpy as np
from av.video.stream import VideoStream

from livegate.media.types import MediaMessage

_BARS = np.array(
    [
        [192, 192, 192],
        [192, 192, 0],
        [0, 192, 192],
        [0, 192, 0],
        [192, 0, 192],
        [192, 0, 0],
        [0, 0, 192],
        [16, 16, 16],
    ],
    dtype=np.uint8,
)


@dataclass(frozen=True, slots=True)
class PatternSpec:
    """What to encode. ``gop`` is the keyframe interval in frames."""

    seconds: float = 4.0
    width: int = 320
    height: int = 240
    fps: int = 25
    gop: int = 25
    video: bool = True
    audio: bool = True
    sample_rate: int = 44100
    channels: int = 2
    tone_hz: float = 440.0
    tone_amplitude: float = 0.3
    preset: str = "ultrafast"
    video_bitrate: int = 600_000


def pattern_frame(index: int, width: int, height: int) -> np.ndarray:
    """RGB colour bars with a white block that moves one step per frame."""
    bar = np.arange(width) * len(_BARS) // width
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:, :] = _BARS[bar]
    size = max(8, height // 8)
    x = (index * 4) % max(1, width - size)
    y = height // 2 - size // 2
    img[y : y + size, x : x + size] = 255
    return img


def sine(seconds: float, sample_rate: int, hz: float, amplitude: float, start: int = 0) -> np.ndarray:
    t = (np.arange(int(seconds * sample_rate)) + start) / sample_rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@functools.lru_cache(maxsize=16)
def encode_flv(spec: PatternSpec = PatternSpec()) -> bytes:
    """An FLV file with the test pattern and/or tone, as bytes (cached: specs are immutable)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="flv") as out:
        vstream: VideoStream | None = None
        if spec.video:
            vstream = out.add_stream("libx264", rate=spec.fps)
            vstream.width = spec.width
            vstream.height = spec.height
            vstream.pix_fmt = "yuv420p"
            vstream.bit_rate = spec.video_bitrate
            vstream.codec_context.gop_size = spec.gop
            vstream.codec_context.options = {
                "preset": spec.preset,
                "tune": "zerolatency",
                "x264-params": f"keyint={spec.gop}:min-keyint={spec.gop}:scenecut=0",
            }
        astream = None
        if spec.audio:
            layout = "stereo" if spec.channels == 2 else "mono"
            astream = out.add_stream("aac", rate=spec.sample_rate, layout=layout)
            astream.bit_rate = 96_000

        n_frames = int(spec.seconds * spec.fps)
        n_samples = int(spec.seconds * spec.sample_rate)
        frame_size = 1024
        next_sample = 0
        for i in range(n_frames if vstream is not None else 0):
            if vstream is not None:
                frame = av.VideoFrame.from_ndarray(pattern_frame(i, spec.width, spec.height), format="rgb24")
                frame.pts = i
                frame.time_base = Fraction(1, spec.fps)
                out.mux(vstream.encode(frame.reformat(format="yuv420p")))
            # keep audio interleaved with video, as a live publisher does
            while astream is not None and next_sample < min(n_samples, int((i + 1) * spec.sample_rate / spec.fps)):
                next_sample = _encode_audio(out, astream, spec, next_sample, frame_size)
        while astream is not None and next_sample < n_samples:
            next_sample = _encode_audio(out, astream, spec, next_sample, frame_size)
        if vstream is not None:
            out.mux(vstream.encode(None))
        if astream is not None:
            out.mux(astream.encode(None))
    return buf.getvalue()


def _encode_audio(out: av.container.OutputContainer, astream: av.audio.stream.AudioStream,
                  spec: PatternSpec, start: int, frame_size: int) -> int:
    mono = sine(frame_size / spec.sample_rate, spec.sample_rate, spec.tone_hz, spec.tone_amplitude, start)
    planes = np.tile(mono, (spec.channels, 1))
    frame = av.AudioFrame.from_ndarray(planes, format="fltp", layout="stereo" if spec.channels == 2 else "mono")
    frame.sample_rate = spec.sample_rate
    frame.pts = start
    frame.time_base = Fraction(1, spec.sample_rate)
    out.mux(astream.encode(frame))
    return start + frame_size


def publisher_metadata(spec: PatternSpec) -> dict[str, object]:
    """The ``onMetaData`` an RTMP publisher would announce for ``spec``."""
    meta: dict[str, object] = {}
    if spec.video:
        meta.update(videocodecid=7.0, width=float(spec.width), height=float(spec.height), framerate=float(spec.fps))
    if spec.audio:
        meta.update(audiocodecid=10.0, audiosamplerate=float(spec.sample_rate), stereo=spec.channels == 2)
    return meta


class _Sink(Protocol):
    def on_metadata(self, metadata: dict[str, Any]) -> None: ...

    def on_media(self, message: MediaMessage) -> None: ...

    def on_end(self, reason: str) -> None: ...


def publish(sink: _Sink, messages: list[MediaMessage], *, metadata: dict[str, Any] | None = None,
            end: str | None = "publisher closed the stream") -> None:
    """Feed ``messages`` to a stream sink as the RTMP server would, as fast as it can."""
    if metadata is not None:
        sink.on_metadata(metadata)
    for message in messages:
        sink.on_media(message)
    if end is not None:
        sink.on_end(end)
