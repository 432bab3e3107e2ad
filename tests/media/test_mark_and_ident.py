"""The mark image, its filter graph and the audio ident, without a stream around them."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from livegate.media.ident import IdentMixer, chime
from livegate.media.watermark import MarkBurner, placement, render_mark


def test_mark_is_rgba_even_sized_and_scales_with_the_picture() -> None:
    small = render_mark("livegate", "10086", video_height=240)
    large = render_mark("livegate", "10086", video_height=1080)
    assert small.mode == large.mode == "RGBA"
    assert small.width % 2 == small.height % 2 == 0
    assert large.height > 3 * small.height
    alpha = np.asarray(small)[..., 3]
    assert alpha.min() == 0 and alpha.max() > 200  # transparent corners, opaque text
    where = placement(small, 320, 240)
    assert where.x + where.width < 320 and where.y > 0 and where.y + where.height < 120


def test_burner_composites_only_inside_the_mark() -> None:
    burner = MarkBurner("livegate", "7")
    grey = np.full((240, 320, 3), 128, dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(grey, format="rgb24").reformat(format="yuv420p")
    frame.pts, frame.time_base = 40, Fraction(1, 1000)
    (out,) = burner.burn(frame)
    assert out.pts == 40 and out.format.name == "yuv420p"
    rgb = out.to_ndarray(format="rgb24").astype(int)
    assert burner.placement is not None
    p = burner.placement
    inside = rgb[p.y : p.y + p.height, p.x : p.x + p.width]
    assert np.abs(inside - 128).mean() > 20
    outside = rgb.copy()
    outside[p.y : p.y + p.height, p.x : p.x + p.width] = 128
    assert np.abs(outside - 128).max() <= 2
    other = av.VideoFrame.from_ndarray(np.zeros((120, 160, 3), np.uint8), format="rgb24").reformat(format="yuv420p")
    other.pts, other.time_base = 80, Fraction(1, 1000)
    (scaled,) = burner.burn(other)  # a size change mid-stream is scaled back for the encoder
    assert (scaled.width, scaled.height) == (320, 240)


def test_chime_is_the_ident_frequency_then_a_fifth_above() -> None:
    rate = 48000
    samples = chime(rate, hz=1000.0, seconds=0.5)
    assert len(samples) == 24000 and np.abs(samples).max() <= 0.35
    for part, expected in ((samples[:12000], 1000.0), (samples[12000:], 1500.0)):
        spectrum = np.abs(np.fft.rfft(part))
        assert abs(np.fft.rfftfreq(len(part), 1 / rate)[spectrum.argmax()] - expected) < 10


def test_mixer_places_chimes_by_sample_position_whatever_the_frame_size() -> None:
    rate = 8000
    total = 5 * rate

    def mixed(frame: int) -> np.ndarray:
        mixer = IdentMixer(rate, interval_seconds=2.0, hz=1000.0, seconds=0.5)
        out = [mixer.mix(np.zeros((2, min(frame, total - pos)), np.float32), 100 + pos)
               for pos in range(0, total, frame)]
        assert mixer.mixed == 3  # at 0 s, 2 s and 4 s
        return np.concatenate(out, axis=1)

    a, b = mixed(1024), mixed(333)
    np.testing.assert_allclose(a, b, atol=1e-6)
    ident = chime(rate, hz=1000.0, seconds=0.5)
    np.testing.assert_allclose(a[0, : len(ident)], ident, atol=1e-6)
    np.testing.assert_allclose(a[1, 2 * rate : 2 * rate + len(ident)], ident, atol=1e-6)
    assert not a[:, len(ident) : 2 * rate].any()


def test_mixing_clips_instead_of_wrapping() -> None:
    mixer = IdentMixer(8000, interval_seconds=60, hz=1000.0, seconds=0.5)
    loud = np.full((1, 4000), 0.95, np.float32)
    out = mixer.mix(loud, 0)
    assert out.max() <= 1.0 and out.min() >= -1.0
    assert loud.max() == np.float32(0.95)  # the input is not modified in place
