"""Time as a dependency.

Everything that depends on the time takes a :class:`Clock`; production code uses
:class:`SystemClock`, tests use :class:`ManualClock` and move it.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""

    def monotonic(self) -> float:
        """Seconds on a monotonic scale, for intervals and timeouts."""


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        self._mono = 1000.0

    def now(self) -> dt.datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float = 0.0, **kwargs: float) -> None:
        delta = dt.timedelta(seconds=seconds, **kwargs)
        self._now += delta
        self._mono += delta.total_seconds()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
