"""Appeals: once per sanction, decided by a different staff member; lifting restores credit
and access, upholding keeps the sanction. Everything audited."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient
from sqlalchemy import select

from livegate.app import Platform
from livegate.core.models import Account
from livegate.enforcement.models import BlacklistEntry
from tests.conftest import As, sign_in
from tests.identity.helpers import make_verified_publisher


def test_appeal_once_different_staff_decide_lift_restores(platform: Platform, client: TestClient, officer: As,
                                                         officer2: As) -> None:
    pub = make_verified_publisher(platform, "pub-ap")
    me = sign_in(client, "pub-ap")
    r = officer.post("/api/v1/enforcement/sanctions", json={"account_id": pub, "reason_code": "agreement.breach",
                                                            "kind": "suspension", "days": 7})
    sid = r.json()["id"]
    with platform.db.session() as s:
        assert platform.enforcement.credit.score_of(s, pub) == 85
    r = me.post(f"/api/v1/me/sanctions/{sid}/appeal", json={"statement": "I did not breach anything, see the VOD."})
    assert r.status_code == 201, r.text
    again = me.post(f"/api/v1/me/sanctions/{sid}/appeal", json={"statement": "Second try at an appeal here."})
    assert again.status_code == 409 and again.json()["error"]["code"] == "appeal_exists"
    appeal_id = r.json()["id"]
    same = officer.post(f"/api/v1/enforcement/appeals/{appeal_id}/decision",
                        json={"decision": "lift", "reason": "mistaken identity"})
    assert same.status_code == 403 and same.json()["error"]["code"] == "different_staff_required"
    ok = officer2.post(f"/api/v1/enforcement/appeals/{appeal_id}/decision",
                       json={"decision": "lift", "reason": "the VOD shows no breach"})
    assert ok.status_code == 200 and ok.json()["status"] == "lifted"
    with platform.db.session() as s:
        assert platform.enforcement.credit.score_of(s, pub) == 100
        assert platform.enforcement.active_restriction(s, pub, "publish") is None
        sn = platform.enforcement.get_sanction(s, sid)
        assert sn.status == "lifted" and sn.lifted_by.startswith("account:")
    assert officer2.post(f"/api/v1/enforcement/appeals/{appeal_id}/decision",
                         json={"decision": "uphold", "reason": "x" * 5}).status_code == 409


def test_lifting_a_closure_reopens_the_account_and_withdraws_its_blacklist_proposals(
        platform: Platform, client: TestClient, officer: As, officer2: As) -> None:
    pub = make_verified_publisher(platform, "pub-cl")
    r = officer.post("/api/v1/enforcement/sanctions", json={"account_id": pub, "reason_code": "identity.false",
                                                            "kind": "closure"})
    sid = r.json()["id"]
    # a closed account cannot sign in: staff record the appeal received by mail
    rec = officer.post(f"/api/v1/enforcement/sanctions/{sid}/appeal",
                       json={"statement": "Letter of 2026-11-02: the documents were genuine."})
    assert rec.status_code == 201
    ok = officer2.post(f"/api/v1/enforcement/appeals/{rec.json()['id']}/decision",
                       json={"decision": "lift", "reason": "documents verified with the issuer"})
    assert ok.status_code == 200
    with platform.db.session() as s:
        acc = s.get(Account, pub)
        assert acc is not None and acc.status == "active"
        assert {e.status for e in s.scalars(select(BlacklistEntry))} == {"removed"}
    assert sign_in(client, "pub-cl").get("/api/v1/me/sanctions").status_code == 200


def test_upholding_keeps_the_sanction(platform: Platform, client: TestClient, officer2: As) -> None:
    pub = make_verified_publisher(platform, "pub-up")
    done = asyncio.run(platform.enforcement.sanction(pub, kind="suspension", reason_code="livestream.disorder",
                                                     actor="system:review", scope=("publish",)))
    me = sign_in(client, "pub-up")
    ap = me.post(f"/api/v1/me/sanctions/{done.id}/appeal", json={"statement": "Please reconsider this one."}).json()
    r = officer2.post(f"/api/v1/enforcement/appeals/{ap['id']}/decision",
                      json={"decision": "uphold", "reason": "the recording shows it"})
    assert r.json()["status"] == "upheld"
    with platform.db.session() as s:
        assert platform.enforcement.active_restriction(s, pub, "publish") is not None
    page = me.get("/studio/sanctions")
    assert "Appeal upheld" in page.text
