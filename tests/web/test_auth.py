from __future__ import annotations

import datetime as dt

import pyotp
from fastapi.testclient import TestClient

from livegate.app import Platform
from livegate.core.models import Account, ApiToken
from livegate.core.permissions import Role
from tests.conftest import PASSWORD, As, create_account, sign_in


def test_sign_in_sets_an_httponly_samesite_cookie_and_me_works(platform: Platform, client: TestClient) -> None:
    create_account(platform, "alice", Role.REVIEWER)
    r = As(client).post("/api/v1/auth/signin", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain http in tests
    alice = As(client, r.cookies["lg_session"], r.json()["csrf_token"])
    me = alice.get("/api/v1/me").json()
    assert me["username"] == "alice" and me["roles"] == ["reviewer"]


def test_secure_cookie_behind_https(platform: Platform, client: TestClient) -> None:
    create_account(platform, "alice", Role.REVIEWER)
    r = As(client).post("/api/v1/auth/signin", json={"username": "alice", "password": PASSWORD},
                        headers={"x-forwarded-proto": "https"})
    assert "Secure" in r.headers["set-cookie"]


def test_wrong_password_is_refused_with_a_typed_error(platform: Platform, client: TestClient) -> None:
    create_account(platform, "alice", Role.REVIEWER)
    anon = As(client)
    r = anon.post("/api/v1/auth/signin", json={"username": "alice", "password": "wrong password!"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "sign_in_failed"
    r = anon.post("/api/v1/auth/signin", json={"username": "nobody", "password": "wrong password!"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "sign_in_failed"


def test_lockout_after_repeated_failures(platform: Platform, client: TestClient) -> None:
    create_account(platform, "alice", Role.REVIEWER)
    anon = As(client)
    for _ in range(platform.settings.login_max_failures):
        assert anon.post("/api/v1/auth/signin", json={"username": "alice", "password": "bad-bad-bad"}
                         ).status_code == 401
    r = anon.post("/api/v1/auth/signin", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 423 and r.json()["error"]["code"] == "account_locked"
    with platform.db.session() as s:
        acc = platform.accounts.by_username(s, "alice")
        assert acc is not None
        acc.locked_until = platform.clock.now() - dt.timedelta(seconds=1)
    assert anon.post("/api/v1/auth/signin", json={"username": "alice", "password": PASSWORD}).status_code == 200


def test_totp_is_required_once_enabled(platform: Platform, client: TestClient) -> None:
    create_account(platform, "alice", Role.ADMINISTRATOR)
    alice = sign_in(client, "alice")
    secret = alice.post("/api/v1/me/totp/begin").json()["secret"]
    bad = alice.post("/api/v1/me/totp/enable", json={"secret": secret, "code": "000000"})
    assert bad.status_code == 422
    ok = alice.post("/api/v1/me/totp/enable", json={"secret": secret, "code": pyotp.TOTP(secret).now()})
    assert ok.status_code == 200
    anon = As(client)
    r = anon.post("/api/v1/auth/signin", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 401 and r.json()["error"]["code"] == "totp_required"
    sign_in(client, "alice", totp=pyotp.TOTP(secret).now())


def test_csrf_is_required_for_cookie_sessions(platform: Platform, client: TestClient) -> None:
    create_account(platform, "alice", Role.ADMINISTRATOR)
    alice = sign_in(client, "alice")
    no_csrf = As(client, alice.session, "")
    r = no_csrf.post("/api/v1/me/tokens", json={"name": "ci"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = no_csrf.post("/api/v1/me/tokens", json={"name": "ci"}, headers={"x-csrf-token": "forged"})
    assert r.status_code == 403
    assert alice.post("/api/v1/me/tokens", json={"name": "ci"}).status_code == 200


def test_api_tokens_authenticate_without_csrf_and_are_stored_hashed(platform: Platform, client: TestClient) -> None:
    create_account(platform, "alice", Role.ADMINISTRATOR)
    alice = sign_in(client, "alice")
    token = alice.post("/api/v1/me/tokens", json={"name": "prometheus"}).json()["token"]
    anon = As(client)
    assert anon.get("/metrics").status_code == 401
    r = anon.get("/metrics", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200 and b"livegate_http_requests_total" in r.content
    assert anon.get("/api/v1/me", headers={"authorization": "Bearer lg_nope"}).status_code == 401
    with platform.db.session() as s:
        hashes = [t.token_hash for t in s.query(ApiToken).all()]
    assert hashes and all(token not in h for h in hashes)


def test_passwords_are_argon2id(platform: Platform) -> None:
    create_account(platform, "alice", Role.AUDIENCE)
    with platform.db.session() as s:
        acc = s.query(Account).filter_by(username="alice").one()
        assert acc.password_hash and acc.password_hash.startswith("$argon2id$")
        assert PASSWORD not in acc.password_hash


def test_signin_form_redirects_staff_to_the_console(platform: Platform, client: TestClient) -> None:
    create_account(platform, "alice", Role.REVIEWER)
    anon = As(client)
    r = anon.post("/signin", data={"username": "alice", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console"
    alice = As(client, r.cookies["lg_session"])
    page = alice.get("/console", headers={"accept": "text/html"})
    assert page.status_code == 200 and "Rooms" in page.text
    assert anon.get("/console", headers={"accept": "text/html"}).status_code == 401


def test_signin_form_shows_the_error(platform: Platform, client: TestClient) -> None:
    r = As(client).post("/signin", data={"username": "x", "password": "y"}, headers={"accept": "text/html"})
    assert r.status_code == 401 and "Wrong username" in r.text


def test_sign_in_is_rate_limited_per_ip(platform: Platform, client: TestClient) -> None:
    anon = As(client)
    codes = [anon.post("/api/v1/auth/signin", json={"username": f"u{i}", "password": "x"}).status_code
             for i in range(25)]
    assert 429 in codes
    r = anon.post("/api/v1/auth/signin", json={"username": "u", "password": "x"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert r.json()["error"]["code"] == "rate_limited"
