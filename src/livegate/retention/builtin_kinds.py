"""The kinds that exist in the core and media domains today (see :mod:`.kinds`).

| kind              | records                                   | dated by            | period        |
|-------------------|-------------------------------------------|---------------------|---------------|
| recordings        | archived FLV recordings and their indexes | end of the stream   | default (60)  |
| segments          | HLS segments, replay playlists, markers   | end of the stream   | default (60)  |
| stream_sessions   | one row per accepted publish              | end of the stream   | default, >= media |
| publish_attempts  | every publish attempt, with the peer IP   | time of the attempt | network logs (180) |
| web_sessions      | signed-in browsers: IP, user agent        | sign-in time        | network logs (180) |
| account_log       | sign-ins, failures, verification events   | time of the event   | network logs (180) |
| control_orders    | cut-off and other orders to every node    | time of the order   | default (60)  |
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from livegate.core.models import ControlOrder, WebSession
from livegate.media.models import PublishAttempt, Room, StreamSession
from livegate.retention.kinds import ExportScope, HeldScopes, PolicyClass, PurgeContext, TableKind
from livegate.retention.models import AccountLogEntry, StoredObject
from livegate.retention.storage import ObjectStorage

log = logging.getLogger(__name__)

_SESSION_FILE = re.compile(
    r"^(?:(?P<seg>[A-Za-z0-9][A-Za-z0-9_-]{0,63})-\d+\.ts"
    r"|replay-(?P<replay>[A-Za-z0-9][A-Za-z0-9_-]{0,63})\.m3u8"
    r"|(?:WITHDRAWN|CUTOFF)-(?P<marker>[A-Za-z0-9][A-Za-z0-9_-]{0,63}))$"
)


def recording_kind(storage: ObjectStorage) -> TableKind:
    def drop_objects(s: Session, rows: Sequence[Any]) -> int:
        freed = 0
        for row in rows:
            storage.delete(row.key)
            freed += int(row.size or 0)
        return freed

    return TableKind(
        "recordings", StoredObject, "recorded_at", description="stream recordings (FLV) and their indexes",
        room_column="room_id", account_column="account_id", order=10,
        where=lambda t: t.c.kind.in_(("recording", "recording_index")), on_delete=drop_objects,
        exportable=False,
    )


class SegmentKind:
    """HLS segments, replay playlists and markers of sessions that ended long enough ago.

    These are the public copies (the recording is the retention copy); they go with the
    same period so a replay is not kept longer than the record behind it.
    """

    name = "segments"
    policy_class: PolicyClass = "default"
    description = "HLS segments, replay playlists and markers of ended streams"
    order = 20
    outlives: tuple[str, ...] = ()

    def _files(self, ctx: PurgeContext, cutoff: dt.datetime, held: HeldScopes) -> Iterator[tuple[Path, bool]]:
        """(file, held) for every file of a session that ended before ``cutoff``."""
        with ctx.session_factory() as s:
            rows = s.execute(select(StreamSession.id, StreamSession.room_id)
                             .where(StreamSession.ended_at < cutoff)).all()
        by_room: dict[str, set[str]] = {}
        for sid, room in rows:
            by_room.setdefault(room, set()).add(f"s{sid}")
        held_rooms = held.all_rooms()
        root: Path = ctx.media_root
        for room, sessions in by_room.items():
            for sub in ("hls", "held"):
                directory = root / sub / room
                try:
                    entries = os.scandir(directory)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                with entries:
                    for entry in entries:
                        m = _SESSION_FILE.match(entry.name)
                        if not m:
                            continue
                        session = m["seg"] or m["replay"] or m["marker"]
                        if session in sessions:
                            yield Path(entry.path), room in held_rooms

    def plan(self, ctx: PurgeContext, cutoff: dt.datetime) -> tuple[int, int, int]:
        due = size = kept = 0
        for path, held in self._files(ctx, cutoff, ctx.held):
            if held:
                kept += 1
                continue
            due += 1
            try:
                size += path.stat().st_size
            except FileNotFoundError:
                pass
        return due, size, kept

    def purge(self, ctx: PurgeContext, cutoff: dt.datetime) -> tuple[int, int]:
        n = size = 0
        for path, held in list(self._files(ctx, cutoff, ctx.held)):
            if held:
                continue
            try:
                st = path.stat()
                path.unlink()
            except FileNotFoundError:
                continue
            n += 1
            size += st.st_size
        return n, size

    def export(self, s: Session, scope: ExportScope, start: dt.datetime, end: dt.datetime) -> Iterator[dict[str, Any]]:
        return iter(())  # the recordings carry the media; segments are public copies


def builtin_kinds(storage: ObjectStorage) -> list[Any]:
    return [
        recording_kind(storage),
        SegmentKind(),
        TableKind("stream_sessions", StreamSession, "ended_at", description="accepted publishes (start, end, why)",
                  room_column="room_id", order=30, outlives=("recordings", "segments")),
        TableKind("publish_attempts", PublishAttempt, "at", policy_class="network_logs",
                  description="publish attempts with the peer address", room_column="room_id", order=40),
        TableKind("web_sessions", WebSession, "created_at", policy_class="network_logs",
                  description="signed-in browsers (IP, user agent)", account_column="account_id", order=40,
                  export_exclude=("token_hash", "csrf_token")),
        TableKind("account_log", AccountLogEntry, "at", policy_class="network_logs",
                  description="sign-ins, failures, verification events", account_column="account_id", order=40),
        TableKind("control_orders", ControlOrder, "created_at", description="cut-off and other orders",
                  room_column="target", order=40),
    ]


def rooms_owned_by(s: Session, accounts: frozenset[int]) -> frozenset[str]:
    if not accounts:
        return frozenset()
    return frozenset(s.scalars(select(Room.id).where(Room.owner_id.in_(sorted(accounts)))).all())
