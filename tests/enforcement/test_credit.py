"""The credit rating (Art. 15): deductions by severity, levels with consequences, recovery
over time up to the cap (a scheduled job on a moved clock), audited level changes."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from livegate.app import Platform
from livegate.core.clock import ManualClock
from livegate.core.models import AuditEntry
from livegate.media.models import Room
from livegate.media.rooms import GateContext
from tests.conftest import As
from tests.identity.helpers import make_verified_publisher

OFFICER = "account:900:officer"


def _levels(platform: Platform) -> list[tuple[str, str]]:
    with platform.db.session() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "credit.level_change")
                         .order_by(AuditEntry.seq)).all()
        return [(r.details["from"], r.details["to"]) for r in rows]


def test_deductions_lower_the_level_and_the_room_settings_follow(platform: Platform) -> None:
    pub = make_verified_publisher(platform, "pub-1")
    e = platform.enforcement
    with platform.db.session() as s:
        assert e.credit.score_of(s, pub) == 100 and e.credit_level_of(s, pub).key == "A"
        room, _ = platform.rooms.create(s, platform.accounts.get(s, pub), title="t", category="show", actor="test")
        room_id = room.id
    asyncio.run(e.sanction(pub, kind="warning", reason_code="prohibited.pornography", actor=OFFICER))  # serious: -30
    with platform.db.session() as s:
        assert e.credit.score_of(s, pub) == 70 and e.credit_level_of(s, pub).key == "B"
    asyncio.run(e.sanction(pub, kind="warning", severity="serious", reason_code="prohibited.other", actor=OFFICER,
                           escalate=False))
    asyncio.run(e.sanction(pub, kind="warning", severity="moderate", reason_code="agreement.breach", actor=OFFICER,
                           escalate=False))
    with platform.db.session() as s:
        assert e.credit.score_of(s, pub) == 25
        level = e.credit_level_of(s, pub)
        assert level.key == "D"
        row = s.get(Room, room_id)
        assert row is not None
        room = row
        settings = platform.media.settings_for(room, s)
        assert settings.delay_seconds == 120
        assert e.room_comment_mode(s, room) == "premoderated"
        assert e.audience_cap(s, pub) == 1000
        refusal = platform.gate.evaluate(GateContext(session=s, room=room, owner=platform.accounts.get(s, pub),
                                                     now=platform.clock.now(), peer="t"))
        # D allows only education and other; acknowledged warnings aside, the category is refused
        assert refusal is not None
    assert _levels(platform) == [("A", "B"), ("B", "C"), ("C", "D")]


def test_recovery_gives_points_back_per_period_up_to_the_cap(platform: Platform, clock: ManualClock) -> None:
    pub = make_verified_publisher(platform, "pub-2")
    e = platform.enforcement
    asyncio.run(e.sanction(pub, kind="warning", reason_code="agreement.breach", actor=OFFICER))  # -15: 85 (B)
    clock.advance(days=29)
    asyncio.run(platform.scheduler.tick())
    with platform.db.session() as s:
        assert e.credit.score_of(s, pub) == 85
    clock.advance(days=1, seconds=1)
    asyncio.run(platform.scheduler.tick())
    with platform.db.session() as s:
        assert e.credit.score_of(s, pub) == 87
    clock.advance(days=90)
    asyncio.run(platform.scheduler.tick())
    with platform.db.session() as s:
        assert e.credit.score_of(s, pub) == 93 and e.credit_level_of(s, pub).key == "A"
        text = e.credit.recovery_text(s, pub)
    assert ("B", "A") in _levels(platform)
    clock.advance(days=3650)
    asyncio.run(platform.scheduler.tick())
    with platform.db.session() as s:
        assert e.credit.score_of(s, pub) == 100
        kinds = [ev.kind for ev in e.credit.history(s, pub)]
    assert kinds.count("recovery") == 3 and kinds[-1] == "deduction"
    assert "30 days without a violation" in text


def test_a_new_violation_restarts_the_recovery_period(platform: Platform, clock: ManualClock) -> None:
    pub = make_verified_publisher(platform, "pub-3")
    e = platform.enforcement
    asyncio.run(e.sanction(pub, kind="warning", reason_code="agreement.breach", actor=OFFICER))
    clock.advance(days=20)
    asyncio.run(e.sanction(pub, kind="warning", reason_code="agreement.breach", actor=OFFICER, escalate=False))
    clock.advance(days=20)
    asyncio.run(e.run_recovery())
    with platform.db.session() as s:
        assert e.credit.score_of(s, pub) == 70  # 20 days since the last violation: nothing yet


def test_staff_see_the_distribution_and_publishers_their_credit(platform: Platform, client: object,
                                                                officer: As) -> None:
    from fastapi.testclient import TestClient

    from tests.conftest import sign_in

    assert isinstance(client, TestClient)
    a = make_verified_publisher(platform, "pub-a")
    make_verified_publisher(platform, "pub-b")
    asyncio.run(platform.enforcement.sanction(a, kind="warning", reason_code="prohibited.national_security",
                                              actor=OFFICER, escalate=False))  # critical: -100 -> D
    dist = officer.get("/api/v1/enforcement/credit/distribution").json()["levels"]
    assert {d["level"]: d["publishers"] for d in dist} == {"A": 1, "B": 0, "C": 0, "D": 1}
    page = officer.get("/console/credit")
    assert page.status_code == 200 and "<svg" in page.text and 'data-testid="credit-chart"' in page.text
    me = sign_in(client, "pub-a").get("/api/v1/me/credit").json()
    assert me["score"] == 0 and me["level"] == "D" and me["consequences"]["comment_premoderation"] is True
    assert me["history"][0]["kind"] == "deduction" and "how_to_recover" in me
    with platform.db.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)
                        .where(AuditEntry.action == "credit.level_change")) == 1


def test_a_level_change_reaches_live_rooms_at_once(platform: Platform) -> None:
    """Categories the new level does not allow are cut off now; allowed rooms hear the new comment mode."""
    pub = make_verified_publisher(platform, "pub-live")
    with platform.db.session() as s:
        owner = platform.accounts.get(s, pub)
        show, _ = platform.rooms.create(s, owner, title="s", category="show", actor="test")
        edu, _ = platform.rooms.create(s, owner, title="e", category="education", actor="test")
        show.status = edu.status = "live"
        show_id, edu_id = show.id, edu.id
    heard: list[object] = []
    platform.enforcement.level_listeners.append(heard.append)
    asyncio.run(platform.enforcement.sanction(pub, kind="warning", reason_code="prohibited.national_security",
                                              actor=OFFICER, scope=("comment",), escalate=False))
    with platform.db.session() as s:
        cut = s.scalars(select(AuditEntry).where(AuditEntry.action == "stream.cutoff")).all()
        assert [c.target for c in cut] == [f"room:{show_id}"]
        assert "credit.category_not_allowed" in cut[0].reason and "Art. 15" in cut[0].reason
        edu_room = s.get(Room, edu_id)
        assert edu_room is not None and not edu_room.blocked
    assert len(heard) == 1
