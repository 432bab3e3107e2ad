"""Periodic jobs that run once across all nodes.

Each job has a row in ``scheduler_leases``. A node runs a job only after winning the row
with a conditional UPDATE (lease free or expired, and the interval since the last run
elapsed), so two nodes never run the same job for the same period. Time comes from the
clock passed in; tests call :meth:`Scheduler.tick` with a moved clock instead of waiting.

The running loop does not try every job every tick (a write per job per second, on every
node): it reads all leases in one query, tries only the jobs that could be due, and sleeps
until the earliest one can be (at most ``max_sleep_seconds``, so a job another node runs,
or a lease someone clears by hand, is seen within that time).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from livegate.core.clock import Clock
from livegate.core.db import Database
from livegate.core.models import SchedulerLease

log = logging.getLogger(__name__)

JobFn = Callable[[], Awaitable[str | None]]


@dataclass
class Job:
    name: str
    interval: dt.timedelta
    fn: JobFn
    lease: dt.timedelta = dt.timedelta(minutes=5)


class Scheduler:
    def __init__(self, db: Database, clock: Clock, node: str, *, tick_seconds: float = 1.0,
                 max_sleep_seconds: float = 30.0) -> None:
        self.db = db
        self.clock = clock
        self.node = node
        self.tick_seconds = tick_seconds
        self.max_sleep_seconds = max_sleep_seconds
        self.jobs: dict[str, Job] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, name: str, interval: dt.timedelta, fn: JobFn, lease: dt.timedelta | None = None) -> None:
        if name in self.jobs:
            raise ValueError(f"job {name!r} registered twice")
        self.jobs[name] = Job(name, interval, fn, lease or max(interval, dt.timedelta(minutes=1)))

    def _try_acquire(self, job: Job) -> bool:
        now = self.clock.now()
        with self.db.session() as s:
            if s.get(SchedulerLease, job.name) is None:
                try:
                    with s.begin_nested():
                        s.add(SchedulerLease(job=job.name, holder="", lease_until=now, last_run_at=None))
                except IntegrityError:
                    pass
            res = s.execute(
                update(SchedulerLease)
                .where(
                    SchedulerLease.job == job.name,
                    or_(SchedulerLease.lease_until <= now, SchedulerLease.holder == ""),
                    or_(SchedulerLease.last_run_at.is_(None), SchedulerLease.last_run_at <= now - job.interval),
                )
                .values(holder=self.node, lease_until=now + job.lease)
            )
            return bool(res.rowcount)  # type: ignore[attr-defined]

    def _release(self, job: Job, status: str) -> None:
        now = self.clock.now()
        with self.db.session() as s:
            s.execute(
                update(SchedulerLease)
                .where(SchedulerLease.job == job.name, SchedulerLease.holder == self.node)
                .values(holder="", lease_until=now, last_run_at=now, last_status=status[:255])
            )

    def _due_jobs(self) -> tuple[list[Job], float]:
        """Jobs that may be due now (by their lease rows), and seconds until the next may be."""
        now = self.clock.now()
        table = SchedulerLease.__table__
        with self.db.read() as conn:
            rows = {r.job: r for r in conn.execute(select(table).where(table.c.job.in_(list(self.jobs))))}
        due: list[Job] = []
        wait = self.max_sleep_seconds
        for job in self.jobs.values():
            row = rows.get(job.name)
            if row is None:
                due.append(job)
                continue
            ready_at = now
            if row.last_run_at is not None:
                ready_at = max(ready_at, row.last_run_at + job.interval)
            if row.holder:
                ready_at = max(ready_at, row.lease_until)
            if ready_at <= now:
                due.append(job)
            else:
                wait = min(wait, (ready_at - now).total_seconds())
        return due, max(self.tick_seconds, wait)

    async def tick(self, jobs: list[Job] | None = None) -> list[str]:
        """Run every due job this node wins (of ``jobs``, default all); return their names."""
        ran: list[str] = []
        for job in list(self.jobs.values()) if jobs is None else jobs:
            if not await asyncio.to_thread(self._try_acquire, job):
                continue
            try:
                status = await job.fn() or "ok"
            except Exception as exc:  # a failing job must not stop the others
                log.exception("scheduled job %s failed", job.name)
                status = f"error: {type(exc).__name__}"
            await asyncio.to_thread(self._release, job, status)
            ran.append(job.name)
        return ran

    def status(self) -> list[SchedulerLease]:
        with self.db.session() as s:
            return list(s.scalars(select(SchedulerLease).order_by(SchedulerLease.job)))

    async def _loop(self) -> None:
        while True:
            wait = self.tick_seconds
            try:
                due, wait = await asyncio.to_thread(self._due_jobs)
                if due:
                    await self.tick(due)
                    wait = self.tick_seconds  # look again soon: a job may have lost a race
            except Exception:
                log.exception("scheduler tick failed")
            await asyncio.sleep(wait)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
