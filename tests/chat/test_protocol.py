"""The wire protocol as a state machine, without sockets."""

from __future__ import annotations

import json
import random

from livegate.chat.protocol import (
    MAX_FRAME_BYTES,
    ClientConnection,
    CloseConnection,
    CommentRequest,
    Ping,
    ProtocolError,
)


def test_valid_frames_become_requests() -> None:
    c = ClientConnection()
    assert c.receive('{"type":"ping","ref":"a"}', 0.0) == Ping("a")
    ev = c.receive(json.dumps({"v": 1, "type": "comment", "ref": "r", "text": "你好", "color": "#FE0302",
                               "position": "bottom"}), 0.0)
    assert ev == CommentRequest("r", "你好", "bottom", "#fe0302")
    assert c.receive(json.dumps({"type": "comment", "text": "hi"}).encode(), 0.0) == CommentRequest("", "hi")


def test_bad_input_gets_typed_errors() -> None:
    c = ClientConnection(max_errors=100)
    cases = {
        "nope": "bad_json", "[1,2]": "bad_json", '{"type":"x"}': "unknown_type", '{"v":2,"type":"ping"}':
        "unsupported_version", '{"type":"comment","text":5}': "invalid_field",
        '{"type":"comment","text":"a","position":"diagonal"}': "invalid_field", '{"type":"ping","ref":7}':
        "invalid_field", '{"type":"comment","text":NaN}': "bad_json",
    }
    for frame, code in cases.items():
        ev = c.receive(frame, 0.0)
        assert isinstance(ev, ProtocolError) and ev.code == code, frame
    assert c.receive(b"\xc3\x28", 0.0) == ProtocolError("bad_utf8", "frames must be UTF-8 text")
    big = c.receive("x" * (MAX_FRAME_BYTES + 1), 0.0)
    assert isinstance(big, ProtocolError) and big.code == "frame_too_large"


def test_floods_are_refused_then_closed_and_time_restores_the_budget() -> None:
    c = ClientConnection(frame_burst=5, frame_rate=1.0)
    events = [c.receive('{"type":"ping","ref":"p"}', 0.0) for _ in range(6)]
    assert all(isinstance(e, Ping) for e in events[:5])
    assert isinstance(events[5], ProtocolError) and events[5].code == "flood" and events[5].ref == "p"
    assert isinstance(c.receive('{"type":"ping"}', 1.0), Ping)
    events = [c.receive('{"type":"ping"}', 1.0) for _ in range(60)]
    closes = [e for e in events if isinstance(e, CloseConnection)]
    assert closes and closes[0].error.code == "abuse" and c.closed


def test_repeated_errors_close_the_connection() -> None:
    c = ClientConnection(max_errors=3)
    results = [c.receive("{", float(i) / 10) for i in range(4)]
    assert isinstance(results[-1], CloseConnection) and c.closed


def test_fuzz_never_raises() -> None:
    rng = random.Random(5)
    c = ClientConnection(frame_burst=10**9, max_errors=10**9)
    for _ in range(3000):
        n = rng.randint(0, 64)
        frame: str | bytes = bytes(rng.randrange(256) for _ in range(n))
        if rng.random() < 0.5:
            frame = frame.decode("latin-1")
        c.receive(frame, 0.0)
