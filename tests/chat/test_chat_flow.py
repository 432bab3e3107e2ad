"""The interaction flow over the real room WebSocket: gate, modes, moderation, records,
managers' actions and the held queue."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from livegate.app import Platform
from livegate.chat.models import ChatMessage
from livegate.core.models import AuditEntry
from livegate.core.permissions import Role
from tests.chat.helpers import Frames, make_room, make_viewer
from tests.conftest import As, sign_in


def _ws(client: TestClient, room: str, who: As | None = None) -> Any:
    headers = {"cookie": f"lg_session={who.session}", "user-agent": "test-agent/1"} if who and who.session else {}
    return client.websocket_connect(f"/ws/rooms/{room}", headers=headers)


def test_a_comment_is_stored_acknowledged_and_reaches_every_viewer(platform: Platform, client: TestClient) -> None:
    room = make_room(platform)
    make_viewer(platform, "alice")
    alice = sign_in(client, "alice")
    with _ws(client, room, alice) as a, _ws(client, room) as anon:
        fa, fb = Frames(a), Frames(anon)
        hello = fa.until("hello")
        assert hello["you"]["can_comment"] and hello["you"]["nickname"]
        assert fb.until("hello")["you"]["refusal"]["code"] == "chat.sign_in"
        a.send_json({"type": "comment", "ref": "c1", "text": "hello room", "color": "#fe0302", "position": "top"})
        ack = fa.until("ack", ref="c1")
        assert ack["status"] == "published"
        seen = fb.until("comment", id=ack["id"])
        assert seen["text"] == "hello room" and seen["color"] == "#fe0302" and seen["position"] == "top"
    with platform.db.session() as s:
        row = s.get(ChatMessage, ack["id"])
        assert row is not None and row.status == "published" and row.client == "test-agent/1" and row.ip
        assert row.decision["lexicon"]["action"] == "pass"


def test_refusals_tell_the_sender_why(platform: Platform, client: TestClient) -> None:
    room = make_room(platform)
    make_viewer(platform, "unverified", verified=False)
    make_viewer(platform, "bob")
    with _ws(client, room) as anon:
        f = Frames(anon)
        f.until("hello")
        anon.send_json({"type": "comment", "ref": "x", "text": "hi"})
        assert f.until("refused", ref="x")["code"] == "chat.sign_in"
    with _ws(client, room, sign_in(client, "unverified")) as ws:
        f = Frames(ws)
        f.until("hello")
        ws.send_json({"type": "comment", "ref": "x", "text": "hi"})
        r = f.until("refused", ref="x")
        assert r["code"] == "comment.phone_unverified" and r["article"] == "Art. 12" and r["message"]
    with _ws(client, room, sign_in(client, "bob")) as ws:
        f = Frames(ws)
        f.until("hello")
        ws.send_json({"type": "comment", "ref": "long", "text": "x" * 201})
        assert f.until("refused", ref="long")["code"] == "chat.too_long"
        ws.send_json({"type": "comment", "ref": "bad", "text": "上传色情网站的链接"})
        blocked = f.until("refused", ref="bad")
        assert blocked["code"] == "moderation.blocked" and blocked["status"] == "blocked" and blocked["id"]
        codes = []
        for i in range(6):
            ws.send_json({"type": "comment", "ref": f"r{i}", "text": f"message {i}"})
            while (msg := f.next())["type"] not in ("ack", "refused"):
                pass
            codes.append(msg)
        refused = [c for c in codes if c["type"] == "refused"]
        assert refused and refused[0]["code"] == "chat.rate_limited" and refused[0]["retry_after"] > 0
    with platform.db.session() as s:
        statuses = {m.client_ref: m.status for m in s.scalars(select(ChatMessage))}
    assert statuses["bad"] == "blocked" and statuses["long"] == "refused"


def test_bad_frames_get_typed_errors_and_abuse_closes_only_that_connection(platform: Platform,
                                                                           client: TestClient) -> None:
    room = make_room(platform)
    with _ws(client, room) as good, _ws(client, room) as bad:
        fg, fb = Frames(good), Frames(bad)
        fg.until("hello")
        fb.until("hello")
        bad.send_text("not json")
        assert fb.until("error")["code"] == "bad_json"
        bad.send_bytes(b"\xff\xfe{}")
        assert fb.until("error")["code"] == "bad_utf8"
        bad.send_text('{"type": "comment", "text": "' + "x" * 5000 + '"}')
        assert fb.until("error")["code"] == "frame_too_large"
        bad.send_text('{"type": "dance", "ref": "d"}')
        e = fb.until("error")
        assert e["code"] == "unknown_type" and e["ref"] == "d"
        bad.send_text('{"type": "comment", "text": "hi", "color": "#123456"}')
        assert fb.until("error")["code"] == "invalid_field"
        for _ in range(30):
            bad.send_text("{")
        assert fb.until("error", code="abuse")
        good.send_json({"type": "ping", "ref": "p"})
        assert fg.until("pong")["ref"] == "p"


def test_managers_remove_mute_switch_modes_and_work_the_held_queue(platform: Platform, client: TestClient) -> None:
    room = make_room(platform)
    make_viewer(platform, "carol")
    make_viewer(platform, "mod", role=Role.ROOM_MANAGER, scope=room)
    make_viewer(platform, "othermod", role=Role.ROOM_MANAGER, scope="999999")
    carol, mod, other = sign_in(client, "carol"), sign_in(client, "mod"), sign_in(client, "othermod")
    with _ws(client, room, carol) as c, _ws(client, room, mod) as m:
        fc, fm = Frames(c), Frames(m)
        fc.until("hello")
        assert fm.until("hello")["you"]["moderator"]
        c.send_json({"type": "comment", "ref": "1", "text": "first"})
        msg_id = fc.until("ack", ref="1")["id"]
        assert other.post(f"/api/v1/rooms/{room}/comments/{msg_id}/remove", json={"reason": "x"}).status_code == 403
        r = mod.post(f"/api/v1/rooms/{room}/comments/{msg_id}/remove", json={"reason": "off topic"})
        assert r.status_code == 200, r.text
        assert fc.until("removed")["ids"] == [msg_id]
        assert fm.until("removed")["ids"] == [msg_id]
        # pre-moderation: held, seen by the manager only, approve publishes
        r = mod.put(f"/api/v1/rooms/{room}/chat-modes", json={"premoderation": True, "reason": "heated"})
        assert r.status_code == 200 and r.json()["premoderated"]
        assert fc.until("modes")["premoderated"]
        c.send_json({"type": "comment", "ref": "2", "text": "please review me"})
        ack = fc.until("ack", ref="2")
        assert ack["status"] == "held"
        held = fm.until("held")["message"]
        assert held["id"] == ack["id"] and held["body"] == "please review me"
        c.send_json({"type": "comment", "ref": "3", "text": "and me"})
        rejected_id = fc.until("ack", ref="3")["id"]
        assert mod.post(f"/api/v1/rooms/{room}/comments/{ack['id']}/approve", json={}).status_code == 200
        assert fc.until("comment", id=ack["id"])["text"] == "please review me"
        assert mod.post(f"/api/v1/rooms/{room}/comments/{rejected_id}/reject", json={}).status_code == 200
        queue = mod.get(f"/api/v1/rooms/{room}/comments/records?status=held").json()["records"]
        assert queue == []
        # mute
        with platform.db.session() as s:
            carol_id = platform.accounts.by_username(s, "carol").id  # type: ignore[union-attr]
        r = mod.post(f"/api/v1/rooms/{room}/mutes", json={"account_id": carol_id, "minutes": 10, "reason": "spam"})
        assert r.status_code == 200, r.text
        assert fc.until("notice")["code"] == "muted"
        c.send_json({"type": "comment", "ref": "4", "text": "still here?"})
        assert fc.until("refused", ref="4")["code"] == "chat.muted"
    with platform.db.session() as s:
        actions = set(s.scalars(select(AuditEntry.action)))
        rejected = s.get(ChatMessage, rejected_id)
        assert rejected is not None and rejected.status == "rejected"
    assert {"chat.remove", "chat.room_modes", "chat.approve", "chat.reject", "chat.mute"} <= actions


def test_news_rooms_are_always_premoderated_and_the_platform_switch_holds_everything(
        platform: Platform, client: TestClient) -> None:
    import asyncio

    news = make_room(platform, "newsroom", category="news")
    plain = make_room(platform, "plainroom")
    make_viewer(platform, "dave")
    dave = sign_in(client, "dave")
    assert dave.post(f"/api/v1/rooms/{news}/comments", json={"text": "breaking"}).json()["status"] == "held"
    assert dave.post(f"/api/v1/rooms/{plain}/comments", json={"text": "hi"}).json()["status"] == "published"
    asyncio.run(platform.chat.set_platform_premoderation(True, actor="test", reason="emergency"))
    r = dave.post(f"/api/v1/rooms/{plain}/comments", json={"text": "hi again", "ref": "z"}).json()
    assert r["status"] == "held" and r["ref"] == "z"


def test_blocked_comments_can_be_visible_only_to_their_sender(platform: Platform, client: TestClient,
                                                              admin: As) -> None:
    room = make_room(platform)
    make_viewer(platform, "erin")
    erin = sign_in(client, "erin")
    r = admin.post("/api/v1/chat/settings", json={"blocked_outcome": "self_only", "reason": "policy"})
    assert r.status_code == 200, r.text
    with _ws(client, room, erin) as e:
        f = Frames(e)
        f.until("hello")
        e.send_json({"type": "comment", "ref": "s", "text": "网络赌场 开业"})
        ack = f.until("ack", ref="s")
        assert ack["status"] == "self_only" and ack["comment"]["self_only"] and ack["reason"]


def test_publishers_appoint_and_remove_room_managers(platform: Platform, client: TestClient) -> None:
    room = make_room(platform, "owner1")
    make_viewer(platform, "helper")
    owner = sign_in(client, "owner1")
    r = owner.post(f"/api/v1/studio/rooms/{room}/managers", json={"username": "helper"})
    assert r.status_code == 201, r.text
    helper_id = r.json()["account"]
    assert [m["username"] for m in owner.get(f"/api/v1/studio/rooms/{room}/managers").json()["managers"]] == ["helper"]
    helper = sign_in(client, "helper")
    assert helper.get(f"/api/v1/rooms/{room}/comments/records").status_code == 200
    assert owner.get(f"/studio/rooms/{room}/managers").status_code == 200
    assert helper.get(f"/console/rooms/{room}/comments").status_code == 200
    r = owner.post(f"/api/v1/studio/rooms/{room}/managers/{helper_id}/remove", json={})
    assert r.status_code == 200 and r.json()["removed"]
    assert sign_in(client, "helper").get(f"/api/v1/rooms/{room}/comments/records").status_code == 403
