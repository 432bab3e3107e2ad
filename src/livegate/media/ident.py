"""The audio ident: the platform's mark for streams that have no picture to carry one.

A short two-note chime (the ident frequency, then a fifth above it) is mixed into the
publisher's audio at the start and then every N seconds, so a recording or a re-broadcast
of an audio-only live still says where it came from. It is generated, not a file, so its
frequency and length are settings and a test can look for exactly that frequency.
"""

from __future__ import annotations

import numpy as np


def chime(sample_rate: int, *, hz: float, seconds: float, amplitude: float = 0.35) -> np.ndarray:
    """Mono float32 samples: ``hz`` for the first half, ``1.5 * hz`` for the second."""
    n = max(1, int(round(seconds * sample_rate)))
    t = np.arange(n, dtype=np.float64) / sample_rate
    half = n // 2
    freq = np.where(np.arange(n) < half, hz, hz * 1.5)
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate
    tone = np.sin(phase)
    # short raised-cosine attack and release: no clicks at the edges
    ramp = max(1, int(0.01 * sample_rate))
    env = np.ones(n)
    env[:ramp] = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
    env[-ramp:] = env[:ramp][::-1]
    # and a gentle decay, as a struck chime has
    env *= np.exp(-1.5 * t / max(seconds, 1e-3))
    return (amplitude * tone * env).astype(np.float32)


class IdentMixer:
    """Adds the chime to planar float audio at ``start + k * interval`` (stream samples).

    It works on absolute sample positions, so frames of any size, in any order of arrival,
    get exactly the part of a chime that falls inside them.
    """

    def __init__(self, sample_rate: int, *, interval_seconds: float, hz: float, seconds: float) -> None:
        self.sample_rate = sample_rate
        self.interval = max(1, int(round(interval_seconds * sample_rate)))
        self.samples = chime(sample_rate, hz=hz, seconds=seconds)
        self.start: int | None = None
        self.mixed = 0  # how many chimes have begun

    def mix(self, planes: np.ndarray, position: int) -> np.ndarray:
        """Return ``planes`` (channels x n, float32) with any due chime added, clipped to [-1, 1]."""
        if self.start is None:
            self.start = position
        n = planes.shape[1]
        end = position + n
        length = len(self.samples)
        rel = position - self.start
        # chimes that overlap [position, end): those with k*interval in (rel - length, rel + n)
        first_k = max(0, -(-(rel - length + 1) // self.interval))
        out = planes
        k = first_k
        while self.start + k * self.interval < end:
            chime_at = self.start + k * self.interval
            lo = max(position, chime_at)
            hi = min(end, chime_at + length)
            if hi > lo:
                if out is planes:
                    out = planes.astype(np.float32, copy=True)
                out[:, lo - position : hi - position] += self.samples[lo - chime_at : hi - chime_at]
                if lo == chime_at:
                    self.mixed += 1
            k += 1
        if out is not planes:
            np.clip(out, -1.0, 1.0, out=out)
        return out
