"""Fixtures for complaints tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from livegate.app import Platform, create_app
from livegate.config import Settings
from livegate.core.clock import ManualClock
from tests.complaints.helpers import use_complaints_policy
from tests.conftest import make_platform


@pytest.fixture
def clocked(settings: Settings) -> Iterator[tuple[Platform, ManualClock, TestClient]]:
    """A platform on a manual clock (SLA timers, retention periods) with cheap proof of work."""
    clock = ManualClock(dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC))
    p = make_platform(settings, clock=clock)
    use_complaints_policy(p, intake={"challenge_bits": 4})
    with TestClient(create_app(p)) as c:
        yield p, clock, c
    p.close()
