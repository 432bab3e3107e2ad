"""The PDQ hash-bank signal: frames and images near a known violating image."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from livegate.review.signals.base import Example, Finding, ImageSignal
from livegate.review.signals.pdq import PdqHash, PdqIndex, pdq_hash_rgb

DEFAULT_MATCH_DISTANCE = 31
DEFAULT_MIN_QUALITY = 50
DEFAULT_EXACT_DISTANCE = 16


def example_picture(seed: int, size: tuple[int, int] = (240, 320)) -> np.ndarray:
    """A deterministic, high-quality test picture (smooth blobs and bars): distinct per seed."""
    rng = np.random.default_rng(seed)
    h, w = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), dtype=np.float32)
    for _ in range(6):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = rng.uniform(min(h, w) / 8, min(h, w) / 3)
        color = rng.uniform(0, 255, 3)
        mask = ((y - cy) ** 2 + (x - cx) ** 2) < r * r
        img[mask] = color
    bars = (np.sin(x / rng.uniform(6, 20) + rng.uniform(0, 6)) * 60)[..., None]
    return np.clip(img * 0.7 + bars + 60, 0, 255).astype(np.uint8)


class HashBankSignal(ImageSignal):
    """Matches against an in-memory :class:`PdqIndex`; the review module keeps it in step
    with the database on every node (broker announce plus a polling backstop)."""

    name = "pdq_bank"

    def __init__(self, *, match_distance: int = DEFAULT_MATCH_DISTANCE, min_quality: int = DEFAULT_MIN_QUALITY,
                 exact_distance: int = DEFAULT_EXACT_DISTANCE) -> None:
        self.index = PdqIndex()
        self.match_distance = match_distance
        self.min_quality = min_quality
        self.exact_distance = exact_distance
        self.lock = threading.Lock()
        self.labels: dict[int, str] = {}

    def add(self, entry_id: int, h: PdqHash, label: str = "") -> None:
        with self.lock:
            if entry_id in self.labels:
                return
            self.index.add(entry_id, h)
            self.labels[entry_id] = label

    def remove(self, entry_id: int) -> None:
        with self.lock:
            if self.labels.pop(entry_id, None) is not None:
                self.index.remove(entry_id)

    def match(self, h: PdqHash) -> Finding | None:
        if h.quality < self.min_quality:
            return None
        with self.lock:
            hits = self.index.query(h, self.match_distance)
        if not hits:
            return None
        entry, distance = hits[0]
        score = 100.0 if distance <= self.exact_distance else 100.0 - (distance - self.exact_distance) * 2.0
        return Finding(self.name, score, self.labels.get(entry, "hash bank"),
                       {"entry": entry, "distance": distance, "hash": h.hex, "quality": h.quality},
                       exact=distance <= self.exact_distance)

    def analyse_image(self, rgb: np.ndarray, jpeg: bytes | None = None) -> Finding | None:
        return self.match(pdq_hash_rgb(rgb))

    def examples(self) -> Sequence[Example]:
        banned = example_picture(1)
        if not self.labels:  # a fresh plug-in: bank one picture so its examples mean something
            self.add(-1, pdq_hash_rgb(banned), "example")
        return [Example(banned, True, "the banked picture"),
                Example(np.ascontiguousarray(banned[::-1]), False, "the same picture upside down is a new picture"),
                Example(example_picture(2), False, "another picture"),
                Example(np.full((240, 320, 3), 128, np.uint8), False, "a flat picture has quality 0: skipped")]
