"""The handshake, checked against an independent rendering of the digest scheme: the keys are
spelled out here byte by byte rather than imported, so a wrong constant cannot hide."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from livegate.media.rtmp.errors import HandshakeError, UnsupportedVersion
from livegate.media.rtmp.events import ConnectionFailed, HandshakeCompleted
from livegate.media.rtmp.handshake import ClientHandshake, ServerHandshake
from livegate.media.rtmp.session import ServerConnection
from livegate.media.rtmp.state import ConnState

from .support import seeded_bytes

TAIL = bytes([
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
])
PLAYER_TEXT = b"Genuine Adobe Flash Player 001"
SERVER_TEXT = b"Genuine Adobe Flash Media Server 001"


def offset(packet: bytes, scheme: int) -> int:
    base = 8 if scheme == 0 else 772
    return sum(packet[base : base + 4]) % 728 + base + 4


def hmac256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def digest_c1(scheme: int, seed: int = 5) -> tuple[bytes, bytes]:
    body = bytearray(seeded_bytes(seed)(1536))
    body[0:4] = b"\x00\x00\x00\x00"
    body[4:8] = b"\x0a\x00\x2d\x02"
    at = offset(bytes(body), scheme)
    digest = hmac256(PLAYER_TEXT, bytes(body[:at] + body[at + 32 :]))
    body[at : at + 32] = digest
    return bytes(body), digest


@pytest.mark.parametrize("scheme", [0, 1])
def test_digest_handshake_is_answered_in_the_clients_scheme_with_a_valid_proof(scheme: int) -> None:
    c1, client_digest = digest_c1(scheme)
    server = ServerHandshake(seeded_bytes(9))
    reply = server.receive_c0c1(b"\x03" + c1)
    assert len(reply) == 1 + 1536 * 2 and reply[0] == 3
    s1, s2 = reply[1:1537], reply[1537:]
    assert server.digest and server.scheme == scheme
    assert s1[4:8] != b"\x00\x00\x00\x00"  # a digest server announces a version

    at = offset(s1, scheme)
    server_digest = s1[at : at + 32]
    assert server_digest == hmac256(SERVER_TEXT, s1[:at] + s1[at + 32 :])

    proof_key = hmac256(SERVER_TEXT + TAIL, client_digest)
    assert s2[-32:] == hmac256(proof_key, s2[:-32])

    c2_random = seeded_bytes(11)(1504)
    c2 = c2_random + hmac256(hmac256(PLAYER_TEXT + TAIL, server_digest), c2_random)
    server.receive_c2(c2)
    assert server.c2_verified


def test_plain_handshake_echoes_c1_in_s2() -> None:
    c1 = b"\x00\x00\x01\x00" + b"\x00" * 4 + seeded_bytes(1)(1528)
    server = ServerHandshake(seeded_bytes(2))
    reply = server.receive_c0c1(b"\x03" + c1)
    s1, s2 = reply[1:1537], reply[1537:]
    assert not server.digest
    assert s1[4:8] == b"\x00\x00\x00\x00"
    assert s2[:4] == c1[:4] and s2[8:] == c1[8:]
    server.receive_c2(s1)
    assert server.c2_verified


def test_a_version_without_a_valid_digest_falls_back_to_plain() -> None:
    c1, _ = digest_c1(0)
    broken = bytearray(c1)
    at = offset(c1, 0)
    broken[at] ^= 0xFF
    broken[offset(c1, 1)] ^= 0xFF
    server = ServerHandshake(seeded_bytes(2))
    reply = server.receive_c0c1(b"\x03" + bytes(broken))
    assert not server.digest
    assert reply[1537 + 8 :] == bytes(broken)[8:]


def test_a_wrong_c2_is_noted_but_tolerated() -> None:
    c1, _ = digest_c1(1)
    server = ServerHandshake(seeded_bytes(2))
    server.receive_c0c1(b"\x03" + c1)
    server.receive_c2(bytes(1536))
    assert not server.c2_verified


@pytest.mark.parametrize(("digest", "scheme"), [(True, 0), (True, 1), (False, 0)])
def test_client_and_server_halves_agree(digest: bool, scheme: int) -> None:
    client = ClientHandshake(seeded_bytes(3), digest=digest, scheme=scheme)
    server = ServerHandshake(seeded_bytes(4))
    c2 = client.receive_s0s1s2(server.receive_c0c1(client.c0c1()))
    server.receive_c2(c2)
    assert server.digest is digest
    assert client.server_digest_verified is digest
    assert client.server_proof_verified
    assert server.c2_verified


@pytest.mark.parametrize("version", [6, 8, 0, 0x47])  # RTMPE, RTMPTE, nonsense, an HTTP "G"
def test_other_versions_are_refused_at_the_first_byte(version: int) -> None:
    conn = ServerConnection(0.0)
    events = conn.receive_data(bytes([version]), 0.0)
    assert isinstance(events[0], ConnectionFailed)
    assert isinstance(events[0].error, UnsupportedVersion)
    assert events[0].error.code == "rtmp_unsupported_version"
    assert conn.state is ConnState.ERROR
    with pytest.raises(UnsupportedVersion):
        ServerHandshake(seeded_bytes(1)).receive_c0c1(bytes([version]) + bytes(1536))


def test_wrong_lengths_are_handshake_errors() -> None:
    with pytest.raises(HandshakeError):
        ServerHandshake(seeded_bytes(1)).receive_c0c1(b"\x03" + bytes(10))
    server = ServerHandshake(seeded_bytes(1))
    server.receive_c0c1(b"\x03" + bytes(1536))
    with pytest.raises(HandshakeError):
        server.receive_c2(bytes(5))


def test_connection_handshake_in_small_pieces_then_chunks_in_the_same_read() -> None:
    client = ClientHandshake(seeded_bytes(3), digest=True, scheme=1)
    conn = ServerConnection(0.0, random_bytes=seeded_bytes(4))
    c0c1 = client.c0c1()
    for i in range(0, len(c0c1), 100):
        assert conn.receive_data(c0c1[i : i + 100], 0.0) == []
    assert conn.state is ConnState.AWAIT_C2
    c2 = client.receive_s0s1s2(conn.data_to_send())
    set_chunk_size = b"\x02" + bytes(3) + b"\x00\x00\x04\x01" + bytes(4) + (4096).to_bytes(4, "big")
    events = conn.receive_data(c2 + set_chunk_size, 0.0)
    assert events == [HandshakeCompleted(digest=True)]
    assert conn.state is ConnState.AWAIT_CONNECT
    assert client.server_digest_verified and client.server_proof_verified
