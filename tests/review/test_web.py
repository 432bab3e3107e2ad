"""The review routes end to end through the app: the hash bank (added on one node, matched on
another), automatic action on a frame, the patrol wall and its log, emergencies, news plans,
and every console page."""

from __future__ import annotations

import base64
import datetime as dt
import io
import secrets

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from livegate.app import Platform
from livegate.config import Settings
from livegate.core.permissions import Role
from livegate.media.models import Room
from livegate.media.sampler import SampledFrame
from livegate.review.models import PatrolLook, ReviewEvidence
from livegate.review.signals.hashbank import example_picture
from tests.conftest import As, create_account, make_platform, sign_in


def _png_b64(seed: int) -> str:
    buf = io.BytesIO()
    Image.fromarray(example_picture(seed)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _frame(room: str, seed: int) -> SampledFrame:
    rgb = example_picture(seed)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG")
    return SampledFrame(room=room, session="s1", pts_seconds=4.0, captured_at=dt.datetime.now(dt.UTC),
                        width=rgb.shape[1], height=rgb.shape[0], rgb=rgb, jpeg=buf.getvalue())


def _room(p: Platform, name: str, category: str = "show", status: str = "live") -> tuple[str, int]:
    acc = create_account(p, name, Role.PUBLISHER)
    with p.db.session() as s:
        room, _ = p.rooms.create(s, p.accounts.get(s, acc), title=f"{name}'s room", category=category, actor="t")
        room.status = status
        return room.id, acc


def test_hash_added_on_one_node_matches_on_another_and_acts(platform: Platform, client: TestClient,
                                                             settings: Settings) -> None:
    p = platform
    create_account(p, "reviewer1", Role.REVIEWER)
    rev = sign_in(client, "reviewer1")
    r = rev.post("/api/v1/review/hashes", json={"label": "known", "image_b64": _png_b64(31)})
    assert r.status_code == 201, r.text
    assert r.json()["id"] in p.review.bank.labels
    other = make_platform(settings.model_copy(update={"node_name": f"other-{secrets.token_hex(3)}"}),
                          start_rtmp=False)
    try:
        assert other.review.sync_bank(force=True) == 1  # the polling backstop, no broker needed
        room, _ = _room(other, "streamer1")
        verdict = other.review.analyse_frame(room, _frame(room, 31))
        assert verdict.cut_reason and "pdq_bank" in verdict.cut_reason
        clean = other.review.analyse_frame(room, _frame(room, 32))
        assert clean.cut_reason is None
    finally:
        other.close()
    case = rev.get(f"/api/v1/review/cases/{verdict.case_id}").json()
    assert case["status"] == "auto_actioned" and case["evidence"][0]["has_image"]
    ev_id = case["evidence"][0]["id"]
    img = rev.get(f"/api/v1/review/evidence/{ev_id}/image")
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
    one_click = rev.post(f"/api/v1/review/evidence/{ev_id}/bank", json={"label": "from case"})
    assert one_click.status_code == 201
    assert rev.post("/api/v1/review/hashes", json={"label": "flat", "image_b64": _flat_b64()}).status_code == 422
    m = rev.get("/api/v1/review/metrics").json()
    assert {"queue_age_max_seconds", "time_to_decision_p50_seconds", "on_duty_per_live_room"} <= set(m)
    with p.db.session() as s:
        assert s.get(ReviewEvidence, ev_id) is not None


def _flat_b64() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (80, 80, 80)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_patrol_wall_logs_every_look_and_shows_tiers(platform: Platform, client: TestClient, admin: As) -> None:
    p = platform
    officer_id = create_account(p, "officer1", Role.PATROL_OFFICER)
    now = dt.datetime.now(dt.UTC)
    r = admin.post("/api/v1/review/roster", json={"account_id": officer_id, "duty": "patrol",
                                                   "starts_at": (now - dt.timedelta(hours=1)).isoformat(),
                                                   "ends_at": (now + dt.timedelta(hours=7)).isoformat()})
    assert r.status_code == 201, r.text
    quiet, _ = _room(p, "quiet1")
    busy, _ = _room(p, "busy1")
    with p.db.session() as s:
        s.get(Room, busy).viewers = 12_000
        p.review.add_signal(s, kind="nudenet", target_type="room", target_id=quiet, score=80, evidence={},
                            room_id=quiet)
        p.review.patrol.store_thumbnail(s, quiet, "s1", _frame(quiet, 1).jpeg)
    officer = sign_in(client, "officer1")
    wall = officer.get("/api/v1/patrol/wall").json()["rooms"]
    assert [w["room_id"] for w in wall] == [quiet, busy]  # risk first, then audience
    assert wall[1]["tier"] == "massive" and wall[1]["patrol_required"]
    assert any("10,000" in why or "12,000" in why for why in wall[1]["why"])
    assert officer.get(f"/api/v1/patrol/rooms/{quiet}/thumbnail").status_code == 200
    assert officer.post(f"/api/v1/patrol/rooms/{busy}/watch").status_code == 200
    page = officer.get("/console/patrol")
    assert page.status_code == 200 and f'data-room="{quiet}"' in page.text and "officer1" in page.text
    with p.db.session() as s:
        looks = [(lk.action, lk.room_id) for lk in s.scalars(select(PatrolLook).order_by(PatrolLook.id))]
    assert looks == [("wall", None), ("watch", busy), ("wall", None)]
    roster = officer.get("/api/v1/review/roster").json()
    assert roster["on_duty"][0]["username"] == "officer1"
    assert create_account(p, "rev2", Role.REVIEWER)
    assert sign_in(client, "rev2").get("/api/v1/patrol/wall").status_code == 403


def test_emergency_and_news_plans_through_the_api(platform: Platform, client: TestClient) -> None:
    p = platform
    create_account(p, "chief1", Role.CHIEF_EDITOR)
    chief = sign_in(client, "chief1")
    inc = chief.post("/api/v1/emergency/incidents", json={"title": "test incident"}).json()["id"]
    r = chief.post("/api/v1/emergency/switches", json={"name": "pause_streams", "on": True, "reason": "drill",
                                                       "category": "news", "incident_id": inc})
    assert r.status_code == 200 and "pause_streams:news" in r.json()["active"]
    bad = chief.post("/api/v1/emergency/switches", json={"name": "pause_streams", "on": True, "reason": "x",
                                                         "category": "nope"})
    assert bad.status_code == 404
    cut = chief.post("/api/v1/emergency/category-cutoff", json={"category": "gaming", "reason": "drill",
                                                                 "incident_id": inc})
    assert cut.status_code == 200 and cut.json()["rooms"] == []
    state = chief.get("/api/v1/emergency").json()
    assert [e["action"] for e in state["incidents"][0]["timeline"]] == ["incident.open", "switch.on",
                                                                        "category.cutoff"]
    page = chief.get("/console/emergency")
    assert page.status_code == 200 and 'data-testid="runbook"' in page.text
    room, _ = _room(p, "newsie1", "news", status="offline")
    from tests.conftest import sign_in as sign

    pub = sign(client, "newsie1")
    plan = pub.post(f"/api/v1/studio/rooms/{room}/news-plan", json={
        "title": "Storm", "summary": "Live coverage", "sources": ["Met office"], "reprint_source": "CCTV News"})
    assert plan.status_code == 201, plan.text
    assert client.get(f"/api/v1/rooms/{room}/news").json() == {"news": False}
    d = chief.post(f"/api/v1/editorial/plans/{plan.json()['id']}/decision", json={"approve": True, "reason": "ok"})
    assert d.json()["status"] == "approved"
    news = client.get(f"/api/v1/rooms/{room}/news").json()
    assert news["reprint_source"] == "CCTV News" and news["approved_by_chief_editor"]
    for url in ("/console/review", "/console/editorial", "/console/tiers"):
        assert chief.get(url).status_code == 200, url
    assert pub.get("/studio/review").status_code == 200
