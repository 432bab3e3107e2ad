"""Fixtures of the enforcement tests: a platform on a manual clock, staff and publishers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from livegate.app import Platform, create_app
from livegate.config import Settings
from livegate.core.clock import ManualClock
from tests.conftest import make_platform


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC))


@pytest.fixture
def platform(settings: Settings, clock: ManualClock) -> Iterator[Platform]:
    p = make_platform(settings, clock=clock, start_rtmp=False)
    yield p
    p.close()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c
