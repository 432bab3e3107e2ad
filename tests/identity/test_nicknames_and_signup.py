"""Any name up front (Art. 12): sign-up, nickname rules, and public surfaces showing nicknames only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from livegate.app import Platform
from livegate.core.models import AuditEntry
from livegate.identity.errors import NicknameRefused
from livegate.identity.nicknames import check_nickname
from tests.conftest import As
from tests.identity.conftest import error_code, signup


@pytest.mark.parametrize("nick", ["官方客服", "平台管理员", "ADMIN", "Ａｄｍｉｎ", "l1vegate", "网信办小王", "公安局",
                                  "Official_Team", "po l ice"])
def test_nicknames_that_impersonate_are_refused(nick: str) -> None:
    with pytest.raises(NicknameRefused) as exc:
        check_nickname(nick)
    assert exc.value.details["reason"] == "impersonation"


@pytest.mark.parametrize(("nick", "reason"), [("", "empty"), ("   ", "empty"), ("x" * 25, "length"),
                                              ("a\u200bb", "characters")])
def test_other_refusals_say_why(nick: str, reason: str) -> None:
    with pytest.raises(NicknameRefused) as exc:
        check_nickname(nick)
    assert exc.value.details["reason"] == reason


def test_ordinary_nicknames_pass() -> None:
    assert check_nickname("  小明  的 直播间 ") == "小明 的 直播间"
    assert check_nickname("Ｍｉｎｇ") == "Ming"


def test_signup_then_change_nickname_unique_rate_limited_and_audited(platform: Platform,
                                                                     client: TestClient) -> None:
    user = signup(client, "nick-a", "Moon")
    other = signup(client, "nick-b", "Sun")
    assert user.get("/api/v1/me").json()["nickname"] == "Moon"
    r = As(client).post("/api/v1/auth/signup", json={"username": "nick-c", "nickname": "moon",
                                                     "password": "correct horse battery"})
    assert r.status_code == 409 and error_code(r) == "identity_nickname_taken"
    r = As(client).post("/api/v1/auth/signup", json={"username": "nick-c", "nickname": "客服小美",
                                                     "password": "correct horse battery"})
    assert r.status_code == 422 and error_code(r) == "identity_nickname_refused"
    r = other.put("/api/v1/me/nickname", json={"nickname": "MOON"})
    assert r.status_code == 409 and error_code(r) == "identity_nickname_taken"
    r = user.put("/api/v1/me/nickname", json={"nickname": "livegate官方"})
    assert r.status_code == 422 and r.json()["error"]["details"]["reason"] == "impersonation"
    for nick in ("Moon 2", "Moon 3", "Moon 4"):
        assert user.put("/api/v1/me/nickname", json={"nickname": nick}).status_code == 200
    r = user.put("/api/v1/me/nickname", json={"nickname": "Moon 5"})
    assert r.status_code == 429 and "retry-after" in r.headers
    assert user.get("/api/v1/me").json()["nickname"] == "Moon 4"
    with platform.db.session() as s:
        changes = s.scalars(select(AuditEntry).where(AuditEntry.action == "account.nickname_change")
                            .order_by(AuditEntry.seq)).all()
        assert [c.details["to"] for c in changes] == ["Moon 2", "Moon 3", "Moon 4"]


def test_signup_page_form(platform: Platform, client: TestClient) -> None:
    anon = As(client)
    r = anon.post("/signup", data={"username": "form-user", "nickname": "管理员", "password": "correct horse battery"},
                  follow_redirects=False)
    assert r.status_code == 422 and "cannot suggest" in r.text
    r = anon.post("/signup", data={"username": "form-user", "nickname": "Form", "password": "short"},
                  follow_redirects=False)
    assert r.status_code == 422
    r = anon.post("/signup", data={"username": "form-user", "nickname": "Form", "password": "correct horse battery"},
                  follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account"
    cookie = r.cookies.get("lg_session")
    assert cookie
    page = As(client, cookie).get("/account")
    assert page.status_code == 200 and "Form" in page.text and "Publisher verification" in page.text


def test_the_moderation_lexicon_also_applies(client: TestClient) -> None:
    from livegate.identity.nicknames import default_moderator

    if default_moderator() is None:
        pytest.skip("the chat lexicon is not available")
    with pytest.raises(NicknameRefused) as exc:
        check_nickname("泄露国家秘密", moderator=default_moderator())
    assert exc.value.details["reason"] == "lexicon"
    r = As(client).post("/api/v1/auth/signup", json={"username": "lex-a", "nickname": "颠覆国家政权",
                                                     "password": "correct horse battery"})
    assert r.status_code == 422 and r.json()["error"]["details"]["reason"] == "lexicon"
    assert "颠覆" not in r.json()["error"]["message"]
