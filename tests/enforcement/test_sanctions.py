"""Sanctions (Art. 14): warnings to acknowledge, suspensions with an end, closure, the
escalation ladder, evidence, reports, and the gates that enforce them."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

from sqlalchemy import func, select

from livegate.app import Platform
from livegate.core.clock import ManualClock
from livegate.core.models import Account, AuditEntry, WebSession
from livegate.core.permissions import Role
from livegate.enforcement.models import BlacklistEntry, EvidenceRef, IncidentReport
from livegate.media.models import Room
from livegate.media.rooms import GateContext
from tests.conftest import As, create_account, sign_in
from tests.identity.helpers import make_verified_publisher, verify_phone_directly

OFFICER = "account:900:officer"


def _room(platform: Platform, owner_id: int, category: str = "education") -> str:
    with platform.db.session() as s:
        room, _ = platform.rooms.create(s, platform.accounts.get(s, owner_id), title="t", category=category,
                                        actor="test")
        return room.id


def _gate(platform: Platform, room_id: str) -> str | None:
    with platform.db.session() as s:
        room = s.get(Room, room_id)
        assert room is not None
        owner = platform.accounts.get(s, room.owner_id)
        refusal = platform.gate.evaluate(GateContext(session=s, room=room, owner=owner, now=platform.clock.now(),
                                                     peer="test"))
        return refusal.text() if refusal else None


def _audited(platform: Platform, action: str) -> int:
    with platform.db.session() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)) or 0


def test_a_warning_must_be_acknowledged_before_going_live(platform: Platform) -> None:
    pub = make_verified_publisher(platform, "pub-w")
    room = _room(platform, pub)
    assert _gate(platform, room) is None
    done = asyncio.run(platform.enforcement.sanction(pub, kind="warning", reason_code="livestream.disorder",
                                                     actor=OFFICER, scope=("publish",)))
    assert done.kind == "warning"
    text = _gate(platform, room)
    assert text is not None and "sanction.warning_unacknowledged" in text and "Art. 14" in text
    assert "livestream.order" in text and "Art. 11" in text  # the rule broken and its article
    with platform.db.session() as s:
        platform.enforcement.acknowledge(s, done.id, account_id=pub, actor=f"account:{pub}:pub-w")
    assert _gate(platform, room) is None
    assert _audited(platform, "sanction.acknowledge") == 1
    assert _audited(platform, "sanction.apply") == 1


def test_a_suspension_refuses_with_its_end_time_then_expires(platform: Platform, clock: ManualClock) -> None:
    pub = make_verified_publisher(platform, "pub-s")
    room = _room(platform, pub)
    done = asyncio.run(platform.enforcement.sanction(pub, kind="suspension", days=7, reason_code="agreement.breach",
                                                     actor=OFFICER, scope=("publish", "comment")))
    assert done.ends_at == clock.now() + dt.timedelta(days=7)
    text = _gate(platform, room)
    assert text is not None and "sanction.suspended" in text and "2026-11-08 08:00 UTC" in text
    with platform.db.session() as s:
        comment = platform.enforcement.active_restriction(s, pub, "comment")
        assert comment is not None and "commenting is suspended until 2026-11-08 08:00 UTC" in comment.message
    clock.advance(days=7, seconds=1)
    assert _gate(platform, room) is None
    asyncio.run(platform.scheduler.tick())
    assert _audited(platform, "sanction.expire") == 1


def test_a_repeat_within_the_window_escalates_and_an_old_one_does_not(platform: Platform, clock: ManualClock) -> None:
    pub = make_verified_publisher(platform, "pub-e")
    e = platform.enforcement
    first = asyncio.run(e.sanction(pub, kind="warning", reason_code="livestream.disorder", actor=OFFICER))
    assert first.kind == "warning"
    clock.advance(days=10)
    second = asyncio.run(e.sanction(pub, kind="warning", reason_code="livestream.disorder", actor=OFFICER))
    assert second.kind == "suspension" and "escalate to rung 1" in second.escalation
    clock.advance(days=200)
    third = asyncio.run(e.sanction(pub, kind="warning", reason_code="livestream.disorder", actor=OFFICER))
    assert third.kind == "warning"
    # without a kind, the severity picks the entry rung: critical -> closure
    worst = asyncio.run(e.sanction(pub, reason_code="prohibited.national_security", actor=OFFICER))
    assert worst.kind == "closure"


def test_closure_closes_the_account_ends_sessions_and_proposes_the_blacklist(platform: Platform,
                                                                            client: object) -> None:
    pub = make_verified_publisher(platform, "pub-c")
    verify_phone_directly(platform, pub, "+8613700001111")
    from fastapi.testclient import TestClient

    assert isinstance(client, TestClient)
    me = sign_in(client, "pub-c")
    assert me.get("/api/v1/me/sanctions").status_code == 200
    done = asyncio.run(platform.enforcement.sanction(pub, kind="closure", reason_code="prohibited.pornography",
                                                     actor=OFFICER))
    with platform.db.session() as s:
        acc = s.get(Account, pub)
        assert acc is not None and acc.status == "closed"
        assert s.scalar(select(func.count()).select_from(WebSession).where(WebSession.account_id == pub)) == 0
        entries = s.scalars(select(BlacklistEntry)).all()
        assert {x.kind for x in entries} == {"phone", "document"}
        assert all(x.status == "proposed" and x.sanction_id == done.id for x in entries)
        evidence = s.scalar(select(func.count()).select_from(EvidenceRef).where(EvidenceRef.sanction_id == done.id))
        assert (evidence or 0) > 0
        assert s.scalar(select(IncidentReport).where(IncidentReport.sanction_id == done.id)) is not None
    assert me.get("/api/v1/me/sanctions").status_code == 401  # the session is gone


def test_incident_report_as_json_and_printable_page(platform: Platform, client: object, officer: As) -> None:
    pub = make_verified_publisher(platform, "pub-r")
    done = asyncio.run(platform.enforcement.sanction(pub, kind="suspension", reason_code="news.distorted",
                                                     actor=OFFICER, case_id=77))
    r = officer.get(f"/api/v1/enforcement/sanctions/{done.id}/report?format=json")
    assert r.status_code == 200
    doc = json.loads(r.text)
    assert doc["format"] == "livegate.incident-report/1"
    assert doc["violation"]["rule"] == "news.not_truthful" and doc["violation"]["article"] == "Art. 10"
    assert doc["violation"]["case_id"] == 77 and doc["sanction"]["kind"] == "suspension"
    assert any(e["kind"] == "case" for e in doc["evidence"])
    page = officer.get(f"/api/v1/enforcement/sanctions/{done.id}/report?format=html")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "Art. 14" in page.text and "news.not_truthful" in page.text and "window.print()" in page.text
    assert _audited(platform, "incident_report.export") == 2


def test_staff_apply_a_sanction_over_http_and_pages_render(platform: Platform, client: object, officer: As) -> None:
    pub = make_verified_publisher(platform, "pub-h")
    r = officer.post("/api/v1/enforcement/sanctions", json={"account_id": pub, "reason_code": "interaction.uncivil",
                                                            "kind": "suspension", "days": 3, "scope": ["comment"]})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kind"] == "suspension" and body["scopes"] == ["comment"] and body["effects_done"]
    bad = officer.post("/api/v1/enforcement/sanctions", json={"account_id": pub, "reason_code": "nope"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "enforcement_unknown_reason"
    for page in ("/console/sanctions", "/console/appeals", "/console/credit", "/console/blacklist"):
        assert officer.get(page).status_code == 200, page
    from fastapi.testclient import TestClient

    assert isinstance(client, TestClient)
    me = sign_in(client, "pub-h")
    page = me.get("/studio/sanctions")
    assert page.status_code == 200 and "suspension" in page.text and "Send appeal" in page.text
    credit = me.get("/studio/credit")
    assert credit.status_code == 200 and "days without a violation" in credit.text


def test_an_audience_member_is_warned_for_comments(platform: Platform) -> None:
    viewer = create_account(platform, "viewer-x", Role.AUDIENCE)
    asyncio.run(platform.enforcement.sanction(viewer, kind="warning", reason_code="interaction.uncivil",
                                              actor=OFFICER, scope=("comment",)))
    with platform.db.session() as s:
        refusal = platform.enforcement.active_restriction(s, viewer, "comment")
        assert refusal is not None and refusal.rule == "sanction.warning_unacknowledged"
        assert platform.enforcement.active_restriction(s, viewer, "publish") is None
