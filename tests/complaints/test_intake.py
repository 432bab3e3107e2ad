"""The public intake: proof of work, tickets and status links, sealed contacts, escaping,
size and rate limits (a flood is refused without losing what was acknowledged)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from livegate.app import Platform
from livegate.complaints.errors import ChallengeInvalid
from livegate.complaints.models import ComplaintCase, ComplaintReport
from livegate.complaints.pow import ChallengeIssuer, leading_zero_bits, solve, work_digest
from livegate.core.models import AuditEntry
from livegate.core.permissions import Role
from tests.complaints.helpers import make_plain_room, report, use_complaints_policy
from tests.conftest import As, create_account, sign_in

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(autouse=True)
def _easy_work(platform: Platform) -> None:
    use_complaints_policy(platform, intake={"challenge_bits": 8})


def test_proof_of_work_round_trip() -> None:
    issuer = ChallengeIssuer(b"k" * 32)
    c = issuer.issue(now=1000, bits=10)
    nonce = solve(c.text, 10)
    assert leading_zero_bits(work_digest(c.text, nonce)) >= 10
    assert issuer.verify(c.text, nonce, now=1001, min_bits=10).id == c.id
    wrong = next(str(i) for i in range(1000) if leading_zero_bits(work_digest(c.text, str(i))) < 10)
    for text, n, now, bits in [(c.text, wrong, 1001, 10),  # not solved
                               (c.text.replace(".10.", ".1."), nonce, 1001, 1),  # tampered difficulty
                               (c.text, nonce, 1000 + 601, 10),  # expired
                               (c.text, nonce, 1001, 12),  # easier than the policy now asks
                               (ChallengeIssuer(b"o" * 32).issue(now=1000, bits=10).text, nonce, 1001, 10)]:
        with pytest.raises(ChallengeInvalid):
            issuer.verify(text, n, now=now, min_bits=bits)


def test_anonymous_report_gets_ticket_and_private_status(platform: Platform, client: Any) -> None:
    room = make_plain_room(platform)
    anon = As(client)
    assert anon.get("/report").status_code == 200
    r = report(anon, "room", room, description="bad things " + XSS, contact="reporter@example.org")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["ticket"].startswith("C") and len(body["status_token"]) >= 32
    page = anon.get(body["status_url"])
    assert page.status_code == 200 and body["ticket"] in page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    status = anon.get(f"/api/v1/complaints/status/{body['status_token']}").json()
    assert status["state"] == "received" and status["outcome"] is None
    assert anon.get("/report/status/" + "x" * 32).status_code == 404
    with platform.db.session() as s:
        row = s.scalars(select(ComplaintReport)).one()
        assert row.reporter_account_id is None
        assert "example.org" not in row.contact_sealed and row.contact_sealed
        assert "testclient" not in row.ip_hash
        assert body["status_token"] not in row.token_hash


def test_anonymous_report_needs_solved_single_use_challenge(platform: Platform, client: Any) -> None:
    room = make_plain_room(platform)
    anon = As(client)
    r = report(anon, "room", room, pow_=False)
    assert r.status_code == 400 and r.json()["error"]["code"] == "complaint_challenge_required"
    c = anon.get("/api/v1/complaints/challenge").json()
    body = {"target_type": "room", "target_id": room, "category": "other", "challenge": c["challenge"],
            "nonce": solve(c["challenge"], c["bits"])}
    assert anon.post("/api/v1/complaints", json=body).status_code == 201
    again = anon.post("/api/v1/complaints", json=body)
    assert again.status_code == 400 and again.json()["error"]["code"] == "complaint_challenge_invalid"
    with platform.db.session() as s:
        assert len(s.scalars(select(ComplaintReport)).all()) == 1


def test_signed_in_reporter_needs_csrf_not_work(platform: Platform, client: Any) -> None:
    room = make_plain_room(platform)
    create_account(platform, "viewer", Role.AUDIENCE)
    viewer = sign_in(client, "viewer")
    r = report(viewer, "room", room, category="fraud")
    assert r.status_code == 201, r.text
    # The same cookie without the CSRF token is treated as anonymous: no account, work needed.
    forged = As(client, viewer.session, "")
    assert report(forged, "room", room, pow_=False).status_code == 400
    expected = viewer_id(platform)
    with platform.db.session() as s:
        assert [r.reporter_account_id for r in s.scalars(select(ComplaintReport))] == [expected]


def viewer_id(platform: Platform) -> int:
    with platform.db.session() as s:
        account = platform.accounts.by_username(s, "viewer")
        assert account is not None
        return account.id


def test_bad_targets_and_sizes_are_refused(platform: Platform, client: Any) -> None:
    room = make_plain_room(platform)
    anon = As(client)
    assert report(anon, "room", "nosuchroom").status_code == 422
    assert report(anon, "account", "99999").status_code == 422
    assert report(anon, "room", room, category="made.up").status_code == 422
    assert report(anon, "room", room, description="x" * 2001).status_code == 422
    assert report(anon, "room", room, contact="x" * 201).status_code == 422
    with platform.db.session() as s:
        assert s.scalars(select(ComplaintReport)).first() is None


def test_flood_is_limited_without_losing_acknowledged_reports(platform: Platform, client: Any) -> None:
    use_complaints_policy(platform, intake={"challenge_bits": 4, "per_ip": {"limit": 3, "per_seconds": 3600}})
    room = make_plain_room(platform)
    anon = As(client)
    answers = [report(anon, "room", room, description=f"report {i}") for i in range(6)]
    accepted = [a.json() for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code == 429]
    assert len(accepted) == 3 and len(refused) == 3
    assert all(int(a.headers["retry-after"]) > 0 for a in refused)
    with platform.db.session() as s:
        tickets = {r.ticket for r in s.scalars(select(ComplaintReport))}
        case = s.scalars(select(ComplaintCase)).one()
    assert tickets == {a["ticket"] for a in accepted} and case.report_count == 3
    for a in accepted:
        assert anon.get(a["status_url"]).status_code == 200


def test_contact_is_revealed_only_with_a_reason_and_audited(platform: Platform, client: Any) -> None:
    room = make_plain_room(platform)
    assert report(As(client), "room", room, contact="+8613800138000").status_code == 201
    create_account(platform, "officer", Role.COMPLIANCE_OFFICER)
    create_account(platform, "rev", Role.REVIEWER)
    with platform.db.session() as s:
        rid = s.scalars(select(ComplaintReport.id)).one()
    reviewer = sign_in(client, "rev")
    assert reviewer.post(f"/api/v1/complaints/reports/{rid}/contact", json={"reason": "call back"}).status_code == 403
    page = reviewer.get(f"/console/complaints/{_case_id(platform)}")
    assert page.status_code == 200 and "13800138000" not in page.text
    officer = sign_in(client, "officer")
    r = officer.post(f"/api/v1/complaints/reports/{rid}/contact", json={"reason": "need more detail from reporter"})
    assert r.status_code == 200 and r.json()["contact"] == "+8613800138000"
    with platform.db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "complaint.contact_revealed")).one()
        assert entry.reason == "need more detail from reporter" and "13800138000" not in str(entry.details)


def _case_id(platform: Platform) -> int:
    with platform.db.session() as s:
        return int(s.scalars(select(ComplaintCase.id)).one())
