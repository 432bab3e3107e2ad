"""Purge cost: 1,000,000 comments and 50,000 HLS segments, against the bare minimum.

* Comments: rows in the real ``chat_messages`` table (issue 5's), 100 rooms, all 61 days
  old, one room (1%) under a legal hold. **Ours**: ``p.retention.purge`` for the
  ``chat_messages`` kind (keyset batches of 5,000 rows, each its own short transaction, holds
  honoured). **Reference**: one ``DELETE FROM chat_messages WHERE created_at < ?`` on an
  identical copy of the database (one long transaction, no holds) — the floor.
  If the chat table is absent in this build, a synthetic table of the same shape is used
  (the output says which).
* Segments: 50 ended sessions x 1,000 segments (188-byte files, 10 rooms), all 61 days old.
  **Ours**: the ``segments`` kind (per-room directory scan matched against the expired
  sessions). **Reference**: ``shutil.rmtree`` of an identical copy of the tree.

SQLite in a temporary data dir, on this machine's disk.
Run: ``.venv/bin/python bench/bench_purge.py [--comments N] [--segments N]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, select

from livegate.app import Platform
from livegate.config import Settings
from livegate.core.clock import ManualClock
from livegate.core.db import Base
from livegate.core.permissions import Role
from livegate.media.models import StreamSession
from livegate.retention.kinds import TableKind

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def platform(data: Path, clock: ManualClock) -> Platform:
    p = Platform(Settings(data_dir=data, secret_key="bench-" + "x" * 30), clock=clock, start_rtmp=False)
    p.migrate()
    return p


def comments_table(p: Platform) -> tuple[Table, str]:
    import livegate.models_registry  # noqa: F401

    table = Base.metadata.tables.get("chat_messages")
    if table is not None:
        return table, "chat_messages (issue 5's table)"
    md = MetaData()
    synth = Table("bench_chat_messages", md, Column("id", Integer, primary_key=True),
                  Column("room_id", String(16)), Column("account_id", Integer), Column("body", Text),
                  Column("status", String(16)), Column("created_at", DateTime(timezone=True)))
    md.create_all(p.db.engine)
    p.retention.register(TableKind("chat_messages", synth, "created_at", room_column="room_id",
                                   account_column="account_id"))
    return synth, "bench_chat_messages (synthetic, same shape: the chat table is absent)"


def fill_comments(p: Platform, n: int) -> tuple[Table, str, list[str]]:
    with p.db.session() as s:
        owner = p.accounts.create(s, username="bench-owner", password="correct horse battery",
                                  roles=[(Role.PUBLISHER, None)], actor="bench")
        rooms = [p.rooms.create(s, owner, title=f"r{i}", category="other", actor="bench", room_id=f"{200000 + i}")[0].id
                 for i in range(100)]
        viewer = p.accounts.create(s, username="bench-viewer", password="correct horse battery",
                                   roles=[(Role.AUDIENCE, None)], actor="bench").id
    table, label = comments_table(p)
    defaults: dict[str, object] = {}
    for c in table.c:
        if not c.nullable and c.default is None and not c.primary_key and c.name not in (
                "room_id", "body", "status", "created_at"):
            defaults[c.name] = {"JSON": {}, "Boolean": False}.get(type(c.type).__name__, "")
    chunk = 50_000
    with p.db.engine.begin() as conn:
        for start in range(0, n, chunk):
            rows = [{**defaults, "room_id": rooms[i % 100], "account_id": viewer, "body": f"弹幕 {i} 666",
                     "status": "published", "created_at": T0 + dt.timedelta(seconds=i % 86400)}
                    for i in range(start, min(n, start + chunk))]
            conn.execute(table.insert(), rows)
    return table, label, rooms


def fill_segments(p: Platform, n: int) -> tuple[int, Path]:
    per_session = 1000
    sessions = max(n // per_session, 1)
    with p.db.session() as s:
        owner = p.accounts.create(s, username="seg-owner", password="correct horse battery",
                                  roles=[(Role.PUBLISHER, None)], actor="bench")
        rooms = [p.rooms.create(s, owner, title=f"s{i}", category="other", actor="bench", room_id=f"{300000 + i}")[0]
                 for i in range(10)]
        ids = []
        for i in range(sessions):
            ss = StreamSession(room_id=rooms[i % 10].id, node="bench", started_at=T0, ended_at=T0, end_reason="ok",
                               cut_off=False, mark_mode="overlay", delay_seconds=0, recording_path="")
            s.add(ss)
            s.flush()
            ids.append((ss.id, ss.room_id))
    root = p.settings.data_dir / "media" / "hls"
    payload = b"\x47" * 188
    count = 0
    for sid, room in ids:
        d = root / room
        d.mkdir(parents=True, exist_ok=True)
        for seq in range(per_session):
            (d / f"s{sid}-{seq}.ts").write_bytes(payload)
            count += 1
    return count, root


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--comments", type=int, default=1_000_000)
    ap.add_argument("--segments", type=int, default=50_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lg-bench-purge-"))
    try:
        clock = ManualClock(T0)
        p = platform(tmp / "data", clock)
        t = time.perf_counter()
        table, label, rooms = fill_comments(p, args.comments)
        print(f"filled {args.comments:,} comments into {label} in {time.perf_counter() - t:.1f}s")
        with p.db.session() as s:
            p.retention.place_hold(s, scope_type="room", scope_id=rooms[0], reason="bench hold", actor="bench")
        p.close()
        ref_db = tmp / "ref.db"
        shutil.copyfile(tmp / "data" / "livegate.db", ref_db)

        cutoff = T0 + dt.timedelta(days=1)
        con = sqlite3.connect(ref_db)
        t = time.perf_counter()
        with con:
            deleted_ref = con.execute(f"DELETE FROM {table.name} WHERE created_at < ?",  # noqa: S608
                                      (cutoff.replace(tzinfo=None).isoformat(sep=" "),)).rowcount
        ref_s = time.perf_counter() - t
        con.close()

        clock.advance(days=61)
        p = platform(tmp / "data", clock)
        if table.name != "chat_messages":
            p.retention.register(TableKind("chat_messages", table, "created_at", room_column="room_id",
                                           account_column="account_id"))
        t = time.perf_counter()
        report = p.retention.purge(kinds=["chat_messages"])
        ours_s = time.perf_counter() - t
        ours = {k.kind: k for k in report.kinds}["chat_messages"]
        with p.db.session() as s:
            left = len(s.execute(select(table.c.id).limit(20_000)).all())
        print(f"comments   reference (one DELETE, no holds): {deleted_ref:,} rows in {ref_s:.2f}s "
              f"({deleted_ref / ref_s:,.0f} rows/s)")
        print(f"comments   ours (batched, holds honoured):   {ours.count:,} rows in {ours_s:.2f}s "
              f"({ours.count / ours_s:,.0f} rows/s); {left:,} held rows kept")
        print(f"comments   ratio ours/reference: {ours_s / ref_s:.2f}x")

        clock.advance(days=-61)
        t = time.perf_counter()
        count, root = fill_segments(p, args.segments)
        ref_root = tmp / "ref-hls"
        shutil.copytree(root, ref_root)
        print(f"filled {count:,} segments (twice) in {time.perf_counter() - t:.1f}s")
        t = time.perf_counter()
        shutil.rmtree(ref_root)
        ref_s = time.perf_counter() - t
        clock.advance(days=61)
        t = time.perf_counter()
        report = p.retention.purge(kinds=["segments"])
        ours_s = time.perf_counter() - t
        seg = {k.kind: k for k in report.kinds}["segments"]
        print(f"segments   reference (rmtree): {count:,} files in {ref_s:.2f}s")
        print(f"segments   ours (segments kind): {seg.count:,} files in {ours_s:.2f}s")
        print(f"segments   ratio ours/reference: {ours_s / ref_s:.2f}x")
        p.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
