"""The owner's credit level caps the room's audience (Art. 15): past the cap, a new viewer's
socket is refused with 4429; room managers and staff still get in."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from livegate.app import Platform
from tests.e2e.helpers import make_room


def test_a_room_at_its_cap_refuses_new_viewers(platform: Platform, client: TestClient) -> None:
    room_id, _ = make_room(platform, username="capped")
    with platform.db.session() as s:
        owner = platform.rooms.get(s, room_id).owner_id
        cap = platform.enforcement.audience_cap(s, owner)
    if cap is None:
        # the top credit levels have no cap in the default policy: drop to the lowest level
        lowest = min(platform.policy.get().credit.levels, key=lambda lv: lv.min_score)
        with platform.db.session() as s:
            score = platform.enforcement.credit.score_of(s, owner)
            platform.enforcement.credit.change(s, owner, lowest.min_score - score, kind="deduction",
                                               reason="test", actor="test")
            cap = platform.enforcement.audience_cap(s, owner)
    assert cap is not None
    with platform.db.session() as s:
        platform.rooms.get(s, room_id).viewers = cap
    with pytest.raises(WebSocketDisconnect) as exc, client.websocket_connect(f"/ws/rooms/{room_id}") as ws:
        ws.receive_json()
    assert exc.value.code == 4429
    with platform.db.session() as s:
        platform.rooms.get(s, room_id).viewers = cap - 1
    with client.websocket_connect(f"/ws/rooms/{room_id}") as ws:
        assert ws.receive_json()["type"] == "hello"
