"""The image classifier (NudeNet's ONNX detector on onnxruntime, one thread) and how many
live rooms one 2-core node can sample at their tiers' intervals.

Prints frames/s/core for the classifier and for PDQ (the reference: the cheapest signal every
frame gets), the ratio, and the rooms per 2-core node per audience tier, assuming half the
node's CPU is left for review (the rest is ingest, HLS and the web)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from livegate.core.policy import load_default_policy  # noqa: E402
from livegate.review.signals.classifier import NudityClassifierSignal  # noqa: E402
from livegate.review.signals.hashbank import example_picture  # noqa: E402
from livegate.review.signals.pdq import pdq_hash_rgb  # noqa: E402


def rate(fn, seconds: float = 3.0) -> float:  # type: ignore[no-untyped-def]
    fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    frame = example_picture(2, (720, 1280))
    pdq = rate(lambda: pdq_hash_rgb(frame))
    clf = NudityClassifierSignal(threads=1)
    if not clf.available:
        print(f"classifier: {clf.unavailable_reason}; PDQ only: {pdq:.1f} frames/s/core")
        per_frame = 1 / pdq
    else:
        ours = rate(lambda: clf.analyse_image(frame))
        print(f"reference (PDQ) {pdq:7.1f} frames/s/core | ours (NudeNet 320n, onnxruntime, 1 thread) "
              f"{ours:7.1f} frames/s/core | ratio {ours / pdq:5.3f}")
        per_frame = 1 / pdq + 1 / ours
    budget = 2 * 0.5  # 2 cores, half for review
    policy = load_default_policy()
    print(f"\ncost per sampled 720p frame (PDQ + classifier): {per_frame * 1000:.1f} ms")
    print("rooms one 2-core node can sample (half its CPU for review):")
    for tier in policy.audience_tiers:
        rooms = budget * tier.sampling_seconds / per_frame
        print(f"  tier {tier.key:8s} every {tier.sampling_seconds:4g} s -> {rooms:8.0f} rooms")
    news = policy.category("news").frame_sampling_seconds
    print(f"  news     every {news:4g} s -> {budget * news / per_frame:8.0f} rooms")


if __name__ == "__main__":
    main()
