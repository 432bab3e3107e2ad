from __future__ import annotations

from collections.abc import Iterator

import pytest

from livegate.app import Platform
from livegate.config import Settings
from livegate.core.clock import ManualClock
from tests.conftest import make_platform


@pytest.fixture
def rp(settings: Settings, clock: ManualClock) -> Iterator[Platform]:
    """A platform on a manual clock (for travelling 59 and 61 days ahead)."""
    p = make_platform(settings, clock=clock, start_rtmp=False)
    yield p
    p.close()
