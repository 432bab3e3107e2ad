"""Real names behind the scenes: identity values created through the public API appear
nowhere in plain text — not in any table, not in the logs, not in any export or page made
without the reveal permission (Art. 12; ARCHITECTURE principle 5)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select

from livegate.app import Platform
from tests.conftest import As
from tests.identity.conftest import signup
from tests.identity.helpers import jpeg_bytes, resident_id

PHONE_NATIONAL = "13987654321"
DOC = resident_id(__import__("datetime").date(1988, 8, 8), 456, "440106")
NAME = "司马相如"


def _needles() -> list[str]:
    return [PHONE_NATIONAL, "+86" + PHONE_NATIONAL, DOC, DOC[:-1], NAME, "相如"]


def _dump_database(platform: Platform) -> list[tuple[str, str, Any]]:
    meta = MetaData()
    meta.reflect(bind=platform.db.engine)
    cells: list[tuple[str, str, Any]] = []
    with platform.db.engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                for column, value in zip(table.columns.keys(), row, strict=True):
                    cells.append((table.name, column, value))
    return cells


def _contains(value: Any, needle: str) -> bool:
    if value is None:
        return False
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        return needle.encode() in raw or needle.encode("utf-16-le") in raw
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    return needle in str(value)


def test_identity_values_never_appear_in_plain_text(platform: Platform, client: TestClient, reviewer: As,
                                                    officer: As, admin: As,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    user = signup(client, "privacy-a", "Poet")
    r = user.post("/api/v1/me/phone/code", json={"phone": PHONE_NATIONAL})
    assert r.status_code == 200
    assert platform.identity.outbox is not None
    code = platform.identity.outbox.last_code("+86" + PHONE_NATIONAL)
    assert code
    assert user.post("/api/v1/me/phone/verify", json={"phone": PHONE_NATIONAL, "code": code}).status_code == 200
    r = user.post("/api/v1/me/verification", json={"doc_type": "resident_id", "number": DOC, "real_name": NAME})
    assert r.status_code == 201
    rid = r.json()["id"]
    assert user.post("/api/v1/me/verification/photos",
                     files={"file": ("id.jpg", jpeg_bytes(), "image/jpeg")}).status_code == 201
    # A failed duplicate attempt and a bad number also go through the logs and the error paths.
    other = signup(client, "privacy-b", "Other")
    other.post("/api/v1/me/verification", json={"doc_type": "resident_id", "number": DOC[:-1] + "Z",
                                                "real_name": NAME})
    r = reviewer.post(f"/api/v1/identity/verifications/{rid}/decision",
                      json={"decision": "approve", "reason": "matches"})
    assert r.status_code == 200
    r = other.post("/api/v1/me/verification", json={"doc_type": "resident_id", "number": DOC, "real_name": NAME})
    assert r.status_code == 409

    # Everything someone without identity:reveal can obtain.
    responses = [
        user.get("/api/v1/me/identity"), user.get("/account"), user.get("/studio/identity"),
        reviewer.get("/api/v1/identity/verifications?status=approved"),
        reviewer.get(f"/api/v1/identity/verifications/{rid}"), reviewer.get("/console/identity"),
        admin.get("/api/v1/audit?limit=500"), admin.get("/api/v1/users"),
        As(client).get("/api/v1/rooms"), As(client).get("/"),
        officer.post("/api/v1/identity/filing/export", json={"format": "csv"}),
        officer.post("/api/v1/identity/filing/export", json={"format": "json", "province": "44"}),
    ]
    for resp in responses:
        assert resp.status_code == 200, resp.request.url
        for needle in _needles():
            assert needle not in resp.text, (resp.request.url, needle)
    assert json.loads(responses[-1].text)["count"] == 1

    cells = _dump_database(platform)
    assert any(table == "identity_records" for table, _, _ in cells)
    assert any(_contains(v, "Poet") for _, _, v in cells)  # the dump does see plain values
    leaks = [(t, c) for t, c, v in cells for n in _needles() if _contains(v, n)]
    assert not leaks, leaks

    log_text = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    assert caplog.records
    for needle in _needles():
        assert needle not in log_text, needle
    assert code not in " ".join(r.getMessage() for r in caplog.records if "code" in r.getMessage().lower()
                                and "sms" in r.getMessage().lower())

    # With the permission and a reason, the values do come back (so the test above is not vacuous).
    r = officer.post(f"/api/v1/identity/verifications/{rid}/reveal", json={"reason": "privacy test control"})
    assert r.json()["real_name"] == NAME and r.json()["document_number"] == DOC
