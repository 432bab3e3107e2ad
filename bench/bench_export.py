"""Inspection export of one room-day, against copying and hashing the same bytes.

The room-day: 6 sessions, each a 60-second 640x360 H.264 FLV at ~2.5 Mbit/s (one encode,
copied), 20,000 comments in the room that day (when the chat table exists), sign-ins of
the owner, and the room's audit entries. **Ours**: ``p.retention.export_inspection``
(download from storage, MP4 remux with PyAV, JSONL records, SHA-256 manifest, Ed25519
signature, audit). **Reference**: ``shutil.copyfile`` of the recordings plus SHA-256 over
every copied byte — the I/O and hashing floor any signed bundle pays.
Run: ``.venv/bin/python bench/bench_export.py [--sessions N] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import shutil
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from livegate.app import Platform
from livegate.config import Settings
from livegate.core.clock import ManualClock
from livegate.core.db import Base
from livegate.core.permissions import Role
from livegate.retention.export import parse_period, verify_bundle
from livegate.retention.service import record_account_event

T0 = dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)


def encode(path: Path, seconds: int) -> None:
    rng = np.random.default_rng(7)
    fps = 25
    with av.open(str(path), "w", format="flv") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = 640, 360, "yuv420p"
        st.time_base = Fraction(1, fps)
        st.options = {"preset": "ultrafast", "b": "2500k", "maxrate": "2500k", "bufsize": "5000k", "g": "50"}
        base = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
        for i in range(seconds * fps):
            img = np.roll(base, i * 4, axis=1)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for pkt in st.encode(frame):
                out.mux(pkt)
        for pkt in st.encode(None):
            out.mux(pkt)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=6)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--comments", type=int, default=20_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lg-bench-export-"))
    try:
        clock = ManualClock(T0)
        p = Platform(Settings(data_dir=tmp / "data", secret_key="bench-" + "x" * 30), clock=clock, start_rtmp=False)
        p.migrate()
        src = tmp / "src.flv"
        t = time.perf_counter()
        encode(src, args.seconds)
        print(f"encoded a {args.seconds}s test recording ({src.stat().st_size / 1e6:.1f} MB) in "
              f"{time.perf_counter() - t:.1f}s")
        with p.db.session() as s:
            owner = p.accounts.create(s, username="bench-owner", password="correct horse battery",
                                      roles=[(Role.PUBLISHER, None)], actor="bench")
            room = p.rooms.create(s, owner, title="room-day", category="other", actor="bench")[0]
            room_id, owner_id = room.id, owner.id
        for i in range(args.sessions):
            clock.advance(minutes=60)
            with p.db.session() as s:
                ss = p.rooms.start_session(s, p.rooms.get(s, room_id), p.settings.node_name, "overlay", 0)
                sid = ss.id
                record_account_event(s, owner_id, "sign_in", at=clock.now(), ip=f"203.0.113.{i}", user_agent="OBS")
            rec = tmp / "data" / "media" / "recordings" / room_id / f"s{sid}.flv"
            rec.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, rec)
            rec.with_suffix(".json").write_text(f'{{"session": "s{sid}"}}')
            clock.advance(seconds=args.seconds)
            with p.db.session() as s:
                p.rooms.end_session(s, sid, "ended")
            p.retention.archive_session(sid)
        chat = Base.metadata.tables.get("chat_messages")
        if chat is not None:
            defaults: dict[str, object] = {}
            for c in chat.c:
                if not c.nullable and c.default is None and not c.primary_key and c.name not in (
                        "room_id", "body", "status", "created_at"):
                    defaults[c.name] = {"JSON": {}, "Boolean": False}.get(type(c.type).__name__, "")
            with p.db.engine.begin() as conn:
                conn.execute(chat.insert(), [{**defaults, "room_id": room_id, "body": f"弹幕 {i}",
                                              "status": "published", "created_at": T0 + dt.timedelta(seconds=i)}
                                             for i in range(args.comments)])
        recs = sorted((tmp / "data" / "media" / "recordings" / room_id).glob("*.flv"))
        total = sum(r.stat().st_size for r in recs)

        ref_dir = tmp / "ref"
        ref_dir.mkdir()
        t = time.perf_counter()
        for r in recs:
            dest = ref_dir / r.name
            shutil.copyfile(r, dest)
            h = hashlib.sha256()
            with open(dest, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
        ref_s = time.perf_counter() - t

        day = T0.date().isoformat()
        a, b = parse_period(day, day)
        t = time.perf_counter()
        result = p.retention.export_inspection(scope_type="room", scope_id=room_id, start=a, end=b,
                                               requester="bench", legal_basis="bench", actor="bench",
                                               out_dir=tmp / "bundle")
        ours_s = time.perf_counter() - t
        t = time.perf_counter()
        check = verify_bundle(tmp / "bundle")
        verify_s = time.perf_counter() - t
        assert check.ok, check.problems
        print(f"room-day: {len(recs)} recordings, {total / 1e6:.1f} MB, "
              f"{result.counts.get('chat_messages', 0):,} comments, {result.files} files in the bundle")
        print(f"reference (copy + SHA-256 of the recordings): {ref_s:.2f}s")
        print(f"ours (export_inspection, with MP4 remux + records + signature): {ours_s:.2f}s")
        print(f"ratio ours/reference: {ours_s / ref_s:.2f}x;  export verify: {verify_s:.2f}s")
        p.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
