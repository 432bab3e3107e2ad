"""Audience phone verification through the HTTP API (Art. 12): codes, limits, replay, binding."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from livegate.app import Platform
from livegate.core.clock import ManualClock
from livegate.core.models import AuditEntry
from livegate.identity.models import OtpChallengeRow, PhoneVerification
from tests.conftest import As
from tests.identity.conftest import error_code, signup

PHONE = "+8613912345678"


def _code(platform: Platform, phone: str = PHONE) -> str:
    assert platform.identity.outbox is not None
    code = platform.identity.outbox.last_code(phone)
    assert code is not None
    return code


def test_a_viewer_verifies_a_phone_and_only_the_masked_number_is_shown(platform: Platform,
                                                                       client: TestClient) -> None:
    viewer = signup(client, "viewer-a")
    r = viewer.post("/api/v1/me/phone/code", json={"phone": "139 1234 5678"})
    assert r.status_code == 200, r.text
    assert r.json()["phone"] == "+86 139****5678"
    r = viewer.post("/api/v1/me/phone/verify", json={"phone": "+86 139-1234-5678", "code": _code(platform)})
    assert r.status_code == 200, r.text
    assert r.json() == {"verified": True, "phone": "+86 139****5678"}
    me = viewer.get("/api/v1/me/identity").json()
    assert me["phone"] == {"verified": True, "masked": "+86 139****5678"}
    with platform.db.session() as s:
        row = s.scalar(select(PhoneVerification))
        assert row is not None and "13912345678" not in row.phone_sealed
        assert s.scalar(select(func.count()).select_from(AuditEntry)
                        .where(AuditEntry.action == "identity.phone_verified")) == 1


def test_wrong_code_counts_tries_and_a_used_code_cannot_be_replayed(platform: Platform, client: TestClient) -> None:
    viewer = signup(client, "viewer-b")
    assert viewer.post("/api/v1/me/phone/code", json={"phone": PHONE}).status_code == 200
    code = _code(platform)
    wrong = "000000" if code != "000000" else "111111"
    r = viewer.post("/api/v1/me/phone/verify", json={"phone": PHONE, "code": wrong})
    assert r.status_code == 422 and error_code(r) == "otp_invalid"
    assert r.json()["error"]["details"]["attempts_left"] == 4
    with platform.db.session() as s:
        assert s.get(PhoneVerification, 1) is None  # nothing half-written
    assert viewer.post("/api/v1/me/phone/verify", json={"phone": PHONE, "code": code}).status_code == 200
    r = viewer.post("/api/v1/me/phone/verify", json={"phone": PHONE, "code": code})
    assert r.status_code == 409 and error_code(r) == "otp_already_used"


def test_five_wrong_tries_burn_the_code(platform: Platform, client: TestClient) -> None:
    viewer = signup(client, "viewer-c")
    viewer.post("/api/v1/me/phone/code", json={"phone": PHONE})
    code = _code(platform)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        assert error_code(viewer.post("/api/v1/me/phone/verify", json={"phone": PHONE, "code": wrong})) == "otp_invalid"
    r = viewer.post("/api/v1/me/phone/verify", json={"phone": PHONE, "code": wrong})
    assert r.status_code == 429 and error_code(r) == "otp_too_many_attempts"
    r = viewer.post("/api/v1/me/phone/verify", json={"phone": PHONE, "code": code})
    assert r.status_code == 429 and error_code(r) == "otp_too_many_attempts"


def test_codes_expire_after_five_minutes(platform: Platform, client: TestClient, clock: ManualClock) -> None:
    viewer = signup(client, "viewer-d")
    viewer.post("/api/v1/me/phone/code", json={"phone": PHONE})
    clock.advance(301)
    r = viewer.post("/api/v1/me/phone/verify", json={"phone": PHONE, "code": _code(platform)})
    assert r.status_code == 422 and error_code(r) == "otp_expired"


def test_cooldown_and_per_number_limit(platform: Platform, client: TestClient, clock: ManualClock) -> None:
    viewer = signup(client, "viewer-e")
    assert viewer.post("/api/v1/me/phone/code", json={"phone": PHONE}).status_code == 200
    r = viewer.post("/api/v1/me/phone/code", json={"phone": PHONE})
    assert r.status_code == 429 and error_code(r) == "otp_cooldown" and int(r.headers["retry-after"]) >= 59
    for _ in range(4):
        clock.advance(61)
        assert viewer.post("/api/v1/me/phone/code", json={"phone": PHONE}).status_code == 200
    clock.advance(61)
    r = viewer.post("/api/v1/me/phone/code", json={"phone": PHONE})
    assert r.status_code == 429 and error_code(r) == "otp_rate_limited"
    assert r.json()["error"]["details"]["scope"] == "phone"


def test_per_address_limit_across_numbers(platform: Platform, client: TestClient) -> None:
    viewer = signup(client, "viewer-f")
    for i in range(20):
        assert viewer.post("/api/v1/me/phone/code", json={"phone": f"+86139000000{i:02d}"}).status_code == 200
    r = viewer.post("/api/v1/me/phone/code", json={"phone": "+8613900000099"})
    assert r.status_code == 429 and r.json()["error"]["details"]["scope"] == "ip"


def test_invalid_numbers_are_refused_with_the_reason(client: TestClient) -> None:
    viewer = signup(client, "viewer-g")
    r = viewer.post("/api/v1/me/phone/code", json={"phone": "010 1234 5678"})
    assert r.status_code == 422 and error_code(r) == "identity_invalid_phone"
    r = viewer.post("/api/v1/me/phone/code", json={"phone": "+1 202 555 0143"})
    assert r.json()["error"]["details"]["reason"] == "not_cn"


def test_a_number_verified_for_one_account_is_refused_for_another(platform: Platform, client: TestClient,
                                                                  clock: ManualClock) -> None:
    first, second = signup(client, "viewer-h"), signup(client, "viewer-i")
    first.post("/api/v1/me/phone/code", json={"phone": PHONE})
    assert first.post("/api/v1/me/phone/verify", json={"phone": PHONE, "code": _code(platform)}).status_code == 200
    clock.advance(61)
    second.post("/api/v1/me/phone/code", json={"phone": PHONE})
    r = second.post("/api/v1/me/phone/verify", json={"phone": PHONE, "code": _code(platform)})
    assert r.status_code == 409 and error_code(r) == "identity_phone_in_use"
    with platform.db.session() as s:
        assert s.scalar(select(func.count()).select_from(PhoneVerification)) == 1


def test_the_otp_table_holds_no_code_or_number(platform: Platform, client: TestClient) -> None:
    viewer = signup(client, "viewer-j")
    viewer.post("/api/v1/me/phone/code", json={"phone": PHONE})
    code = _code(platform)
    with platform.db.session() as s:
        row = s.scalar(select(OtpChallengeRow))
        assert row is not None
        assert code not in row.code_hash and "13912345678" not in row.subject


def test_anonymous_cannot_request_codes(client: TestClient) -> None:
    assert As(client).post("/api/v1/me/phone/code", json={"phone": PHONE}).status_code == 401


def test_the_policy_sets_the_length_of_the_code(platform: Platform, client: TestClient) -> None:
    import yaml

    from livegate.core.policy import default_policy_text, parse_policy

    doc = yaml.safe_load(default_policy_text())
    doc["otp"]["code_length"] = 8
    platform.policy.swap(parse_policy(yaml.safe_dump(doc, allow_unicode=True), source="test"))
    viewer = signup(client, "viewer-eight")
    assert viewer.post("/api/v1/me/phone/code", json={"phone": "139 1234 5678"}).status_code == 200
    code = _code(platform)
    assert len(code) == 8 and code.isdigit()
    r = viewer.post("/api/v1/me/phone/verify", json={"phone": "+8613912345678", "code": code[:6]})
    assert r.status_code != 200  # six of the eight digits are a wrong try
    r = viewer.post("/api/v1/me/phone/verify", json={"phone": "+8613912345678", "code": code})
    assert r.status_code == 200, r.text
