"""Shared fixtures: a platform on SQLite (or PostgreSQL when LIVEGATE_TEST_DATABASE_URL is
set, one schema per test), the in-process broker (or Redis when LIVEGATE_TEST_REDIS_URL is
set), and HTTP clients signed in as each role."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from livegate.app import Platform, create_app
from livegate.config import Settings
from livegate.core.clock import ManualClock
from livegate.core.permissions import Role

PG_URL = os.environ.get("LIVEGATE_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("LIVEGATE_TEST_REDIS_URL", "")
PASSWORD = "correct horse battery"


def _pg_schema_url(schema: str) -> str:
    base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'livegate.db'}"
        return
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield _pg_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url, broker_url=REDIS_URL or "memory://",
        http_port=0, rtmp_port=0, node_name=f"test-{secrets.token_hex(3)}",
        redis_namespace=f"lgtest-{secrets.token_hex(4)}:", secret_key="test-secret-" + "x" * 20,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def make_platform(settings: Settings, **kw: Any) -> Platform:
    p = Platform(settings, **kw)
    p.migrate()
    return p


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    p = make_platform(settings)
    yield p
    p.close()


@pytest.fixture
def app(platform: Platform) -> Any:
    return create_app(platform)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def create_account(platform: Platform, username: str, role: Role, scope: str | None = None) -> int:
    with platform.db.session() as s:
        acc = platform.accounts.create(s, username=username, password=PASSWORD, roles=[(role, scope)],
                                       actor="test")
        return acc.id


class As:
    """One identity on a shared TestClient.

    Every test app has exactly one TestClient (one event loop: Redis connections are bound
    to the loop that made them); identities switch by swapping the cookie jar per request.
    """

    def __init__(self, client: TestClient, session: str | None = None, csrf: str = "") -> None:
        self.client = client
        self.session = session
        self.csrf = csrf

    def request(self, method: str, url: str, **kw: Any) -> Any:
        headers = dict(kw.pop("headers", None) or {})
        if self.csrf:
            headers.setdefault("x-csrf-token", self.csrf)
        self.client.cookies.clear()
        if self.session:
            self.client.cookies.set("lg_session", self.session)
        try:
            return self.client.request(method, url, headers=headers, **kw)
        finally:
            self.client.cookies.clear()

    def get(self, url: str, **kw: Any) -> Any:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> Any:
        return self.request("PUT", url, **kw)

    def delete(self, url: str, **kw: Any) -> Any:
        return self.request("DELETE", url, **kw)


def sign_in(client: TestClient, username: str, password: str = PASSWORD, **extra: Any) -> As:
    anon = As(client)
    r = anon.post("/api/v1/auth/signin", json={"username": username, "password": password, **extra})
    assert r.status_code == 200, r.text
    cookie = r.cookies.get("lg_session")
    assert cookie
    return As(client, cookie, r.json()["csrf_token"])


def sign_in_http(http: Any, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Sign in on a real HTTP client (httpx); returns the CSRF header for later unsafe calls."""
    r = http.post("/api/v1/auth/signin", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"x-csrf-token": r.json()["csrf_token"]}


@pytest.fixture
def admin(platform: Platform, client: TestClient) -> As:
    create_account(platform, "root-admin", Role.ADMINISTRATOR)
    return sign_in(client, "root-admin")


# Two compliance officers: four-eyes decisions (lawful requests, blacklist) need both.
@pytest.fixture
def officer(platform: Platform, client: TestClient) -> As:
    create_account(platform, "officer-1", Role.COMPLIANCE_OFFICER)
    return sign_in(client, "officer-1")


@pytest.fixture
def officer2(platform: Platform, client: TestClient) -> As:
    create_account(platform, "officer-2", Role.COMPLIANCE_OFFICER)
    return sign_in(client, "officer-2")
