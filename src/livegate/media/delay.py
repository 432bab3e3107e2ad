"""The broadcast delay: finished segments wait here before viewers may have them.

The delay is the reviewers' window: a stream cut off while its segments are held is never
seen by anyone. Time is passed in (``now``), so a scheduler, the pipeline's own ticker or
a test with a :class:`~livegate.core.clock.ManualClock` decides when "later" is.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Held(Generic[T]):
    item: T
    due_at: dt.datetime


class DelayLine(Generic[T]):
    """FIFO of items, each released once ``now >= finished_at + delay``.

    The delay is constant per stream, so due times are ordered and release is from the
    head only. Not thread-safe; the pipeline holds its lock around it.
    """

    def __init__(self, delay_seconds: float) -> None:
        if not 0 <= delay_seconds <= 300:
            raise ValueError("delay must be between 0 and 300 seconds")
        self.delay = dt.timedelta(seconds=delay_seconds)
        self._held: deque[Held[T]] = deque()

    def __len__(self) -> int:
        return len(self._held)

    def __iter__(self) -> Iterator[Held[T]]:
        return iter(list(self._held))

    def hold(self, item: T, finished_at: dt.datetime) -> dt.datetime:
        due = finished_at + self.delay
        if self._held and due < self._held[-1].due_at:
            due = self._held[-1].due_at  # a clock stepping back must not reorder segments
        self._held.append(Held(item, due))
        return due

    def due(self, now: dt.datetime) -> list[T]:
        """Remove and return the items whose time has come, oldest first."""
        out: list[T] = []
        while self._held and self._held[0].due_at <= now:
            out.append(self._held.popleft().item)
        return out

    def next_due(self) -> dt.datetime | None:
        return self._held[0].due_at if self._held else None

    def drop_all(self) -> list[T]:
        """Cut-off: everything held is withdrawn, nothing is released."""
        out = [h.item for h in self._held]
        self._held.clear()
        return out
