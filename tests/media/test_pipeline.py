"""The media pipeline end to end: media messages in, HLS, recording and taps out.

Input is a PyAV-encoded test pattern split into the messages an RTMP publisher sends.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from livegate.core.clock import ManualClock
from livegate.media.errors import ReplayWithdrawn
from livegate.media.flv import read_messages
from livegate.media.layout import MediaLayout, gone
from livegate.media.pipeline import LiveStream, StreamCallbacks, StreamEnded
from livegate.media.replay import replay_playlist, withdraw_replay
from livegate.media.sampler import AudioChunk, SampledFrame
from livegate.media.settings import MediaSettings
from livegate.media.testpattern import PatternSpec, encode_flv, pattern_frame, publish, publisher_metadata
from livegate.media.types import MediaMessage
from livegate.media.watermark import placement, render_mark

SPEC = PatternSpec(seconds=4.0)  # 320x240, 25 fps, a keyframe every second, AAC 44.1 kHz
T0 = dt.datetime(2026, 5, 1, 20, 0, 0, tzinfo=dt.UTC)
BASE = MediaSettings(segment_seconds=1.0, sample_interval_seconds=None, audio_ident_interval_seconds=None)


def run(root: Path, *, settings: MediaSettings = BASE, spec: PatternSpec = SPEC,
        callbacks: StreamCallbacks | None = None, messages: list[MediaMessage] | None = None,
        room: str = "101", session: str = "s1") -> tuple[LiveStream, StreamEnded]:
    stream = LiveStream(room, session, settings, root, ManualClock(T0), callbacks)
    publish(stream, messages if messages is not None else read_messages(encode_flv(spec)),
            metadata=publisher_metadata(spec))
    ended = stream.join(timeout=60)
    assert ended is not None, "the stream did not finish"
    return stream, ended


def playlist_segments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def demux_all(paths: list[Path], kind: str) -> list[bytes]:
    out: list[bytes] = []
    for path in paths:
        with av.open(str(path), "r") as container:
            streams = getattr(container.streams, kind)
            out += [bytes(p) for p in container.demux(streams[0]) if p.size]
    return out


def decode_video(data_or_paths: bytes | list[Path]) -> list[np.ndarray]:
    sources = [io.BytesIO(data_or_paths)] if isinstance(data_or_paths, bytes) else [str(p) for p in data_or_paths]
    frames: list[np.ndarray] = []
    for source in sources:
        with av.open(source, "r") as container:
            frames += [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return frames


def decode_audio(data_or_paths: bytes | list[Path]) -> tuple[np.ndarray, int]:
    sources = [io.BytesIO(data_or_paths)] if isinstance(data_or_paths, bytes) else [str(p) for p in data_or_paths]
    parts: list[np.ndarray] = []
    rate = 0
    for source in sources:
        with av.open(source, "r") as container:
            for frame in container.decode(audio=0):
                rate = frame.sample_rate
                parts.append(frame.to_ndarray().astype(np.float32).mean(axis=0))
    return np.concatenate(parts), rate


def nal_units(packets: list[bytes], *, annexb: bool) -> list[bytes]:
    """NAL units minus what muxers may add or move (AUD, SPS, PPS)."""
    units: list[bytes] = []
    for data in packets:
        if annexb:
            parts = [p[:-1] if p.endswith(b"\x00") else p for p in re.split(b"\x00\x00\x01", data)]
        else:
            parts, pos = [], 0
            while pos + 4 <= len(data):
                size = int.from_bytes(data[pos : pos + 4], "big")
                parts.append(data[pos + 4 : pos + 4 + size])
                pos += 4 + size
        units += [p for p in parts if p and p[0] & 0x1F not in (7, 8, 9)]
    return units


# -- copy (overlay) mode -------------------------------------------------------------------


def test_overlay_mode_publishes_decodable_segments_with_the_mark_in_the_playlist(tmp_path: Path) -> None:
    stream, ended = run(tmp_path)
    assert (ended.reason, ended.code) == ("ended", "ok")
    layout = MediaLayout(tmp_path)
    text = layout.playlist("101").read_text()
    names = playlist_segments(text)
    assert names == ["s1-0.ts", "s1-1.ts", "s1-2.ts", "s1-3.ts"]
    assert text.startswith("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n")
    assert text.endswith("#EXT-X-ENDLIST\n")
    pdts = re.findall(r"#EXT-X-PROGRAM-DATE-TIME:(.+)", text)
    assert len(pdts) == len(names)
    assert pdts[0] == "2026-05-01T20:00:00.023Z"  # wall time of the first picture (ts 23 ms)
    assert pdts[1] == "2026-05-01T20:00:01.023Z"
    assert re.findall(r"#EXTINF:([\d.]+),", text) == ["1.000"] * 4
    assert 'X-LIVEGATE-ROOM="101"' in text and 'CLASS="com.livegate.mark"' in text
    assert 'X-LIVEGATE-MARK-URI="mark.png"' in text
    assert Image.open(layout.mark_image("101")).mode == "RGBA"
    paths = [layout.hls_dir("101") / n for n in names]
    assert len(decode_video(paths)) == int(SPEC.seconds * SPEC.fps)
    samples, rate = decode_audio(paths)
    assert rate == SPEC.sample_rate and len(samples) > 0.9 * SPEC.seconds * rate
    assert [p.name for p in stream.published] == names
    assert not any(layout.held_dir("101").iterdir())


def test_overlay_mode_leaves_video_bit_identical(tmp_path: Path) -> None:
    run(tmp_path)
    layout = MediaLayout(tmp_path)
    source = []
    with av.open(io.BytesIO(encode_flv(SPEC)), "r", format="flv") as container:
        source = [bytes(p) for p in container.demux(video=0) if p.size]
    published = demux_all(layout.session_segments("101", "s1"), "video")
    assert len(published) == len(source)
    assert nal_units(published, annexb=True) == nal_units(source, annexb=False)


# -- burn mode ---------------------------------------------------------------------------


def test_burn_mode_marks_every_picture_and_the_source_has_no_mark(tmp_path: Path) -> None:
    frames: list[SampledFrame] = []
    settings = MediaSettings(mark_mode="burn", mark_text="livegate", segment_seconds=1.0,
                             sample_interval_seconds=1.0, audio_ident_interval_seconds=None)
    _, ended = run(tmp_path, settings=settings, callbacks=StreamCallbacks(on_frame=frames.append))
    assert ended.reason == "ended"
    layout = MediaLayout(tmp_path)
    paths = layout.session_segments("101", "s1")
    assert len(paths) == 4  # keyframes forced at segment boundaries
    out = decode_video(paths)
    src = decode_video(encode_flv(SPEC))
    assert len(out) == len(src) == 100
    where = placement(render_mark("livegate", "101", video_height=240), 320, 240)
    region = (slice(where.y, where.y + where.height), slice(where.x, where.x + where.width))
    for i in (0, 37, 99):
        pattern = pattern_frame(i, SPEC.width, SPEC.height).astype(int)
        diff_src = np.abs(src[i].astype(int) - pattern)
        diff_out = np.abs(out[i].astype(int) - src[i].astype(int))
        assert diff_src[region].mean() < 8, "the source already carries something in the mark's place"
        assert diff_out[region].mean() > 25, f"frame {i}: no mark burned in"
        assert diff_out[120:, :].mean() < 6, f"frame {i}: the picture outside the mark changed"
    assert len(frames) == 4  # the frame tap sees the source pictures in burn mode too
    assert np.abs(frames[1].rgb.astype(int) - src[25].astype(int))[region].mean() < 8


# -- taps ---------------------------------------------------------------------------------


def test_frame_and_audio_taps_deliver_at_their_intervals(tmp_path: Path) -> None:
    frames: list[SampledFrame] = []
    chunks: list[AudioChunk] = []
    settings = MediaSettings(segment_seconds=1.0, sample_interval_seconds=1.0, audio_chunk_seconds=1.0,
                             audio_ident_interval_seconds=None)
    run(tmp_path, settings=settings, callbacks=StreamCallbacks(on_frame=frames.append, on_audio=chunks.append))
    assert [round(f.pts_seconds, 3) for f in frames] == [0.023, 1.023, 2.023, 3.023]
    first = frames[0]
    assert first.rgb.shape == (240, 320, 3) and (first.width, first.height) == (320, 240)
    assert first.captured_at == T0 + dt.timedelta(seconds=0.023)
    assert Image.open(io.BytesIO(first.jpeg)).size == (320, 240)
    assert np.abs(first.rgb.astype(int) - pattern_frame(0, 320, 240).astype(int)).mean() < 8
    assert len(chunks) in (4, 5)
    assert all(c.sample_rate == 16000 and c.pcm.dtype == np.int16 for c in chunks)
    assert all(len(c.pcm) == 16000 for c in chunks[:4])
    starts = [c.pts_seconds for c in chunks]
    assert starts[1] - starts[0] == pytest.approx(1.0)
    assert np.abs(chunks[1].pcm).max() > 0.2 * 32767  # the tone is there


# -- recording and replay ------------------------------------------------------------------


def test_recording_keeps_everything_and_is_indexed(tmp_path: Path) -> None:
    stream, ended = run(tmp_path)
    layout = MediaLayout(tmp_path)
    data = layout.recording("101", "s1").read_bytes()
    assert ended.recording == layout.recording("101", "s1") == stream.recording_path
    with av.open(io.BytesIO(data), "r", format="flv") as container:
        video = [p for p in container.demux(video=0) if p.size]
    source = read_messages(encode_flv(SPEC))
    assert len(video) == 100
    assert len(read_messages(data)) == len(source)
    index = json.loads(layout.recording_index("101", "s1").read_text())
    assert index["end_reason"] == "ended" and index["end_code"] == "ok"
    assert index["has_audio"] and index["has_video"]
    assert index["metadata"]["videocodecid"] == 7.0
    assert [ts for ts, _ in index["keyframes"]] == [23, 1023, 2023, 3023]
    assert all(data[offset] == 9 for _, offset in index["keyframes"])


def test_replay_is_written_and_can_be_withdrawn(tmp_path: Path) -> None:
    _, ended = run(tmp_path)
    layout = MediaLayout(tmp_path)
    assert ended.replay == layout.replay_playlist("101", "s1") == replay_playlist(tmp_path, "101", "s1")
    text = ended.replay.read_text()
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.endswith("#EXT-X-ENDLIST\n")
    assert playlist_segments(text) == ["s1-0.ts", "s1-1.ts", "s1-2.ts", "s1-3.ts"]
    withdrawal = withdraw_replay(tmp_path, "101", "s1", reason="complaint upheld", at=T0)
    assert withdrawal.segments_deleted == 4
    assert gone(tmp_path, "101", "replay-s1.m3u8")["kind"] == "withdrawn"  # type: ignore[index]
    assert gone(tmp_path, "101", "s1-0.ts")["reason"] == "complaint upheld"  # type: ignore[index]
    assert layout.session_segments("101", "s1") == []
    with pytest.raises(ReplayWithdrawn):
        replay_playlist(tmp_path, "101", "s1")
    assert layout.recording("101", "s1").exists()  # retention is not the public's view


# -- audio-only ----------------------------------------------------------------------------


def band_energy(samples: np.ndarray, rate: int, start: float, seconds: float, hz: float) -> float:
    """Share of a window's energy within 40 Hz of ``hz``."""
    window = samples[int(start * rate) : int((start + seconds) * rate)]
    spectrum = np.abs(np.fft.rfft(window * np.hanning(len(window)))) ** 2
    freqs = np.fft.rfftfreq(len(window), 1 / rate)
    return float(spectrum[np.abs(freqs - hz) < 40].sum() / spectrum.sum())


def test_audio_only_stream_gets_hls_with_the_ident_mixed_in(tmp_path: Path) -> None:
    spec = PatternSpec(seconds=4.0, video=False)
    settings = MediaSettings(segment_seconds=1.0, sample_interval_seconds=None, audio_ident_interval_seconds=2.0,
                             audio_ident_hz=1320.0, audio_ident_seconds=0.8)
    _, ended = run(tmp_path, settings=settings, spec=spec)
    assert ended.reason == "ended"
    layout = MediaLayout(tmp_path)
    paths = layout.session_segments("101", "s1")
    assert len(paths) == 4
    with av.open(str(paths[0]), "r") as container:
        assert [s.type for s in container.streams] == ["audio"]
    out, rate = decode_audio(paths)
    src, src_rate = decode_audio(encode_flv(spec))
    assert rate == src_rate == 44100
    ident = 1320.0
    assert band_energy(src, rate, 0.05, 0.3, ident) < 0.01  # the publisher's tone is 440 Hz only
    assert band_energy(out, rate, 0.05, 0.3, ident) > 0.2  # the chime at the start
    assert band_energy(out, rate, 1.0, 0.3, ident) < 0.01  # silence between chimes
    assert band_energy(out, rate, 2.05, 0.3, ident) > 0.2  # and again after the interval
    assert band_energy(out, rate, 1.0, 0.3, 440.0) > 0.9  # the publisher is still heard


def test_audio_only_without_ident_is_copied(tmp_path: Path) -> None:
    spec = PatternSpec(seconds=2.0, video=False)
    run(tmp_path, settings=BASE, spec=spec)
    paths = MediaLayout(tmp_path).session_segments("101", "s1")
    with av.open(io.BytesIO(encode_flv(spec)), "r", format="flv") as container:
        source = [bytes(p) for p in container.demux(audio=0) if p.size]
    published = demux_all(paths, "audio")
    assert [p[7:] for p in published] == source  # ADTS header (7 bytes) + the very same AAC frame


# -- bad input -----------------------------------------------------------------------------


def test_garbage_ends_the_stream_with_a_typed_reason(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    garbage = [MediaMessage("video" if i % 2 else "audio", i * 20, rng.bytes(200)) for i in range(60)]
    _, ended = run(tmp_path, messages=garbage)
    assert ended.reason in ("corrupt", "unsupported")
    assert ended.code in ("media_corrupt", "media_unsupported")
    assert ended.error is not None and ended.error.code == ended.code
    assert ended.segments_published == 0
    assert MediaLayout(tmp_path).recording("101", "s1").exists()


def test_unsupported_codec_is_refused(tmp_path: Path) -> None:
    vp6 = [MediaMessage("video", i * 40, bytes([0x14 if i == 0 else 0x24]) + b"\x00" * 100) for i in range(30)]
    _, ended = run(tmp_path, messages=vp6)
    assert (ended.reason, ended.code) == ("unsupported", "media_unsupported")
    assert "vp6" in ended.detail


def test_corrupt_decoder_configuration_is_refused(tmp_path: Path) -> None:
    messages = read_messages(encode_flv(SPEC))
    bad = [m if not (m.kind == "video" and m.payload[1] == 0)
           else MediaMessage("video", m.timestamp_ms, m.payload[:5] + b"\x07garbage-config")
           for m in messages]
    _, ended = run(tmp_path, messages=bad)
    assert (ended.reason, ended.code) == ("corrupt", "media_corrupt")


def test_input_beyond_the_buffer_limit_ends_the_stream(tmp_path: Path) -> None:
    settings = MediaSettings(segment_seconds=1.0, max_buffer_bytes=1024 * 1024, sample_interval_seconds=None)
    messages = read_messages(encode_flv(SPEC))[:5] + [MediaMessage("video", 300, b"\x27\x01" + b"\x00" * 2_000_000)]
    stream, ended = run(tmp_path, settings=settings, messages=messages)
    assert (ended.reason, ended.code) == ("overloaded", "media_overloaded")
    assert stream.messages_dropped >= 0


def test_pictures_that_do_not_decode_end_a_burn_mode_stream(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    broken = []
    for m in read_messages(encode_flv(SPEC)):
        if m.kind == "video" and m.payload[1] == 1:  # keep the FLV/AVC framing, scramble the NAL units
            body = rng.bytes(len(m.payload) - 9)
            m = MediaMessage("video", m.timestamp_ms, m.payload[:5] + len(body).to_bytes(4, "big") + body)
        broken.append(m)
    settings = MediaSettings(mark_mode="burn", segment_seconds=1.0, sample_interval_seconds=None)
    _, ended = run(tmp_path, settings=settings, messages=broken)
    assert (ended.reason, ended.code) == ("corrupt", "media_corrupt")
    assert ended.segments_published == 0


def test_a_refused_stream_is_still_recorded_in_full(tmp_path: Path) -> None:
    vp6 = [MediaMessage("video", i * 40, bytes([0x14 if i == 0 else 0x24]) + bytes([i]) * 50) for i in range(30)]
    _, ended = run(tmp_path, messages=vp6)
    assert ended.reason == "unsupported"
    recorded = read_messages(MediaLayout(tmp_path).recording("101", "s1").read_bytes())
    assert recorded == vp6
    index = json.loads(MediaLayout(tmp_path).recording_index("101", "s1").read_text())
    assert (index["end_reason"], index["end_code"], index["tags"]) == ("unsupported", "media_unsupported", 30)


def test_a_reprinted_news_source_travels_in_the_playlist(tmp_path: Path) -> None:
    """Art. 10: the source is carried with the stream itself, for any player or re-streamer."""
    import dataclasses

    settings = dataclasses.replace(BASE, news_source="Xinhua News Agency · CCTV")
    run(tmp_path, settings=settings)
    text = MediaLayout(tmp_path).playlist("101").read_text()
    assert 'CLASS="com.livegate.news-source"' in text
    assert 'X-LIVEGATE-NEWS-SOURCE="Xinhua News Agency · CCTV"' in text
