"""Proof of work for anonymous reports: what it costs the server to verify one report's
work against what it costs a client to find it, at the default difficulty.

Reference: one SHA-256 of a challenge-sized input (the floor for any check). Ours: a full
verification (MAC, expiry, difficulty, digest). The client's cost is the mean solve time.
"""

from __future__ import annotations

import hashlib
import statistics
import time

from livegate.complaints.pow import ChallengeIssuer, solve
from livegate.core.policy import load_default_policy


def per_call(fn: object, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()  # type: ignore[operator]
    return (time.perf_counter() - start) / n


def main() -> None:
    bits = load_default_policy().complaints.intake.challenge_bits
    issuer = ChallengeIssuer(b"bench-secret-" + b"x" * 20)
    challenges = [issuer.issue(now=time.time(), bits=bits) for _ in range(20)]
    solves = []
    nonces = []
    for c in challenges:
        t0 = time.perf_counter()
        nonces.append(solve(c.text, bits))
        solves.append(time.perf_counter() - t0)
    c0, n0 = challenges[0], nonces[0]
    now = time.time()
    ref = per_call(lambda: hashlib.sha256(f"{c0.text}:{n0}".encode()).digest(), 20000)
    ours = per_call(lambda: issuer.verify(c0.text, n0, now=now, min_bits=bits), 20000)
    solve_mean = statistics.fmean(solves)
    print(f"difficulty: {bits} bits")
    print(f"reference (one sha256):       {ref * 1e6:8.2f} us")
    print(f"ours (verify a report's work): {ours * 1e6:8.2f} us   ratio {ours / ref:6.1f}x the reference")
    print(f"client solve (python, mean of {len(solves)}): {solve_mean * 1e3:8.1f} ms   "
          f"asymmetry {solve_mean / ours:,.0f}x the server's verify")


if __name__ == "__main__":
    main()
