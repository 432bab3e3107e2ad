"""Agreements (Art. 13): default texts, acceptance records, new versions, clause coverage."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select

from livegate.agreements.models import AgreementAcceptance
from livegate.agreements.service import clause_ids, render_markdown
from livegate.app import Platform
from livegate.core.clock import ManualClock
from livegate.core.policy import load_default_policy
from tests.conftest import As
from tests.identity.conftest import error_code, signup


def _full_body(kind: str, platform: Platform) -> str:
    """A text that marks every clause the other document does not."""
    return "# New text\n\n" + "\n".join(f"<!-- clause: {c.id} -->\n## {c.id}\ntext\n"
                                          for c in platform.policy.get().agreement_clauses)


def test_defaults_are_seeded_and_cover_every_required_clause(platform: Platform, client: TestClient,
                                                             admin: As) -> None:
    current = As(client).get("/api/v1/agreements/current").json()["agreements"]
    assert {a["kind"] for a in current} == {"service_agreement", "platform_convention"}
    assert all("accepted" not in a for a in current)
    cov = admin.get("/api/v1/agreements/coverage").json()
    assert cov["clauses"] and all(c["covered"] for c in cov["clauses"]), cov
    ids = {c.id for c in load_default_policy().agreement_clauses}
    assert {c["id"] for c in cov["clauses"]} == ids
    page = As(client).get("/agreements/service_agreement")
    assert page.status_code == 200 and "服务协议" in page.text and "clause:" not in page.text
    assert As(client).get("/agreements/nope").status_code == 404


def test_acceptance_is_recorded_with_address_and_agent_and_a_new_version_needs_it_again(
        platform: Platform, client: TestClient, admin: As, clock: ManualClock) -> None:
    user = signup(client, "reader-a")
    current = user.get("/api/v1/agreements/current").json()["agreements"]
    assert [a["accepted"] for a in current] == [False, False]
    r = user.post("/api/v1/agreements/accept", json={"version_ids": [a["id"] for a in current]},
                  headers={"user-agent": "UA-test/1.0"})
    assert r.status_code == 200 and r.json()["missing"] == []
    with platform.db.session() as s:
        rows = s.scalars(select(AgreementAcceptance)).all()
        assert len(rows) == 2 and all(r.ip == "testclient" and r.user_agent == "UA-test/1.0" for r in rows)
    # accepting again is harmless
    assert user.post("/api/v1/agreements/accept", json={"version_ids": [current[0]["id"]]}).status_code == 200
    effective = clock.now() + dt.timedelta(hours=1)
    r = admin.post("/api/v1/agreements", json={"kind": "service_agreement", "version": "2027.1",
                                               "body": _full_body("service_agreement", platform),
                                               "effective_at": effective.isoformat()})
    assert r.status_code == 201, r.text
    assert user.get("/api/v1/me/identity").json()["agreements_missing"] == []  # not in force yet
    old_id = current[0]["id"] if current[0]["kind"] == "service_agreement" else current[1]["id"]
    clock.advance(hours=1)
    missing = user.get("/api/v1/me/identity").json()["agreements_missing"]
    assert [m["version"] for m in missing] == ["2027.1"]
    r = user.post("/api/v1/agreements/accept", json={"version_ids": [old_id]})
    assert r.status_code == 409 and error_code(r) == "agreement_not_current"
    assert user.post("/api/v1/agreements/accept", json={"version_ids": [missing[0]["id"]]}).status_code == 200
    assert user.get("/api/v1/me/identity").json()["agreements_missing"] == []


def test_publishing_a_text_that_drops_a_required_clause_is_refused(platform: Platform, admin: As,
                                                                   client: TestClient) -> None:
    r = admin.post("/api/v1/agreements", json={"kind": "platform_convention", "version": "2",
                                               "body": "# Convention\n\nBe nice."})
    assert r.status_code == 422 and error_code(r) == "agreement_clauses_missing"
    assert set(r.json()["error"]["details"]["missing"]) == {"prohibited_content", "interaction_conduct",
                                                            "news_accuracy"}
    r = admin.post("/api/v1/agreements", json={"kind": "platform_convention", "version": "2",
                                               "body": "# Convention\n\nBe nice.", "allow_missing_clauses": True})
    assert r.status_code == 201
    cov = {c["id"]: c for c in admin.get("/api/v1/agreements/coverage").json()["clauses"]}
    assert not cov["news_accuracy"]["covered"] and cov["real_identity"]["covered_by"] == [
        "service_agreement@2026.1"]
    r = admin.post("/api/v1/agreements", json={"kind": "platform_convention", "version": "2", "body": "x"})
    assert r.status_code == 409 and error_code(r) == "agreement_version_exists"
    r = admin.post("/api/v1/agreements", json={"kind": "terms", "version": "3", "body": "x"})
    assert error_code(r) == "agreement_unknown_kind"
    assert admin.get("/console/agreements").status_code == 200


def test_clause_marks_and_safe_rendering() -> None:
    body = "<!-- clause: a_b -->\n# T\n<script>alert(1)</script>\n<!--clause:c-->"
    assert clause_ids(body) == {"a_b", "c"}
    html = render_markdown(body)
    assert "<script>" not in html and "clause" not in html
