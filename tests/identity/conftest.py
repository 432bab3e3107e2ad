"""Fixtures of the identity tests: a platform on a manual clock, and signed-in clients."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from livegate.app import Platform, create_app
from livegate.config import Settings
from livegate.core.clock import ManualClock
from livegate.core.permissions import Role
from tests.conftest import As, create_account, make_platform, sign_in


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC))


@pytest.fixture
def platform(settings: Settings, clock: ManualClock) -> Iterator[Platform]:
    p = make_platform(settings, clock=clock)
    yield p
    p.close()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c


@pytest.fixture
def reviewer(platform: Platform, client: TestClient) -> As:
    create_account(platform, "rev-1", Role.REVIEWER)
    return sign_in(client, "rev-1")


@pytest.fixture
def admin(platform: Platform, client: TestClient) -> As:
    create_account(platform, "admin-1", Role.ADMINISTRATOR)
    return sign_in(client, "admin-1")


def signup(client: TestClient, username: str, nickname: str | None = None) -> As:
    anon = As(client)
    r = anon.post("/api/v1/auth/signup", json={"username": username, "nickname": nickname or f"nick-{username}",
                                                "password": "correct horse battery"})
    assert r.status_code == 201, r.text
    return As(client, r.cookies.get("lg_session"), r.json()["csrf_token"])


def error_code(r: Any) -> str:
    return str(r.json()["error"]["code"])
