"""What a live stream's pipeline does, as data.

Policy (category, audience tier, credit level) decides these values; the pipeline only
obeys them. Nothing here imports PyAV, so policy and console code can build and validate
settings without loading FFmpeg.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from livegate.core.errors import ValidationFailed

MarkMode = Literal["burn", "overlay"]

#: Room and session ids become file names; this keeps them safe on every file system.
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

MAX_DELAY_SECONDS = 300.0


def check_id(kind: str, value: str) -> str:
    if not SAFE_ID.match(value):
        raise ValidationFailed(f"{kind} must be 1-64 letters, digits, '_' or '-'", field=kind, value=value)
    return value


@dataclass(frozen=True, slots=True)
class EncoderSettings:
    """libx264 settings for burn mode; the benchmark hands the same values to the ffmpeg CLI.

    ``preset``/``tune`` trade CPU for bitrate: the field notes measured ultrafast at about
    half the CPU of veryfast at 720p30. ``crf`` is used unless ``bitrate`` is set (then
    ``maxrate = bitrate`` and ``bufsize = 2 * bitrate``, a live-friendly VBV).
    """

    preset: str = "ultrafast"
    tune: str | None = "zerolatency"
    crf: int = 23
    bitrate: int | None = None
    profile: str | None = None
    threads: int = 0  # 0: let x264 choose
    x264_params: str = ""

    def codec_options(self) -> dict[str, str]:
        opts: dict[str, str] = {"preset": self.preset}
        if self.tune:
            opts["tune"] = self.tune
        if self.bitrate:
            opts["b"] = str(self.bitrate)
            opts["maxrate"] = str(self.bitrate)
            opts["bufsize"] = str(2 * self.bitrate)
        else:
            opts["crf"] = str(self.crf)
        if self.profile:
            opts["profile"] = self.profile
        if self.x264_params:
            opts["x264-params"] = self.x264_params
        return opts


@dataclass(frozen=True, slots=True)
class MediaSettings:
    """Per-stream pipeline settings.

    - ``mark_mode``: ``"burn"`` re-encodes video with the mark in the pixels; ``"overlay"``
      passes video through untouched and announces the mark in the playlist
      (``EXT-X-DATERANGE``) for the player to draw. Burn is a real CPU cost per stream.
    - ``delay_seconds``: how long a finished segment is held back before viewers can get
      it (0-300), the reviewers' window to cut a stream off before anyone sees it.
    - ``segment_seconds``: HLS target; segments start at keyframes, so a source whose
      keyframe interval is longer gets longer segments in copy mode.
    - ``sample_interval_seconds``: frame tap period (``None``: off).
    - ``audio_chunk_seconds``: audio tap chunk length (``None``: off).
    - ``audio_ident_interval_seconds``: for audio-only streams, the ident chime plays at
      the start and then every this many seconds (``None``: no ident, audio is copied).
    - ``playlist_window``: segments listed in the live playlist.
    - ``replay``: keep every segment and write a VOD playlist when the live ends normally.
    - ``max_buffer_bytes``: input waiting for the worker; past it the stream ends with
      ``media_overloaded`` rather than eating the node's memory.
    """

    mark_mode: MarkMode = "overlay"
    mark_text: str = "livegate"
    delay_seconds: float = 0.0
    segment_seconds: float = 2.0
    sample_interval_seconds: float | None = 10.0
    audio_chunk_seconds: float | None = None
    audio_tap_rate: int = 16000
    audio_ident_interval_seconds: float | None = 300.0
    audio_ident_hz: float = 1320.0
    audio_ident_seconds: float = 0.8
    audio_bitrate: int = 128_000
    playlist_window: int = 6
    replay: bool = True
    encoder: EncoderSettings = field(default_factory=EncoderSettings)
    font_path: str | None = None
    news_source: str = ""  # reprinted news: carried in the playlist as timed metadata (Art. 10)
    max_buffer_bytes: int = 64 * 1024 * 1024
    jpeg_quality: int = 85

    def __post_init__(self) -> None:
        if self.mark_mode not in ("burn", "overlay"):
            raise ValidationFailed("mark_mode must be 'burn' or 'overlay'", value=self.mark_mode)
        if not 0 <= self.delay_seconds <= MAX_DELAY_SECONDS:
            raise ValidationFailed("delay_seconds must be between 0 and 300", value=self.delay_seconds)
        if not 0.5 <= self.segment_seconds <= 10:
            raise ValidationFailed("segment_seconds must be between 0.5 and 10", value=self.segment_seconds)
        for name in ("sample_interval_seconds", "audio_chunk_seconds", "audio_ident_interval_seconds"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValidationFailed(f"{name} must be positive or None", value=value)
        if self.playlist_window < 3:
            raise ValidationFailed("playlist_window must be at least 3", value=self.playlist_window)
        if self.max_buffer_bytes < 1024 * 1024:
            raise ValidationFailed("max_buffer_bytes must be at least 1 MiB", value=self.max_buffer_bytes)
