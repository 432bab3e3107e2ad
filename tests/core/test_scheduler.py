from __future__ import annotations

import datetime as dt

from livegate.config import Settings
from livegate.core.clock import ManualClock
from livegate.core.db import Database
from livegate.core.migrate import upgrade
from livegate.core.scheduler import Scheduler


async def test_a_job_runs_once_across_nodes_per_interval(settings: Settings) -> None:
    db = Database(settings.effective_database_url)
    upgrade(db)
    clock = ManualClock()
    runs: list[str] = []

    def job(node: str):  # type: ignore[no-untyped-def]
        async def fn() -> str:
            runs.append(node)
            return "done"
        return fn

    a = Scheduler(db, clock, "node-a")
    b = Scheduler(db, clock, "node-b")
    a.add("purge", dt.timedelta(hours=1), job("a"))
    b.add("purge", dt.timedelta(hours=1), job("b"))
    assert await a.tick() == ["purge"]
    assert await b.tick() == []
    clock.advance(minutes=59)
    assert await a.tick() == [] and await b.tick() == []
    clock.advance(minutes=2)
    assert await b.tick() == ["purge"]
    assert await a.tick() == []
    assert runs == ["a", "b"]
    status = a.status()
    assert status[0].last_status == "done"
    db.dispose()


async def test_a_failing_job_is_recorded_and_others_still_run(settings: Settings) -> None:
    db = Database(settings.effective_database_url)
    upgrade(db)
    clock = ManualClock()
    ran: list[str] = []

    async def boom() -> str:
        raise ValueError("nope")

    async def fine() -> None:
        ran.append("fine")

    s = Scheduler(db, clock, "n")
    s.add("boom", dt.timedelta(minutes=1), boom)
    s.add("fine", dt.timedelta(minutes=1), fine)
    assert await s.tick() == ["boom", "fine"]
    assert ran == ["fine"]
    assert {x.job: x.last_status for x in s.status()}["boom"] == "error: ValueError"
    db.dispose()
