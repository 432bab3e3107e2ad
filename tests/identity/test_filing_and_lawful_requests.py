"""Filing of verified publishers and lawful requests (Art. 12): what each export holds, who
may make it, and that every one is audited."""

from __future__ import annotations

import csv
import io
import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from livegate.app import Platform
from livegate.core.models import AuditEntry
from livegate.core.permissions import Role
from tests.conftest import As, create_account, sign_in
from tests.identity.conftest import error_code
from tests.identity.helpers import make_verified_publisher, resident_id_for, verify_phone_directly


def _audit(platform: Platform, action: str) -> list[AuditEntry]:
    with platform.db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)
                              .order_by(AuditEntry.seq)))


def test_filing_export_is_masked_unless_full_with_reveal_and_a_reason(platform: Platform, client: TestClient,
                                                                      officer: As, admin: As) -> None:
    pid = make_verified_publisher(platform, "filer-a")
    verify_phone_directly(platform, pid, "+8613711112222")
    make_verified_publisher(platform, "filer-b")
    number = resident_id_for("filer-a")
    r = officer.post("/api/v1/identity/filing/export", json={"province": "11", "type": "individual"})
    assert r.status_code == 200 and r.headers["x-row-count"] == "2"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["nickname"] for row in rows} == {"filer-a", "filer-b"}
    assert number not in r.text and "13711112222" not in r.text and "测试" not in r.text
    assert any(row["phone"] == "+86 137****2222" for row in rows)
    r = officer.post("/api/v1/identity/filing/export", json={"province": "44", "type": "individual",
                                                             "format": "json"})
    assert r.json()["count"] == 0
    r = officer.post("/api/v1/identity/filing/export", json={"type": "organisation", "format": "json"})
    assert r.json()["count"] == 0
    assert admin.post("/api/v1/identity/filing/export", json={}).status_code == 403
    r = officer.post("/api/v1/identity/filing/export", json={"full": True})
    assert r.status_code == 422 and error_code(r) == "identity_reason_required"
    r = officer.post("/api/v1/identity/filing/export", json={"full": True, "format": "json",
                                                             "reason": "annual filing with the provincial office"})
    data = json.loads(r.text)
    assert number in {row["document_number"] for row in data["rows"]}
    assert "+8613711112222" in {row["phone"] for row in data["rows"]}
    exports = _audit(platform, "filing.export")
    assert [e.details["full"] for e in exports] == [False, False, False, True]
    assert exports[-1].reason == "annual filing with the provincial office"
    assert all(number not in json.dumps(e.details) for e in exports)
    # The console form posts the same export with the CSRF token in the form.
    r = officer.post("/api/v1/identity/filing/export", data={"csrf_token": officer.csrf, "province": "",
                                                             "type": "individual", "format": "csv"},
                     headers={"x-csrf-token": ""})
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]


def test_a_lawful_request_needs_a_second_officer_and_exports_exactly_its_scope(
        platform: Platform, client: TestClient, officer: As, officer2: As) -> None:
    a = make_verified_publisher(platform, "subject-a")
    b = make_verified_publisher(platform, "subject-b")
    viewer = create_account(platform, "subject-c", Role.AUDIENCE)
    verify_phone_directly(platform, viewer, "+8613600001111")
    r = officer.post("/api/v1/lawful-requests", json={"authority": "某市公安局网安支队",
                                                      "legal_basis": "Cybersecurity Law Art. 28",
                                                      "reference": "公网调〔2026〕12号", "account_ids": [a, viewer]})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    r = officer.post(f"/api/v1/lawful-requests/{rid}/export", json={})
    assert r.status_code == 409 and error_code(r) == "identity_lawful_request_state"
    r = officer.post(f"/api/v1/lawful-requests/{rid}/decision", json={"decision": "approve", "reason": "valid"})
    assert r.status_code == 409 and error_code(r) == "identity_second_officer_required"
    r = officer2.post(f"/api/v1/lawful-requests/{rid}/decision",
                      json={"decision": "approve", "reason": "basis and reference checked"})
    assert r.json()["status"] == "approved"
    r = officer2.post(f"/api/v1/lawful-requests/{rid}/export", json={"format": "json"})
    rows = r.json()["rows"]
    assert sorted(row["account_id"] for row in rows) == sorted([a, viewer])
    assert b not in {row["account_id"] for row in rows}
    assert resident_id_for("subject-a") in {row["document_number"] for row in rows}
    assert resident_id_for("subject-b") not in r.text
    assert "+8613600001111" in {row["phone"] for row in rows}
    [export] = _audit(platform, "lawful_request.export")
    assert sorted(export.details["accounts"]) == sorted([a, viewer])
    assert [e.action for e in _audit(platform, "lawful_request.create")] == ["lawful_request.create"]
    r = officer.post("/api/v1/lawful-requests", json={"authority": "x", "legal_basis": "y", "reference": "z",
                                                      "account_ids": [99999]})
    assert r.status_code == 422
    reviewer_id = create_account(platform, "rev-x", Role.REVIEWER)
    assert reviewer_id
    assert sign_in(client, "rev-x").get("/api/v1/lawful-requests").status_code == 403
    assert "subject" not in As(client).get("/api/v1/rooms").text
