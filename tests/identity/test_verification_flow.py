"""Publisher document verification through the HTTP API: checks, age rules, manual review,
duplicates, staff decisions, photos and reveal (Art. 12)."""

from __future__ import annotations

import datetime as dt
import io

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from livegate.app import Platform
from livegate.core.models import AuditEntry
from livegate.core.policy import PublisherRules
from livegate.identity.models import DocumentPhoto, IdentityRecord
from livegate.identity.provider import ExternalCheck
from tests.conftest import As
from tests.identity.conftest import error_code, signup
from tests.identity.helpers import jpeg_bytes, resident_id, wrong_checksum

TODAY = dt.date(2026, 11, 1)
ADULT = resident_id(dt.date(1990, 3, 7), 123)


def _submit(who: As, number: str = ADULT, name: str = "张三", doc_type: str = "resident_id", **extra: str) -> object:
    return who.post("/api/v1/me/verification", json={"doc_type": doc_type, "number": number, "real_name": name,
                                                     **extra})


def _count(platform: Platform, model: type) -> int:
    with platform.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _actions(platform: Platform, action: str) -> list[AuditEntry]:
    with platform.db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)
                              .order_by(AuditEntry.seq)))


def test_submission_review_and_approval_make_a_publisher(platform: Platform, client: TestClient,
                                                         reviewer: As) -> None:
    user = signup(client, "streamer-a")
    r = _submit(user)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "pending" and body["document"] == "1****************" + ADULT[-1]
    assert body["name"] == "张*" and body["guardian_consent_required"] is False
    assert user.get("/api/v1/me/identity").json()["identity"]["province"] == "11"
    queue = reviewer.get("/api/v1/identity/verifications").json()["verifications"]
    assert [q["id"] for q in queue] == [body["id"]] and queue[0]["name"] == "张*"
    assert user.get("/studio").status_code == 403
    r = reviewer.post(f"/api/v1/identity/verifications/{body['id']}/decision",
                      json={"decision": "approve", "reason": "document and photo match"})
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert "publisher" in user.get("/api/v1/me").json()["roles"]
    assert user.get("/studio/identity").status_code == 200
    [entry] = _actions(platform, "identity.approve")
    assert entry.reason == "document and photo match" and entry.actor.startswith("account:")
    r = reviewer.post(f"/api/v1/identity/verifications/{body['id']}/decision",
                      json={"decision": "reject", "reason": "again"})
    assert r.status_code == 409 and error_code(r) == "identity_verification_decided"


def test_a_checksum_failure_goes_to_manual_review_with_the_reason(platform: Platform, client: TestClient,
                                                                   reviewer: As) -> None:
    user = signup(client, "streamer-b")
    r = _submit(user, wrong_checksum(ADULT))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "manual_review" and r.json()["check_rule"] == "gb11643.checksum"
    assert "check character" in r.json()["check_reason"]
    [queued] = reviewer.get("/api/v1/identity/verifications").json()["verifications"]
    assert queued["status"] == "manual_review" and queued["check_rule"] == "gb11643.checksum"
    r = reviewer.post(f"/api/v1/identity/verifications/{queued['id']}/decision",
                      json={"decision": "reject", "reason": "number does not match the photo"})
    assert r.json()["status"] == "rejected"
    assert user.get("/api/v1/me/identity").json()["identity"]["decision_reason"] == "number does not match the photo"
    assert _submit(user).status_code == 201  # may try again after a rejection


def test_bad_numbers_are_refused_with_a_typed_error_and_nothing_is_stored(platform: Platform,
                                                                          client: TestClient) -> None:
    user = signup(client, "streamer-c")
    future = resident_id(dt.date(2027, 1, 1))
    impossible_body = "11010519900230123"
    cases = [
        (future, "gb11643.birth_date_future"),
        (impossible_body + "0", None),  # 30 February: the date rule (checksum first may differ)
        ("1234", "gb11643.length"),
        ("11010519900307123Y", "gb11643.charset"),
    ]
    from livegate.identity.documents import gb11643_check_char

    cases[1] = (impossible_body + gb11643_check_char(impossible_body), "gb11643.birth_date")
    for number, rule in cases:
        r = _submit(user, number)
        assert r.status_code == 422, (number, r.text)
        assert error_code(r) == "identity_invalid_document" and r.json()["error"]["details"]["rule"] == rule
        assert number not in r.text
    r = _submit(user, doc_type="passport")
    assert r.status_code == 422 and error_code(r) == "identity_unknown_document_type"
    r = _submit(user, name="   ")
    assert r.status_code == 422
    assert _count(platform, IdentityRecord) == 0 and not _actions(platform, "identity.submit")


def test_age_rules_from_the_policy(platform: Platform, client: TestClient, reviewer: As) -> None:
    child = signup(client, "streamer-d")
    r = _submit(child, resident_id(dt.date(2011, 6, 1)))  # 15
    assert r.status_code == 422 and error_code(r) == "identity_too_young"
    assert r.json()["error"]["details"]["min_age"] == 16
    teen = signup(client, "streamer-e")
    r = _submit(teen, resident_id(dt.date(2009, 6, 1)))  # 17
    assert r.status_code == 201 and r.json()["guardian_consent_required"] is True
    rid = r.json()["id"]
    r = reviewer.post(f"/api/v1/identity/verifications/{rid}/decision", json={"decision": "approve", "reason": "ok"})
    assert r.status_code == 422 and error_code(r) == "identity_guardian_consent_required"
    r = reviewer.post(f"/api/v1/identity/verifications/{rid}/decision",
                      json={"decision": "approve", "reason": "guardian's consent form seen", "guardian_consent": True})
    assert r.json()["status"] == "approved"
    # 16 exactly, today: allowed.
    sixteen = signup(client, "streamer-f")
    assert _submit(sixteen, resident_id(dt.date(2010, 11, 1), 7)).status_code == 201


def test_duplicate_identities_are_refused_unless_the_policy_allows(platform: Platform, client: TestClient,
                                                                   reviewer: As) -> None:
    first, second = signup(client, "streamer-g"), signup(client, "streamer-h")
    rid = _submit(first).json()["id"]
    # Spelled differently (lower-case x, spaces): the blind index is of the normalised number.
    r = _submit(second, " ".join(ADULT))
    assert r.status_code == 201  # not yet verified for anyone: both wait for review
    second_id = r.json()["id"]
    reviewer.post(f"/api/v1/identity/verifications/{rid}/decision", json={"decision": "approve", "reason": "ok"})
    r = reviewer.post(f"/api/v1/identity/verifications/{second_id}/decision",
                      json={"decision": "approve", "reason": "ok"})
    assert r.status_code == 409 and error_code(r) == "identity_duplicate"
    reviewer.post(f"/api/v1/identity/verifications/{second_id}/decision", json={"decision": "reject", "reason": "dup"})
    third = signup(client, "streamer-i")
    r = _submit(third, ADULT)
    assert r.status_code == 409 and error_code(r) == "identity_duplicate"
    policy = platform.policy.get()
    platform.policy.swap(policy.model_copy(update={"publisher": PublisherRules(
        min_age=16, guardian_consent_below=18, identities_per_publisher=1, publisher_accounts_per_identity=2)}))
    assert _submit(third, ADULT).status_code == 201


def test_one_open_submission_and_one_identity_per_account(platform: Platform, client: TestClient,
                                                          reviewer: As) -> None:
    user = signup(client, "streamer-j")
    rid = _submit(user).json()["id"]
    r = _submit(user, resident_id(dt.date(1991, 1, 1)))
    assert r.status_code == 409 and error_code(r) == "identity_verification_pending"
    reviewer.post(f"/api/v1/identity/verifications/{rid}/decision", json={"decision": "approve", "reason": "ok"})
    r = _submit(user, resident_id(dt.date(1991, 1, 1)))
    assert r.status_code == 409 and error_code(r) == "identity_already_verified"


def test_organisations_verify_with_a_credit_code(client: TestClient) -> None:
    org = signup(client, "org-a")
    r = _submit(org, "91350100M000100Y43", name="某某文化传媒有限公司", doc_type="uscc")
    assert r.status_code == 201, r.text
    assert org.get("/api/v1/me/identity").json()["identity"]["kind"] == "organisation"


def test_photos_are_checked_stripped_sealed_and_revealed_only_with_a_reason(
        platform: Platform, client: TestClient, reviewer: As, officer: As) -> None:
    user = signup(client, "streamer-k")
    r = user.post("/api/v1/me/verification/photos", files={"file": ("id.jpg", jpeg_bytes(), "image/jpeg")})
    assert r.status_code == 404 and error_code(r) == "identity_verification_not_found"
    rid = _submit(user).json()["id"]
    original = jpeg_bytes((80, 50), exif=True)
    assert b"SecretCameraMaker" in original
    r = user.post("/api/v1/me/verification/photos", files={"file": ("id.jpg", original, "image/jpeg")})
    assert r.status_code == 201, r.text
    photo_id = r.json()["id"]
    assert (r.json()["width"], r.json()["height"]) == (80, 50)
    # not an image; a wrong type; too large
    r = user.post("/api/v1/me/verification/photos", files={"file": ("id.jpg", b"%PDF-1.4 not an image", "image/jpeg")})
    assert r.status_code == 422 and error_code(r) == "identity_invalid_photo"
    r = user.post("/api/v1/me/verification/photos", files={"file": ("id.gif", b"GIF89a", "image/gif")})
    assert r.status_code == 422 and r.json()["error"]["details"]["reason"] == "type"
    r = user.post("/api/v1/me/verification/photos",
                  files={"file": ("big.jpg", b"\xff\xd8" + b"0" * (5 * 1024 * 1024), "image/jpeg")})
    assert r.status_code == 413 and error_code(r) == "identity_photo_too_large"
    assert _count(platform, DocumentPhoto) == 1
    with platform.db.session() as s:
        row = s.get(DocumentPhoto, photo_id)
        assert row is not None and b"SecretCameraMaker" not in row.sealed and b"\xff\xd8\xff" not in row.sealed
    detail = reviewer.get(f"/api/v1/identity/verifications/{rid}").json()
    assert [p["id"] for p in detail["photos"]] == [photo_id]
    # Reviewers cannot open photos; officers can, with a reason.
    assert reviewer.post(f"/api/v1/identity/photos/{photo_id}/reveal", json={"reason": "check"}).status_code == 403
    r = officer.post(f"/api/v1/identity/photos/{photo_id}/reveal", json={"reason": ""})
    assert r.status_code == 422 and error_code(r) == "identity_reason_required"
    r = officer.post(f"/api/v1/identity/photos/{photo_id}/reveal", json={"reason": "verification review"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    img = Image.open(io.BytesIO(r.content))
    assert img.size == (80, 50) and not img.getexif() and b"SecretCameraMaker" not in r.content


def test_reveal_needs_the_permission_and_a_reason_and_is_audited(platform: Platform, client: TestClient,
                                                                 reviewer: As, officer: As) -> None:
    user = signup(client, "streamer-l")
    rid = _submit(user, name="欧阳娜娜").json()["id"]
    assert reviewer.post(f"/api/v1/identity/verifications/{rid}/reveal", json={"reason": "x"}).status_code == 403
    r = officer.post(f"/api/v1/identity/verifications/{rid}/reveal", json={})
    assert r.status_code == 422 and error_code(r) == "identity_reason_required"
    assert not _actions(platform, "identity.reveal")
    r = officer.post(f"/api/v1/identity/verifications/{rid}/reveal", json={"reason": "police request ref 42"})
    assert r.json() == {"real_name": "欧阳娜娜", "document_number": ADULT, "doc_type": "resident_id"}
    [entry] = _actions(platform, "identity.reveal")
    assert entry.reason == "police request ref 42" and "欧阳" not in str(entry.details)
    assert officer.post("/api/v1/identity/verifications/999/reveal", json={"reason": "look up"}).status_code == 404


class _Mismatch:
    name = "fake-kyc"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def check(self, *, doc_type: str, number: str, real_name: str) -> ExternalCheck:
        self.calls.append(doc_type)
        return ExternalCheck("mismatch", "name and number do not belong together", reference="req-1")


def test_an_external_mismatch_sends_the_submission_to_manual_review(platform: Platform, client: TestClient) -> None:
    fake = _Mismatch()
    platform.identity.checker = fake
    user = signup(client, "streamer-m")
    r = _submit(user)
    assert r.status_code == 201 and r.json()["status"] == "manual_review"
    assert "fake-kyc" in r.json()["check_reason"] and "do not belong" in r.json()["check_reason"]
    assert fake.calls == ["resident_id"]
