"""Hashcash-style proof of work for anonymous reports.

The server issues a challenge ``v1.<id>.<expires>.<bits>.<mac>``: nothing is stored until
it is spent, the MAC (keyed by the platform secret) makes it unforgeable. The client finds a
nonce such that ``sha256(challenge + ":" + nonce)`` starts with ``bits`` zero bits. A spent
challenge's id is written in the same transaction as the report, under a unique key, so a
challenge buys exactly one report on any node.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import secrets
from dataclasses import dataclass

from livegate.complaints.errors import ChallengeInvalid

MAX_NONCE_LEN = 32


@dataclass(frozen=True)
class Challenge:
    id: str
    expires: int  # epoch seconds
    bits: int
    text: str


def leading_zero_bits(digest: bytes) -> int:
    n = 0
    for byte in digest:
        if byte == 0:
            n += 8
            continue
        return n + (8 - byte.bit_length())
    return n


def work_digest(challenge: str, nonce: str) -> bytes:
    return hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()


class ChallengeIssuer:
    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, b"livegate/complaints/pow", hashlib.sha256).digest()

    def _mac(self, body: str) -> str:
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def issue(self, *, now: float, bits: int, ttl_seconds: int = 600) -> Challenge:
        cid = secrets.token_urlsafe(12)
        expires = int(now) + ttl_seconds
        body = f"v1.{cid}.{expires}.{bits}"
        return Challenge(cid, expires, bits, f"{body}.{self._mac(body)}")

    def verify(self, text: str, nonce: str, *, now: float, min_bits: int) -> Challenge:
        """The challenge if well-formed, authentic, unexpired, hard enough and solved."""
        parts = text.split(".")
        if len(parts) != 5 or parts[0] != "v1" or not nonce or len(nonce) > MAX_NONCE_LEN:
            raise ChallengeInvalid()
        body = ".".join(parts[:4])
        if not hmac.compare_digest(self._mac(body), parts[4]):
            raise ChallengeInvalid()
        try:
            expires, bits = int(parts[2]), int(parts[3])
        except ValueError:
            raise ChallengeInvalid() from None
        if expires < now:
            raise ChallengeInvalid("the challenge has expired; fetch a new one")
        if bits < min_bits:
            raise ChallengeInvalid("the challenge is easier than the policy asks; fetch a new one")
        if leading_zero_bits(work_digest(text, nonce)) < bits:
            raise ChallengeInvalid("the proof of work does not solve the challenge")
        return Challenge(parts[1], expires, bits, text)


def solve(challenge: str, bits: int) -> str:
    """Find a nonce (the client's side; report.ts does the same in the browser)."""
    for i in itertools.count():
        nonce = format(i, "x")
        if leading_zero_bits(work_digest(challenge, nonce)) >= bits:
            return nonce
    raise AssertionError("unreachable")
