"""Handling: merging into cases, surge priority and the patrol alert, SLA escalation on an
injected clock, decisions told to reporters, the review/enforcement/retention seams,
statistics and the audited export."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from livegate.app import Platform
from livegate.complaints.models import ComplaintCase, ComplaintEvidence, ComplaintReport
from livegate.complaints.service import PATROL_CHANNEL, ReportIntake
from livegate.config import Settings
from livegate.core.clock import ManualClock
from livegate.core.models import AuditEntry
from livegate.core.permissions import Role
from tests.complaints.helpers import make_plain_room, report, use_complaints_policy
from tests.conftest import As, create_account, make_platform, sign_in

XSS = "<script>document.title='owned'</script>"


@pytest.fixture(autouse=True)
def _easy_work(request: pytest.FixtureRequest) -> None:
    if "platform" in request.fixturenames:
        use_complaints_policy(request.getfixturevalue("platform"), intake={"challenge_bits": 4},
                              surge={"reports": 3, "within_minutes": 10})


def _cases(platform: Platform) -> list[ComplaintCase]:
    with platform.db.session() as s:
        return list(s.scalars(select(ComplaintCase).order_by(ComplaintCase.id)))


def test_reports_on_one_target_merge_into_one_case(platform: Platform, client: Any) -> None:
    room_a = make_plain_room(platform, "owner-a")
    room_b = make_plain_room(platform, "owner-b")
    anon = As(client)
    receipts = [report(anon, "room", room_a, category=c).json()
                for c in ("harmful.vulgar", "illegal.obscenity", "other")]
    report(anon, "room", room_b)
    cases = _cases(platform)
    assert [(c.target_id, c.report_count) for c in cases] == [(room_a, 3), (room_b, 1)]
    assert cases[0].priority == 1  # an illegal-content report raised the merged case
    assert len({r["ticket"] for r in receipts}) == 3 and all(r["merged"] for r in receipts[1:])
    assert all(c.surge_at is None for c in cases)  # the rooms are not live: no surge


def test_surge_on_a_live_room_raises_priority_and_alerts_the_patrol(platform: Platform, client: Any) -> None:
    room = make_plain_room(platform, live=True)
    calm = make_plain_room(platform, "calm", live=True)
    alerts: list[dict[str, Any]] = []
    platform.complaints.patrol_listeners.append(alerts.append)
    create_account(platform, "patrol", Role.PATROL_OFFICER)
    anon = As(client)
    report(anon, "room", calm, category="harmful.vulgar")
    for i in range(2):
        assert report(anon, "room", room, category="harmful.vulgar", description=f"#{i}").json()["merged"] is (i > 0)
    assert not alerts
    third = report(anon, "room", room, category="harmful.vulgar")
    assert third.status_code == 201
    assert [(a["type"], a["room"], a["reports"]) for a in alerts] == [("complaint_surge", room, 3)]
    surged, quiet = (_cases(platform)[1], _cases(platform)[0])
    assert surged.target_id == room and surged.priority == 2 and surged.surge_at is not None
    assert quiet.priority == 0
    report(anon, "room", room, category="harmful.vulgar")
    assert len(alerts) == 1  # one alert per surge
    officer = sign_in(client, "patrol")
    page = officer.get("/console/complaints")
    assert page.status_code == 200 and f'data-testid="surge-{room}"' in page.text
    assert page.text.index(f"case-row-{surged.id}") < page.text.index(f"case-row-{quiet.id}")


def test_surge_event_goes_out_on_the_patrol_channel(settings: Settings) -> None:
    p = make_platform(settings)
    try:
        use_complaints_policy(p, intake={"challenge_bits": 0}, surge={"reports": 2, "within_minutes": 5})
        room = make_plain_room(p, live=True)

        async def run() -> dict[str, Any]:
            async with p.broker.subscribe(PATROL_CHANNEL) as sub:
                for _ in range(2):
                    await p.complaints.submit(ReportIntake("room", room, "illegal.gambling"), ip="10.0.0.1")
                return await sub.get(timeout=10)

        event = asyncio.run(run())
        assert event["type"] == "complaint_surge" and event["room"] == room and event["reports"] == 2
    finally:
        p.close()


def test_sla_expiry_escalates(clocked: tuple[Platform, ManualClock, TestClient]) -> None:
    p, clock, client = clocked
    late = make_plain_room(p, "late")
    prompt = make_plain_room(p, "prompt")
    anon = As(client)
    report(anon, "room", late)
    report(anon, "room", prompt)
    create_account(p, "rev", Role.REVIEWER)
    reviewer = sign_in(client, "rev")
    prompt_case = _cases(p)[1]
    clock.advance(minutes=30)
    assert reviewer.post(f"/api/v1/complaints/cases/{prompt_case.id}/acknowledge").status_code == 200

    def sla() -> None:
        # The platform's own scheduler may run the job first; the outcome is the same.
        client.portal.call(p.complaints.run_sla)  # type: ignore[union-attr]

    def levels() -> list[tuple[int, int]]:
        return [(c.escalation, c.priority) for c in _cases(p)]

    sla()
    assert levels() == [(0, 1), (0, 1)]  # illegal content starts at priority 1
    clock.advance(minutes=31)  # 61 minutes: the late case's acknowledgement is overdue
    sla()
    sla()  # one step each
    assert levels() == [(1, 2), (0, 1)]
    clock.advance(hours=23)  # 24 h: both decisions overdue
    sla()
    assert levels() == [(2, 3), (2, 3)]
    page = sign_in(client, "rev").get("/console/complaints")  # a day later: a fresh session
    assert page.text.count('data-testid="escalated"') == 2
    late_id = _cases(p)[0].id
    with p.db.session() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "complaint.escalated")).all()
        assert sorted((e.target, e.details["level"]) for e in entries) == sorted(
            [(f"complaint_case:{late_id}", 1), (f"complaint_case:{late_id}", 2),
             (f"complaint_case:{prompt_case.id}", 2)])
    assert "complaints.sla" in p.scheduler.jobs


def test_decision_is_told_to_the_reporter_and_statistics_follow(
        clocked: tuple[Platform, ManualClock, TestClient]) -> None:
    p, clock, client = clocked
    room = make_plain_room(p)
    anon = As(client)
    receipt = report(anon, "room", room, description=XSS).json()
    second = report(anon, "room", room, category="rights.infringement").json()
    create_account(p, "rev", Role.REVIEWER)
    create_account(p, "officer", Role.COMPLIANCE_OFFICER)
    reviewer = sign_in(client, "rev")
    case_id = _cases(p)[0].id
    page = reviewer.get(f"/console/complaints/{case_id}")
    assert XSS not in page.text and "&lt;script&gt;" in page.text
    clock.advance(minutes=20)
    r = reviewer.post(f"/console/complaints/{case_id}/acknowledge", follow_redirects=False)
    assert r.status_code == 303
    assert anon.get(f"/api/v1/complaints/status/{receipt['status_token']}").json()["state"] == "in_review"
    clock.advance(hours=2)
    bad = reviewer.post(f"/api/v1/complaints/cases/{case_id}/decision", json={"outcome": "sanctioned"})
    assert bad.status_code == 422  # a sanction needs its kind
    r = reviewer.post(f"/api/v1/complaints/cases/{case_id}/decision",
                      json={"outcome": "sanctioned", "sanction_kind": "warning", "note": "Warned. " + XSS})
    assert r.status_code == 200, r.text
    action = r.json()["actions"][0]
    if getattr(p, "enforcement", None) is None:
        assert action["status"].startswith("recorded")
    else:
        assert action["reason_code"] == "prohibited.pornography" and action["ref"].isdigit()
    again = reviewer.post(f"/api/v1/complaints/cases/{case_id}/decision", json={"outcome": "no_violation"})
    assert again.status_code == 409
    for token in (receipt["status_token"], second["status_token"]):
        status = anon.get(f"/api/v1/complaints/status/{token}").json()
        assert status["state"] == "decided" and status["outcome"] == "sanctioned"
    page = anon.get(receipt["status_url"])
    assert "The account was sanctioned." in page.text and XSS not in page.text
    # A new report on the same room opens a new case.
    report(anon, "room", room)
    assert [c.status for c in _cases(p)] == ["decided", "open"]
    # Statistics and the audited export.
    officer = sign_in(client, "officer")
    assert reviewer.get("/api/v1/complaints/export").status_code == 403
    exported = officer.get("/api/v1/complaints/export?format=json")
    assert exported.status_code == 200
    doc = json.loads(exported.text)
    assert doc["summary"]["reports"] == 3 and doc["summary"]["cases"] == 2
    assert doc["summary"]["per_category"] == {"illegal.obscenity": 2, "rights.infringement": 1}
    assert doc["summary"]["acknowledged_within_sla"] == 1.0 and doc["summary"]["decided_within_sla"] == 1.0
    first = doc["cases"][0]
    assert first["hours_to_acknowledge"] == pytest.approx(20 / 60, abs=0.01) and first["outcome"] == "sanctioned"
    csv_text = officer.get("/api/v1/complaints/export?format=csv").text
    assert csv_text.splitlines()[0].startswith("case,opened_at") and len(csv_text.splitlines()) == 3
    assert "+86" not in exported.text and "contact" not in csv_text
    with p.db.session() as s:
        assert len(s.scalars(select(AuditEntry).where(AuditEntry.action == "complaint.export")).all()) == 2
    console = officer.get("/console/complaints")
    assert console.text.count("<svg") == 4 and "Reports by category" in console.text


class FakeReview:
    def __init__(self) -> None:
        self.signals: list[dict[str, Any]] = []

    def add_signal(self, s: Any, **kw: Any) -> int:
        self.signals.append(kw)
        return 700 + len(self.signals)


class FakeRetention:
    def __init__(self) -> None:
        self.holds: list[tuple[str, str]] = []

    def place_hold(self, s: Any, *, scope_type: str, scope_id: str, reason: str, actor: str) -> int:
        self.holds.append((scope_type, scope_id))
        return len(self.holds)


class FakeEnforcement:
    def __init__(self) -> None:
        self.sanctions: list[tuple[int, dict[str, Any]]] = []
        self.appeals: list[dict[str, Any]] = []
        self.sanctioned = 0

    async def sanction(self, account_id: int, **kw: Any) -> int:
        self.sanctions.append((account_id, kw))
        return 42

    def get_sanction(self, s: Any, sanction_id: int) -> Any:
        from types import SimpleNamespace

        from livegate.core.errors import NotFound

        if sanction_id != 42:
            raise NotFound()
        return SimpleNamespace(id=42, account_id=self.sanctioned, room_id=None)

    def appeal(self, s: Any, sanction_id: int, **kw: Any) -> int:
        self.appeals.append({"sanction_id": sanction_id, **kw})
        return 9


def test_cases_go_through_review_enforcement_and_retention_when_present(platform: Platform, client: Any) -> None:
    review, retention, enforcement = FakeReview(), FakeRetention(), FakeEnforcement()
    platform.review, platform.retention = review, retention  # type: ignore[assignment]
    platform.enforcement = enforcement  # type: ignore[assignment]
    room = make_plain_room(platform, live=True)
    anon = As(client)
    report(anon, "room", room)
    report(anon, "room", room)
    case = _cases(platform)[0]
    assert case.review_case_id == 701 and len(review.signals) == 1  # merged reports: one signal
    assert review.signals[0]["target_type"] == "room" and review.signals[0]["room_id"] == room
    assert retention.holds == [("case", f"complaint-{case.id}"), ("room", room)]
    create_account(platform, "rev", Role.REVIEWER)
    reviewer = sign_in(client, "rev")
    r = reviewer.post(f"/api/v1/complaints/cases/{case.id}/decision",
                      json={"outcome": "sanctioned", "sanction_kind": "suspension", "sanction_days": 7})
    assert r.status_code == 200, r.text
    owner, kw = enforcement.sanctions[0]
    assert owner == case.account_id and kw["kind"] == "suspension" and kw["days"] == 7 and kw["case_id"] == 701
    # A complaint about a sanction by the sanctioned account becomes its appeal.
    enforcement.sanctioned = owner
    assert report(anon, "sanction", "41", category="other").status_code == 422
    streamer = sign_in(client, "streamer")
    r = report(streamer, "sanction", "42", category="other", description="I did nothing wrong")
    assert r.status_code == 201, r.text
    appeal_case = _cases(platform)[1]
    assert appeal_case.appeal_ref == "appeal:9" and appeal_case.account_id == owner
    assert enforcement.appeals == [{"sanction_id": 42, "account_id": owner, "statement": "I did nothing wrong",
                                    "actor": f"account:{owner}"}]
    # The review module closes complaint cases it carried.
    report(anon, "room", room)
    with platform.db.session() as s:
        review_case = _cases(platform)[2].review_case_id
        assert review_case is not None
        closed = platform.complaints.review_decided(s, review_case, outcome="no_violation", note="checked",
                                                    actor="account:1:rev")
    assert closed == [_cases(platform)[2].id] and _cases(platform)[2].status == "decided"


def test_evidence_is_held_without_a_retention_module(platform: Platform, client: Any) -> None:
    room = make_plain_room(platform, live=True)
    report(As(client), "room", room)
    with platform.db.session() as s:
        evidence = list(s.scalars(select(ComplaintEvidence)))
        assert [e.kind for e in evidence] == ["frame"] and all(e.held for e in evidence)
        assert evidence[0].blob is None and evidence[0].data["pending"]  # no frame on this node
        assert s.scalars(select(ComplaintReport)).one().case_id == evidence[0].case_id


def test_a_node_carrying_the_room_fills_in_a_pending_frame(platform: Platform, client: Any) -> None:
    from livegate.media.sampler import SampledFrame

    room = make_plain_room(platform, live=True)
    report(As(client), "room", room)
    with platform.db.session() as s:
        ev = s.scalars(select(ComplaintEvidence)).one()
    frame = SampledFrame(room=room, session="s1", pts_seconds=3.0, captured_at=platform.clock.now(), width=2,
                         height=2, rgb=None, jpeg=b"\xff\xd8fakejpeg")  # type: ignore[arg-type]
    platform.complaints.frames.offer(room, frame)
    msg = {"type": "capture", "evidence": ev.id, "room": room}
    assert client.portal.call(platform.complaints.answer_capture, msg) is True
    assert client.portal.call(platform.complaints.answer_capture, msg) is False  # filled once
    with platform.db.session() as s:
        filled = s.get(ComplaintEvidence, ev.id)
        assert filled is not None and filled.blob == b"\xff\xd8fakejpeg" and filled.data["relayed"]


def test_a_reported_comment_is_kept_with_its_context_and_removed_on_decision(platform: Platform,
                                                                              client: Any) -> None:
    chat_models = pytest.importorskip("livegate.chat.models")
    if not hasattr(getattr(platform, "chat", None), "message_context"):
        pytest.skip("the comments module is not wired")
    room = make_plain_room(platform, live=True)
    author = create_account(platform, "chatter", Role.AUDIENCE)
    with platform.db.session() as s:
        rows = [chat_models.ChatMessage(room_id=room, account_id=author, nickname="chatter", body=text, shown=text,
                                        status="published", ip="192.0.2.7", created_at=platform.clock.now())
                for text in ("hello", "buy fake invoices here " + XSS, "bye")]
        s.add_all(rows)
        s.flush()
        ids = [m.id for m in rows]
    r = report(As(client), "comment", str(ids[1]), category="fraud")
    assert r.status_code == 201, r.text
    case = _cases(platform)[0]
    assert (case.target_type, case.room_id, case.account_id) == ("message", room, author)
    with platform.db.session() as s:
        ev = s.scalars(select(ComplaintEvidence).where(ComplaintEvidence.kind == "message")).one()
    assert [m["id"] for m in ev.data["context"]] == ids and "192.0.2.7" not in json.dumps(ev.data)
    create_account(platform, "rev", Role.REVIEWER)
    reviewer = sign_in(client, "rev")
    page = reviewer.get(f"/console/complaints/{case.id}")
    assert "buy fake invoices" in page.text and XSS not in page.text
    r = reviewer.post(f"/api/v1/complaints/cases/{case.id}/decision", json={"outcome": "content_removed"})
    assert r.status_code == 200, r.text
    with platform.db.session() as s:
        removed = s.get(chat_models.ChatMessage, ids[1])
        assert removed is not None and removed.removed_by


def test_complaint_cases_follow_the_review_queue(platform: Platform, client: Any) -> None:
    review = getattr(platform, "review", None)
    if review is None or not hasattr(review, "cases"):
        pytest.skip("the review module is not wired")
    room = make_plain_room(platform)
    anon = As(client)
    receipt = report(anon, "room", room, category="illegal.gambling").json()
    case = _cases(platform)[0]
    assert case.review_case_id is not None
    with platform.db.session() as s:
        review.cases.claim(s, case.review_case_id, actor="account:9:rev")
    with platform.db.session() as s:
        assert platform.complaints.sync_from_review(s) == [case.id]
    assert _cases(platform)[0].acknowledged_by == "account:9:rev"
    with platform.db.session() as s:
        review.cases.record_decision(s, case.review_case_id, decision="dismiss", reason="a card game, no stakes",
                                     actor="account:9:rev")
    with platform.db.session() as s:
        assert platform.complaints.sync_from_review(s) == [case.id]
    status = anon.get(f"/api/v1/complaints/status/{receipt['status_token']}").json()
    assert status["state"] == "decided" and status["outcome"] == "no_violation" and status["note"] == ""


def test_evidence_holds_are_placed_and_lifted_when_nothing_was_wrong(platform: Platform, client: Any) -> None:
    retention = getattr(platform, "retention", None)
    if retention is None or not hasattr(retention, "is_held"):
        pytest.skip("the retention module is not wired")
    room = make_plain_room(platform, live=True)
    anon = As(client)
    assert report(anon, "account", "9" * 40).status_code == 422  # out of range, refused cleanly
    report(anon, "room", room)
    case = _cases(platform)[0]
    with platform.db.session() as s:
        assert retention.is_held(s, "room", room)
    create_account(platform, "rev", Role.REVIEWER)
    r = sign_in(client, "rev").post(f"/api/v1/complaints/cases/{case.id}/decision",
                                    json={"outcome": "no_violation", "note": "Nothing wrong."})
    assert r.status_code == 200, r.text
    assert [a["type"] for a in r.json()["actions"]] == ["hold_lifted", "hold_lifted"]
    with platform.db.session() as s:
        assert not retention.is_held(s, "room", room)
        assert not any(e.held for e in s.scalars(select(ComplaintEvidence)))


def test_a_burst_of_reports_on_one_picture_keeps_the_picture_once(platform: Platform, client: Any) -> None:
    from livegate.media.sampler import SampledFrame

    room = make_plain_room(platform, live=True)
    frame = SampledFrame(room=room, session="s1", pts_seconds=1.0, captured_at=platform.clock.now(), width=2,
                         height=2, rgb=None, jpeg=b"\xff\xd8one")  # type: ignore[arg-type]
    platform.complaints.frames.offer(room, frame)
    anon = As(client)
    report(anon, "room", room)
    report(anon, "room", room)
    with platform.db.session() as s:
        first, second = s.scalars(select(ComplaintEvidence).order_by(ComplaintEvidence.id)).all()
    assert first.blob == b"\xff\xd8one" and "same_as" not in first.data
    assert second.blob is None and second.data["same_as"] == first.id
