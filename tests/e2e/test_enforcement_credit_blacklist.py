"""Credit and blacklist end to end on a real server: a drop to the lowest level makes the
next stream go out delayed with pre-moderated comments; a blacklisted phone cannot register
a new account; a blacklisted document cannot verify a new publisher account."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
from sqlalchemy import select
from websockets.sync.client import connect as ws_connect

from livegate.core.permissions import Role
from livegate.media.models import Room, StreamSession
from tests.conftest import create_account, sign_in_http
from tests.e2e.conftest import LiveServer
from tests.e2e.helpers import ffmpeg_publish, make_room
from tests.identity.helpers import resident_id


def _until(ws: Any, kind: str, timeout: float = 30) -> dict[str, Any]:
    while True:
        msg = json.loads(ws.recv(timeout))
        if msg.get("type") == kind:
            return msg  # type: ignore[no-any-return]


def test_the_lowest_credit_level_delays_the_next_stream_and_premoderates_comments(live: LiveServer) -> None:
    p = live.platform
    room, key = make_room(p, "low-credit", category="education")
    create_account(p, "officer-d", Role.COMPLIANCE_OFFICER)
    with p.db.session() as s:
        owner = p.rooms.get(s, room).owner_id
    with httpx.Client(base_url=live.url, timeout=30) as http:
        h = sign_in_http(http, "officer-d")
        r = http.post("/api/v1/enforcement/sanctions", headers=h, json={
            "account_id": owner, "reason_code": "prohibited.national_security", "kind": "warning",
            "scope": ["comment"], "escalate": False})
        assert r.status_code == 201 and r.json()["credit_deducted"] == 100
    policy = p.policy.get()
    lowest = min(policy.credit.levels, key=lambda lv: lv.min_score)
    ws = ws_connect(f"ws://127.0.0.1:{live.url.rsplit(':', 1)[1]}/ws/rooms/{room}")
    proc = ffmpeg_publish(live.rtmp_url(key), seconds=30)
    try:
        _until(ws, "live")
        with p.db.session() as s:
            room_row = s.get(Room, room)
            assert room_row is not None
            ss = s.scalar(select(StreamSession).where(StreamSession.room_id == room)
                          .order_by(StreamSession.id.desc()).limit(1))
            assert ss is not None
            assert p.enforcement.credit_level_of(s, owner).key == lowest.key
            assert ss.delay_seconds == policy.effective_delay("education", lowest, 0) == 120
            assert p.enforcement.room_comment_mode(s, room_row) == "premoderated"
            assert policy.comment_mode("education", lowest) == "premoderated"
    finally:
        ws.close()
        proc.kill()
        proc.wait()


def _signup(http: httpx.Client, username: str) -> dict[str, str]:
    r = http.post("/api/v1/auth/signup", json={"username": username, "nickname": f"n-{username}",
                                               "password": "correct horse battery"})
    assert r.status_code == 201, r.text
    return {"x-csrf-token": r.json()["csrf_token"]}


def test_a_blacklisted_phone_cannot_register_nor_a_document_verify(live: LiveServer) -> None:
    p = live.platform
    create_account(p, "officer-e", Role.COMPLIANCE_OFFICER)
    create_account(p, "officer-f", Role.COMPLIANCE_OFFICER)
    phone = "+8613955550000"
    number = resident_id(dt.date(1988, 8, 8), 808)
    with httpx.Client(base_url=live.url, timeout=30) as a, httpx.Client(base_url=live.url, timeout=30) as b:
        ha, hb = sign_in_http(a, "officer-e"), sign_in_http(b, "officer-f")
        for kind, value in (("phone", phone), ("document", number)):
            e = a.post("/api/v1/enforcement/blacklist", headers=ha,
                       json={"kind": kind, "value": value, "reason": "provincial circular 2026-11"}).json()
            assert b.post(f"/api/v1/enforcement/blacklist/{e['id']}/confirm", headers=hb).status_code == 200
    with httpx.Client(base_url=live.url, timeout=30) as viewer:
        h = _signup(viewer, "fresh-viewer")
        assert viewer.post("/api/v1/me/phone/code", headers=h, json={"phone": phone}).status_code == 200
        assert p.identity.outbox is not None
        code = p.identity.outbox.last_code(phone)
        r = viewer.post("/api/v1/me/phone/verify", headers=h, json={"phone": phone, "code": code})
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "identity_not_accepted"
        assert "list" not in r.json()["error"]["message"].lower()
        me = viewer.get("/api/v1/me/identity").json()
        assert me["phone"]["verified"] is False
    with httpx.Client(base_url=live.url, timeout=30) as pub:
        h = _signup(pub, "fresh-publisher")
        r = pub.post("/api/v1/me/verification", headers=h,
                     json={"doc_type": "resident_id", "number": number, "real_name": "王五"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "identity_not_accepted"
        assert pub.get("/api/v1/me/identity").json()["identity"] is None
