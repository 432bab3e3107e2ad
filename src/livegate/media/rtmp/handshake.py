"""The RTMP handshake, plain and digest ("complex").

Plain (RTMP spec 5.2): C0/S0 is the version byte 3; C1/S1 are 1536 bytes of time, zero
and random; C2/S2 echo the peer's packet.

Digest (the variant Flash Player introduced and ffmpeg, OBS and Wirecast use): a non-zero
version field in C1 announces that 32 bytes of C1 are an HMAC-SHA256 of the rest, keyed with
the first 30 bytes of the "Genuine Adobe Flash Player 001" constant. The digest sits at
an offset computed from four bytes of the packet, in one of two layouts ("schemes"):

* scheme 0: offset = (sum of bytes 8..11) mod 728 + 12
* scheme 1: offset = (sum of bytes 772..775) mod 728 + 776

The server answers in the same scheme, keyed with the first 36 bytes of the "Genuine Adobe
Flash Media Server 001" constant, and proves it saw the client's digest by ending S2 with
HMAC(HMAC(full server constant, client digest), S2[:1504]). Players check that proof
before they play; publishers mostly do not, but we always give it.

A client that sends a non-zero version but no valid digest gets the plain handshake,
because some encoders do exactly that and the plain form is always acceptable.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from livegate.media.rtmp.errors import HandshakeError, UnsupportedVersion

RTMP_VERSION: Final = 3
HANDSHAKE_SIZE: Final = 1536
DIGEST_SIZE: Final = 32

_GENUINE_TAIL: Final = bytes.fromhex("F0EEC24A8068BEE82E00D0D1029E7E576EEC5D2D29806FAB93B8E636CFEB31AE")
GENUINE_FMS_KEY: Final = b"Genuine Adobe Flash Media Server 001" + _GENUINE_TAIL
"""68 bytes; the first 36 key the server's S1 digest, all of them key the S2 proof."""
GENUINE_FP_KEY: Final = b"Genuine Adobe Flash Player 001" + _GENUINE_TAIL
"""62 bytes; the first 30 key the client's C1 digest, all of them key the C2 proof."""

SERVER_VERSION: Final = b"\x04\x05\x00\x01"
"""What we put in S1's version field when answering a digest client (any non-zero will do)."""
CLIENT_VERSION: Final = b"\x09\x00\x7c\x02"
"""The Flash Player version field our test client sends (the same one ffmpeg sends)."""

RandomBytes = Callable[[int], bytes]

# scheme -> (offset of the four bytes that place the digest, start of the digest area)
_SCHEMES: Final = {0: (8, 12), 1: (772, 776)}


def digest_offset(packet: bytes, scheme: int) -> int:
    """Where the 32-byte digest sits in a 1536-byte C1/S1 for the given scheme."""
    base, area = _SCHEMES[scheme]
    return sum(packet[base : base + 4]) % 728 + area


def compute_digest(packet: bytes, offset: int, key: bytes) -> bytes:
    """HMAC-SHA256 of the packet with the 32 digest bytes at ``offset`` left out."""
    message = packet[:offset] + packet[offset + DIGEST_SIZE :]
    return hmac.new(key, message, hashlib.sha256).digest()


def imprint_digest(packet: bytes, scheme: int, key: bytes) -> tuple[bytes, bytes]:
    """Write the digest into ``packet`` in ``scheme``; return the packet and the digest."""
    offset = digest_offset(packet, scheme)
    digest = compute_digest(packet, offset, key)
    return packet[:offset] + digest + packet[offset + DIGEST_SIZE :], digest


def find_digest(packet: bytes, key: bytes) -> tuple[int, bytes] | None:
    """The scheme and digest of a C1/S1 whose digest verifies under ``key``, if any."""
    for scheme in (0, 1):
        offset = digest_offset(packet, scheme)
        found = packet[offset : offset + DIGEST_SIZE]
        if hmac.compare_digest(found, compute_digest(packet, offset, key)):
            return scheme, found
    return None


def make_proof(random_part: bytes, peer_digest: bytes, key: bytes) -> bytes:
    """S2 or C2 in digest mode: 1504 random bytes and an HMAC that binds the peer's digest."""
    if len(random_part) != HANDSHAKE_SIZE - DIGEST_SIZE:
        raise ValueError("the proof's random part must be 1504 bytes")
    proof_key = hmac.new(key, peer_digest, hashlib.sha256).digest()
    return random_part + hmac.new(proof_key, random_part, hashlib.sha256).digest()


def verify_proof(packet: bytes, peer_digest: bytes, key: bytes) -> bool:
    """Whether an S2/C2 carries the proof for ``peer_digest``."""
    if len(packet) != HANDSHAKE_SIZE:
        return False
    expected = make_proof(packet[: HANDSHAKE_SIZE - DIGEST_SIZE], peer_digest, key)
    return hmac.compare_digest(packet, expected)


@dataclass(slots=True)
class ServerHandshake:
    """Answers C0+C1 with S0+S1+S2 and accepts C2; holds only bytes, never a socket."""

    random_bytes: RandomBytes
    digest: bool = False
    scheme: int | None = None
    c2_verified: bool = False
    _s1: bytes = b""
    _client_digest: bytes = b""
    _server_digest: bytes = b""

    def receive_c0c1(self, c0c1: bytes) -> bytes:
        """Take exactly 1537 bytes (C0 and C1) and return S0+S1+S2."""
        if len(c0c1) != 1 + HANDSHAKE_SIZE:
            raise HandshakeError("C0+C1 must be 1537 bytes", length=len(c0c1))
        if c0c1[0] != RTMP_VERSION:
            raise UnsupportedVersion("only RTMP version 3 is supported", version=c0c1[0])
        c1 = c0c1[1:]
        found = find_digest(c1, GENUINE_FP_KEY[:30]) if c1[4:8] != b"\x00\x00\x00\x00" else None
        if found is None:
            self._s1 = b"\x00" * 8 + self.random_bytes(HANDSHAKE_SIZE - 8)
            s2 = c1[:4] + b"\x00\x00\x00\x00" + c1[8:]
        else:
            self.digest = True
            self.scheme, self._client_digest = found
            template = b"\x00" * 4 + SERVER_VERSION + self.random_bytes(HANDSHAKE_SIZE - 8)
            self._s1, self._server_digest = imprint_digest(template, self.scheme, GENUINE_FMS_KEY[:36])
            s2 = make_proof(
                self.random_bytes(HANDSHAKE_SIZE - DIGEST_SIZE), self._client_digest, GENUINE_FMS_KEY
            )
        return bytes([RTMP_VERSION]) + self._s1 + s2

    def receive_c2(self, c2: bytes) -> None:
        """Take C2. It is checked but never enforced: real clients get it wrong often enough."""
        if len(c2) != HANDSHAKE_SIZE:
            raise HandshakeError("C2 must be 1536 bytes", length=len(c2))
        if self.digest:
            self.c2_verified = verify_proof(c2, self._server_digest, GENUINE_FP_KEY)
        else:
            self.c2_verified = c2[8:] == self._s1[8:]


@dataclass(slots=True)
class ClientHandshake:
    """The client half, for tests and benchmarks: it checks the server's digest and proof."""

    random_bytes: RandomBytes
    digest: bool = True
    scheme: int = 0
    server_digest_verified: bool = False
    server_proof_verified: bool = False
    _c1: bytes = b""
    _client_digest: bytes = b""

    def c0c1(self) -> bytes:
        if self.digest:
            template = b"\x00" * 4 + CLIENT_VERSION + self.random_bytes(HANDSHAKE_SIZE - 8)
            self._c1, self._client_digest = imprint_digest(template, self.scheme, GENUINE_FP_KEY[:30])
        else:
            self._c1 = b"\x00" * 8 + self.random_bytes(HANDSHAKE_SIZE - 8)
        return bytes([RTMP_VERSION]) + self._c1

    def receive_s0s1s2(self, s0s1s2: bytes) -> bytes:
        """Take S0+S1+S2 (3073 bytes); return C2."""
        if len(s0s1s2) != 1 + 2 * HANDSHAKE_SIZE:
            raise HandshakeError("S0+S1+S2 must be 3073 bytes", length=len(s0s1s2))
        if s0s1s2[0] != RTMP_VERSION:
            raise UnsupportedVersion("server answered with another RTMP version", version=s0s1s2[0])
        s1 = s0s1s2[1 : 1 + HANDSHAKE_SIZE]
        s2 = s0s1s2[1 + HANDSHAKE_SIZE :]
        if not self.digest:
            self.server_proof_verified = s2[8:] == self._c1[8:]
            return s1[:4] + b"\x00\x00\x00\x00" + s1[8:]
        found = find_digest(s1, GENUINE_FMS_KEY[:36])
        if found is None:
            return s1  # a plain server: echo S1
        self.server_digest_verified = True
        _scheme, server_digest = found
        self.server_proof_verified = verify_proof(s2, self._client_digest, GENUINE_FMS_KEY)
        return make_proof(self.random_bytes(HANDSHAKE_SIZE - DIGEST_SIZE), server_digest, GENUINE_FP_KEY)
