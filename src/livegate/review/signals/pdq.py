"""PDQ, Meta's 256-bit perceptual image hash, written from the published algorithm, and an
index that answers "is anything in the bank within distance d of this hash?" quickly.

Why our own: the ``pdqhash`` wheel is built against NumPy 1.x and does not import under
NumPy 2. The steps (from the PDQ hashing paper):

1. luminance ``Y = 0.299 R + 0.587 G + 0.114 B`` (floats);
2. a Jarosz tent filter: two passes of 1-D box filters along rows then columns, each window
   ``ceil(dimension / 128)`` wide, then decimation to 64x64 at the centres of the cells;
3. the quality metric: the sum of quantised neighbour gradients of the 64x64 picture / 90,
   capped at 100 (flat or tiny pictures give low quality and are not matched);
4. a 16x16 block of the 2-D DCT-II (frequencies 1..16 on both axes, DC left out);
5. one bit per coefficient: above the median (the 128th smallest of the 256) or not.

Hash bit ``k`` is coefficient ``(k // 16, k % 16)``; the hex form is the 256-bit number
written big-endian, as the reference implementations print it.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

HASH_BITS = 256
MIN_HASHABLE_DIM = 5
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _dct_matrix() -> np.ndarray:
    i = np.arange(1, 17, dtype=np.float64)[:, None]
    j = np.arange(64, dtype=np.float64)[None, :]
    return (np.sqrt(2.0 / 64.0) * np.cos((np.pi / 2.0 / 64.0) * i * (2.0 * j + 1.0))).astype(np.float32)


_DCT = _dct_matrix()  # 16 x 64, a constant: computing it is pure and shared safely


@dataclass(frozen=True, slots=True)
class PdqHash:
    """A 256-bit hash as four uint64 words (word 0 holds bits 0-63) and the picture's quality."""

    words: tuple[int, int, int, int]
    quality: int

    @property
    def hex(self) -> str:
        value = sum(w << (64 * i) for i, w in enumerate(self.words))
        return f"{value:064x}"

    @classmethod
    def from_hex(cls, text: str, quality: int = 100) -> PdqHash:
        text = text.strip().lower()
        if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
            raise ValueError("a PDQ hash is 64 hexadecimal digits")
        value = int(text, 16)
        mask = (1 << 64) - 1
        return cls(tuple((value >> (64 * i)) & mask for i in range(4)), quality)  # type: ignore[arg-type]

    def distance(self, other: PdqHash) -> int:
        return sum((a ^ b).bit_count() for a, b in zip(self.words, other.words, strict=True))


def _box_1d(a: np.ndarray, window: int, axis: int) -> np.ndarray:
    """A box filter along ``axis`` whose window is clipped at the edges (mean of what is in it).

    Output ``k`` averages inputs ``[k - (w - h), k + h - 1]`` with ``h = (w + 2) // 2``, which
    is the reference's phase structure (7 -> [k-3, k+3], 8 -> [k-3, k+4]).
    """
    if window <= 1:
        return a
    n = a.shape[axis]
    half = (window + 2) // 2
    k = np.arange(n)
    lo = np.maximum(0, k - (window - half))
    hi = np.minimum(n, k + half)
    a64 = np.moveaxis(a, axis, 0).astype(np.float64)
    csum = np.concatenate([np.zeros((1,) + a64.shape[1:]), np.cumsum(a64, axis=0)], axis=0)
    out = (csum[hi] - csum[lo]) / (hi - lo).reshape((-1,) + (1,) * (a64.ndim - 1))
    return np.moveaxis(out, 0, axis)


def _window(old: int, new: int) -> int:
    return (old + 2 * new - 1) // (2 * new)


def luminance(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim == 2:
        return rgb.astype(np.float32)
    return rgb[..., :3].astype(np.float32) @ _LUMA


def _box_matrix(n: int, window: int) -> np.ndarray:
    """The box filter of :func:`_box_1d` as an ``n x n`` matrix (row ``k`` averages the window)."""
    if window <= 1:
        return np.eye(n)
    half = (window + 2) // 2
    k = np.arange(n)
    lo = np.maximum(0, k - (window - half))
    hi = np.minimum(n, k + half)
    cols = np.arange(n)[None, :]
    inside = (cols >= lo[:, None]) & (cols < hi[:, None])
    return inside / (hi - lo)[:, None]


@functools.lru_cache(maxsize=32)
def _tent_then_decimate(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two box passes then decimation to 64 along an axis of length ``n``, as a banded ``64 x n``
    operator: ``(indices, weights)``, each ``64 x K``, K the tent's width.

    The filter passes are linear and act on separate axes, so the reference's
    rows-cols-rows-cols order equals ``(Bc Bc) X (Br Br)^T``; decimation keeps 64 rows of each
    factor, and each kept row is non-zero only across one tent (about ``n / 64`` wide), so a
    gather and a weighted sum replace four full-size passes.
    """
    b = _box_matrix(n, _window(n, 64))
    picks = ((np.arange(64) + 0.5) * n / 64).astype(np.int64)
    rows = (b @ b)[picks]
    nz = [np.flatnonzero(r) for r in rows]
    width = max(len(x) for x in nz)
    idx = np.zeros((64, width), dtype=np.int64)
    w = np.zeros((64, width), dtype=np.float32)
    for i, cols in enumerate(nz):
        idx[i, : len(cols)] = cols
        w[i, : len(cols)] = rows[i, cols]
    return idx, w


def downsample_64(luma: np.ndarray) -> np.ndarray:
    rows, cols = luma.shape
    if (rows, cols) == (64, 64):
        return luma.astype(np.float64)
    ri, rw = _tent_then_decimate(rows)
    ci, cw = _tent_then_decimate(cols)
    y = luma.astype(np.float32, copy=False)
    m = np.einsum("ik,ikc->ic", rw, y[ri])  # 64 x cols
    out = np.einsum("jk,ijk->ij", cw, m[:, ci])  # 64 x 64
    return out.astype(np.float64)


def quality_of(buf64: np.ndarray) -> int:
    # The reference truncates each quantised step toward zero before summing.
    dv = np.trunc((buf64[:-1, :] - buf64[1:, :]) * 100.0 / 255.0)
    dh = np.trunc((buf64[:, :-1] - buf64[:, 1:]) * 100.0 / 255.0)
    total = int(np.abs(dv).sum() + np.abs(dh).sum())
    return min(100, total // 90)


def dct_16(buf64: np.ndarray) -> np.ndarray:
    d = _DCT.astype(np.float64)
    return d @ buf64 @ d.T


def _bits_to_words(bits: np.ndarray) -> tuple[int, int, int, int]:
    flat = bits.reshape(-1)
    words = []
    for w in range(4):
        chunk = flat[64 * w: 64 * (w + 1)]
        value = 0
        for i in np.flatnonzero(chunk):
            value |= 1 << int(i)
        words.append(value)
    return (words[0], words[1], words[2], words[3])


def pdq_hash_rgb(rgb: np.ndarray) -> PdqHash:
    """Hash an RGB (or greyscale) array; pictures under 5 px a side get a zero hash, quality 0."""
    luma = luminance(rgb)
    if luma.shape[0] < MIN_HASHABLE_DIM or luma.shape[1] < MIN_HASHABLE_DIM:
        return PdqHash((0, 0, 0, 0), 0)
    buf = downsample_64(luma)
    quality = quality_of(buf)
    coeffs = dct_16(buf)
    median = np.sort(coeffs.reshape(-1))[127]
    return PdqHash(_bits_to_words(coeffs > median), quality)


def pdq_hash_image(image: Image.Image) -> PdqHash:
    if image.mode in ("L", "RGB"):
        arr = np.asarray(image)
    elif image.mode in ("I;16", "I"):
        arr = np.asarray(image.convert("I")).astype(np.float32)
        if arr.max() > 255:
            arr = arr / 257.0
    else:
        arr = np.asarray(image.convert("RGB"))
    return pdq_hash_rgb(arr)


def pdq_hash_bytes(data: bytes) -> PdqHash:
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return pdq_hash_image(im)


# --------------------------------------------------------------------------- index


def words_array(hashes: Sequence[PdqHash | tuple[int, int, int, int]]) -> np.ndarray:
    rows = [h.words if isinstance(h, PdqHash) else h for h in hashes]
    return np.array(rows, dtype=np.uint64).reshape(-1, 4)


_FLIPS = np.array([0] + [1 << b for b in range(16)], dtype=np.int64)


class PdqIndex:
    """Multi-index hashing over sixteen 16-bit chunks, with an exact check of every candidate.

    Pigeonhole: two hashes within distance ``d`` agree to within ``d // 16`` bits on at least
    one of the sixteen chunks. For the usual ``d <= 31`` a query looks up, in each chunk's
    table, the query's chunk and its 16 one-bit neighbours (272 probes in all), gathers the
    few rows found there and computes their full distance. Tables are CSR arrays (``starts``
    per chunk value, row positions sorted by value) built with a stable radix sort.
    Rows added since the last build sit in a tail that is scanned directly, and the tables are
    rebuilt once the tail is large. Larger radii fall back to a full XOR + popcount scan.
    """

    TAIL_REBUILD = 4096

    def __init__(self, capacity: int = 1024) -> None:
        self._words = np.zeros((capacity, 4), dtype=np.uint64)
        self._ids = np.zeros(capacity, dtype=np.int64)
        self._alive = np.zeros(capacity, dtype=bool)
        self._n = 0
        self._built = 0
        self._order: list[np.ndarray] = []
        self._starts: list[np.ndarray] = []

    def __len__(self) -> int:
        return int(self._alive[: self._n].sum())

    def add(self, entry_id: int, h: PdqHash | tuple[int, int, int, int]) -> None:
        self.add_many(np.array([entry_id], dtype=np.int64), words_array([h]))

    def add_many(self, ids: np.ndarray, words: np.ndarray) -> None:
        need = self._n + len(ids)
        if need > len(self._ids):
            cap = max(need, 2 * len(self._ids))
            for name, dtype, shape in (("_words", np.uint64, (cap, 4)), ("_ids", np.int64, (cap,)),
                                       ("_alive", bool, (cap,))):
                grown = np.zeros(shape, dtype=dtype)
                grown[: self._n] = getattr(self, name)[: self._n]
                setattr(self, name, grown)
        self._words[self._n: need] = words
        self._ids[self._n: need] = ids
        self._alive[self._n: need] = True
        self._n = need
        if self._n - self._built > max(self.TAIL_REBUILD, self._built // 8):
            self.rebuild()

    def rebuild(self) -> None:
        n = self._n
        self._order, self._starts = [], []
        for k in range(16):
            chunk = ((self._words[:n, k // 4] >> np.uint64(16 * (k % 4))) & np.uint64(0xFFFF)).astype(np.uint16)
            order = np.argsort(chunk, kind="stable").astype(np.int64)
            counts = np.bincount(chunk, minlength=65536)
            starts = np.zeros(65537, dtype=np.int64)
            np.cumsum(counts, out=starts[1:])
            self._order.append(order)
            self._starts.append(starts)
        self._built = n

    def remove(self, entry_id: int) -> None:
        self._alive[: self._n][self._ids[: self._n] == entry_id] = False

    def distances(self, h: PdqHash, rows: np.ndarray | None = None) -> np.ndarray:
        q = np.array(h.words, dtype=np.uint64)
        block = self._words[: self._n] if rows is None else self._words[rows]
        return np.bitwise_count(np.bitwise_xor(block, q)).sum(axis=1, dtype=np.int32)

    def _candidates(self, h: PdqHash) -> np.ndarray:
        parts = []
        for k in range(16):
            qk = (h.words[k // 4] >> (16 * (k % 4))) & 0xFFFF
            probes = qk ^ _FLIPS
            starts = self._starts[k]
            lo, hi = starts[probes], starts[probes + 1]
            lens = hi - lo
            total = int(lens.sum())
            if total:
                ends = np.cumsum(lens)
                pos = np.arange(total) - np.repeat(ends - lens, lens) + np.repeat(lo, lens)
                parts.append(self._order[k][pos])
        if self._built < self._n:
            parts.append(np.arange(self._built, self._n))
        if not parts:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate(parts))

    def query(self, h: PdqHash, max_distance: int = 31) -> list[tuple[int, int]]:
        """``(entry id, distance)`` of every hash within ``max_distance``, nearest first."""
        if self._n == 0:
            return []
        if max_distance // 16 <= 1 and self._built:
            rows = self._candidates(h)
        else:
            rows = np.arange(self._n)
        rows = rows[self._alive[rows]]
        if len(rows) == 0:
            return []
        d = self.distances(h, rows)
        keep = np.flatnonzero(d <= max_distance)
        order = keep[np.argsort(d[keep], kind="stable")]
        return [(int(self._ids[rows[i]]), int(d[i])) for i in order]
