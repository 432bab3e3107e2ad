"""Credentials (Arts. 5, 6) and the publish and comment gate checks (Arts. 12, 13)."""

from __future__ import annotations

import asyncio
import datetime as dt

from fastapi.testclient import TestClient

from livegate.app import Platform
from livegate.core.clock import ManualClock
from livegate.core.models import Account
from livegate.core.permissions import Role
from livegate.credentials.models import CredentialAlert
from livegate.identity.gates import comment_gate_check
from livegate.media.rooms import GateContext, PublishGate, Refusal
from tests.conftest import As, create_account, sign_in
from tests.identity.conftest import error_code
from tests.identity.helpers import (
    accept_current_agreements,
    ensure_platform_licences,
    make_verified_publisher,
    verify_phone_directly,
)

ROOM_CHECKS = {"news_plan_approved", "emergency_pause"}


def _gate(platform: Platform, owner_id: int, category: str = "other") -> Refusal | None:
    with platform.db.session() as s:
        owner = s.get(Account, owner_id)
        assert owner is not None
        room, _ = platform.rooms.create(s, owner, title="t", category=category, actor="test")
        # The publisher's standing only: a news room's own plan approval (review) is tested there.
        checks = [c for c in platform.gate.checks if c.name not in ROOM_CHECKS]
        return PublishGate(checks).evaluate(GateContext(session=s, room=room, owner=owner,
                                                        now=platform.clock.now(), peer="127.0.0.1"))


def test_a_verified_publisher_from_the_helper_passes_every_gate(platform: Platform) -> None:
    pid = make_verified_publisher(platform, "pub-ok")
    for category in platform.policy.get().categories:
        assert _gate(platform, pid, category) is None, category


def test_an_unverified_publisher_is_refused_naming_the_rule_and_article(platform: Platform) -> None:
    pid = create_account(platform, "pub-raw", Role.PUBLISHER)
    refusal = _gate(platform, pid)
    assert refusal is not None and (refusal.rule, refusal.article) == ("identity.unverified", "Art. 12")
    pid2 = make_verified_publisher(platform, "pub-noagree", agreements=False)
    refusal = _gate(platform, pid2)
    assert refusal is not None and (refusal.rule, refusal.article) == ("agreement.not_accepted", "Art. 13")
    assert "Service Agreement" in refusal.message


def test_category_credentials_platform_and_publisher(platform: Platform, clock: ManualClock) -> None:
    pid = make_verified_publisher(platform, "pub-news", credentials=False)
    refusal = _gate(platform, pid, "news")
    assert refusal is not None and refusal.rule == "credential.platform_missing" and refusal.article == "Art. 5"
    assert "Internet News Information Service Licence" in refusal.message
    refusal = _gate(platform, pid, "show")
    assert refusal is not None and refusal.article == "Art. 6"
    ensure_platform_licences(platform)
    refusal = _gate(platform, pid, "news")
    assert refusal is not None and refusal.rule == "credential.publisher_missing" and refusal.article == "Art. 5"
    assert _gate(platform, pid, "show") is None
    policy = platform.policy.get()
    with platform.db.session() as s:
        cred = platform.identity.credentials.register(
            s, policy=policy, holder="publisher", account_id=pid, kind="news_credential", number="N-1",
            scope="news", issuer="CAC", expires_on=clock.now().date() + dt.timedelta(days=10), now=clock.now(),
            actor="test")
        cred_id = cred.id
    refusal = _gate(platform, pid, "news")
    assert refusal is not None and refusal.rule == "credential.publisher_missing"  # pending does not count
    with platform.db.session() as s:
        platform.identity.credentials.decide(s, cred_id, approve=True, reason="seen", now=clock.now(), actor="t")
    assert _gate(platform, pid, "news") is None
    clock.advance(days=11)
    refusal = _gate(platform, pid, "news")
    assert refusal is not None and refusal.rule == "credential.publisher_expired"


def test_expiry_alerts_are_raised_once_30_days_ahead_and_listed(platform: Platform, client: TestClient,
                                                               admin: As, clock: ManualClock) -> None:
    today = clock.now().date()
    r = admin.post("/api/v1/credentials/platform", json={
        "kind": "online_culture_business", "number": "网文〔2026〕001号", "issuer": "文化和旅游部",
        "scope": "online performances", "expires_on": (today + dt.timedelta(days=45)).isoformat()})
    assert r.status_code == 201 and r.json()["status"] == "active"
    r = admin.post("/api/v1/credentials/platform", json={"kind": "news_credential", "number": "x", "issuer": "y"})
    assert r.status_code == 422 and error_code(r) == "credential_unknown_kind"
    r = admin.post("/api/v1/credentials/platform", json={
        "kind": "online_culture_business", "number": "x", "issuer": "y",
        "expires_on": (today - dt.timedelta(days=1)).isoformat()})
    assert r.status_code == 422 and error_code(r) == "credential_invalid"

    # The scheduler runs the job every 6 hours on one node; here we run it directly (the
    # background loop may run it too: alerts are raised once whoever runs it).
    assert "credentials.expiry_alerts" in platform.scheduler.jobs
    job = platform.scheduler.jobs["credentials.expiry_alerts"].fn

    def run_jobs() -> None:
        asyncio.run(job())

    run_jobs()
    with platform.db.session() as s:
        assert s.query(CredentialAlert).count() == 0
    clock.advance(days=16)
    run_jobs()
    with platform.db.session() as s:
        assert [a.kind for a in s.query(CredentialAlert)] == ["expiring"]
    clock.advance(hours=7)
    run_jobs()  # once only
    admin = sign_in(client, "admin-1")  # the clock moved past the session's lifetime
    listed = admin.get("/api/v1/credentials").json()
    assert [a["kind"] for a in listed["alerts"]] == ["expiring"]
    page = admin.get("/console/credentials")
    assert page.status_code == 200 and "expiring" in page.text
    clock.advance(days=30)
    run_jobs()
    admin = sign_in(client, "admin-1")
    assert {a["kind"] for a in admin.get("/api/v1/credentials").json()["alerts"]} == {"expiring", "expired"}
    alert_id = listed["alerts"][0]["id"]
    assert admin.post(f"/api/v1/credentials/alerts/{alert_id}/ack").status_code == 200
    assert [a["kind"] for a in admin.get("/api/v1/credentials").json()["alerts"]] == ["expired"]


def test_publishers_register_credentials_and_staff_check_them(platform: Platform, client: TestClient,
                                                              reviewer: As) -> None:
    make_verified_publisher(platform, "pub-cred", credentials=False)
    pub = sign_in(client, "pub-cred")
    r = pub.post("/api/v1/me/credentials", json={"kind": "news_credential", "number": "N-7", "issuer": "CAC"})
    assert r.status_code == 201 and r.json()["status"] == "pending"
    r = pub.post("/api/v1/me/credentials", json={"kind": "internet_news_info_service", "number": "N", "issuer": "C"})
    assert r.status_code == 422  # a platform licence kind
    assert pub.post(f"/api/v1/credentials/{r.json()['error']['code']}/decision", json={}).status_code in (403, 422)
    cid = pub.get("/api/v1/me/credentials").json()["credentials"][0]["id"]
    r = reviewer.post(f"/api/v1/credentials/{cid}/decision", json={"decision": "approve", "reason": "licence seen"})
    assert r.json()["status"] == "active"
    r = reviewer.post(f"/api/v1/credentials/{cid}/decision", json={"decision": "approve", "reason": "again"})
    assert r.status_code == 409 and error_code(r) == "credential_state"
    assert pub.get("/studio/identity").status_code == 200


def test_comment_gate_needs_a_verified_phone_and_current_agreements(platform: Platform) -> None:
    uid = create_account(platform, "talker", Role.AUDIENCE)
    with platform.db.session() as s:
        refusal = platform.identity.comment_gate(s, uid)
    assert refusal is not None and (refusal.rule, refusal.article) == ("comment.phone_unverified", "Art. 12")
    verify_phone_directly(platform, uid)
    with platform.db.session() as s:
        refusal = comment_gate_check(s, uid, now=platform.clock.now(), audit=platform.audit)
    assert refusal is not None and (refusal.rule, refusal.article) == ("agreement.not_accepted", "Art. 13")
    accept_current_agreements(platform, uid)
    with platform.db.session() as s:
        assert platform.identity.comment_gate(s, uid) is None


def test_pages_render_for_their_roles(platform: Platform, client: TestClient, reviewer: As, officer: As) -> None:
    assert reviewer.get("/console/identity").status_code == 200
    assert officer.get("/console/filing").status_code == 200
    assert officer.get("/console/lawful-requests").status_code == 200
    assert reviewer.get("/console/filing").status_code == 403
    assert As(client).get("/signup").status_code == 200


def test_the_demo_publisher_is_onboarded_through_the_services(platform: Platform) -> None:
    from livegate.demo import seed_demo

    info = seed_demo(platform)
    pid = int(info["accounts"]["demo-publisher"]["id"])
    with platform.db.session() as s:
        room = platform.rooms.get(s, info["room"])
        owner = s.get(Account, pid)
        assert owner is not None
        assert platform.gate.evaluate(GateContext(session=s, room=room, owner=owner, now=platform.clock.now(),
                                                  peer="127.0.0.1")) is None
    platform.identity.demo_onboard(pid)  # idempotent
