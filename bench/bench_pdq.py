"""PDQ hashing and hash-bank queries.

Prints, for each measurement, the reference, ours and the ratio:

- hashing: frames per second of our NumPy PDQ at 320x240 and 1280x720 against the cost the
  frame tap already pays per sample (Pillow JPEG encode of the same frame);
- queries: one query over 1,000,000 banked hashes, our packed-uint64 XOR + popcount index
  against the straightforward pure-Python scan (``int.bit_count`` over every hash), and our
  p50/p99 latency (goal: under 10 ms).
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from livegate.review.signals.hashbank import example_picture  # noqa: E402
from livegate.review.signals.pdq import PdqHash, PdqIndex, pdq_hash_rgb  # noqa: E402


def rate(fn, seconds: float = 2.0) -> float:  # type: ignore[no-untyped-def]
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    print("== PDQ hashing (frames/s, one core) ==")
    for h, w in ((240, 320), (720, 1280)):
        pic = example_picture(1, (h, w))

        def jpeg(pic: np.ndarray = pic) -> None:
            Image.fromarray(pic).save(io.BytesIO(), format="JPEG", quality=85)

        ref = rate(jpeg)
        ours = rate(lambda pic=pic: pdq_hash_rgb(pic))
        print(f"{w}x{h}: reference (JPEG encode, paid by the tap anyway) {ref:8.1f}/s | ours (PDQ) {ours:8.1f}/s"
              f" | ratio ours/ref {ours / ref:5.2f}")

    n = 1_000_000
    print(f"\n== bank query over {n:,} hashes ==")
    rng = np.random.default_rng(0)
    idx = PdqIndex(capacity=n)
    words = rng.integers(0, 2**63, size=(n, 4), dtype=np.uint64)
    idx.add_many(np.arange(n, dtype=np.int64), words)
    t = time.perf_counter()
    idx.rebuild()
    print(f"index build over {n:,} hashes: {time.perf_counter() - t:.2f} s")
    queries = [PdqHash(tuple(int(x) for x in rng.integers(0, 2**63, 4, dtype=np.uint64)), 100)  # type: ignore[arg-type]
               for _ in range(1000)]
    # half the queries are near-duplicates of banked hashes (5 bits flipped): real matches
    for i in range(0, len(queries), 2):
        w = [int(x) for x in words[i * 997 % n]]
        w[0] ^= 0b11111
        queries[i] = PdqHash(tuple(w), 100)  # type: ignore[arg-type]
    lat, cpu = [], []
    found = 0
    for q in queries:
        t, c = time.perf_counter(), time.thread_time()
        found += bool(idx.query(q, 31))
        lat.append((time.perf_counter() - t) * 1000)
        cpu.append((time.thread_time() - c) * 1000)
    lat.sort()
    cpu.sort()
    p50, p99 = statistics.median(lat), lat[int(0.99 * len(lat)) - 1]
    cpu50, cpu99 = statistics.median(cpu), cpu[int(0.99 * len(cpu)) - 1]
    print(f"matches found: {found} of {len(queries)} (500 planted); CPU time per query p50 {cpu50:.2f} ms,"
          f" p99 {cpu99:.2f} ms (wall p99 includes other processes on this shared machine)")
    ints = [int(a) | int(b) << 64 | int(c) << 128 | int(d) << 192 for a, b, c, d in words[:100_000]]
    qv = sum(w << (64 * i) for i, w in enumerate(queries[0].words))
    t = time.perf_counter()
    _ = [i for i, v in enumerate(ints) if (v ^ qv).bit_count() <= 31]
    ref_ms = (time.perf_counter() - t) * 1000 * (n / len(ints))
    print(f"reference (pure-Python scan, extrapolated from 100k) {ref_ms:9.1f} ms/query"
          f" | ours p50 {p50:6.2f} ms, p99 {p99:6.2f} ms | speed-up {ref_ms / p50:7.1f}x")
    verdict = "met" if p99 < 10 else "NOT met"
    print(f"queries/s (ours, one thread): {1000 / p50:8.1f}; goal p99 < 10 ms (wall): {verdict}")


if __name__ == "__main__":
    main()
