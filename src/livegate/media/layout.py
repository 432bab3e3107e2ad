"""Where the media pipeline puts things, and what an HTTP node must answer for them.

Every node that shares the storage root can serve a room, so the files themselves carry
the state; no node keeps it in memory::

    <root>/hls/<room>/index.m3u8               live playlist (sliding window; ENDLIST once over)
    <root>/hls/<room>/<session>-<seq>.ts       published MPEG-TS segments
    <root>/hls/<room>/mark.png                 the platform mark (overlay mode: the player draws it)
    <root>/hls/<room>/replay-<session>.m3u8    VOD playlist of a finished live (same segments)
    <root>/hls/<room>/CUTOFF                   JSON {"at", "reason", "session"}: the live was cut off
    <root>/hls/<room>/CUTOFF-<session>         an earlier session's cut-off marker, kept when a new
                                               session starts in the room
    <root>/hls/<room>/WITHDRAWN-<session>      JSON {"at", "reason", "session"}: replay withdrawn
    <root>/held/<room>/<session>-<seq>.ts      finished segments waiting out the broadcast delay;
                                               never served
    <root>/recordings/<room>/<session>.flv     everything the publisher sent, as FLV (retention)
    <root>/recordings/<room>/<session>.json    recording index (times, end reason, keyframes)

Playlists and markers are written to a temporary name and renamed over the target, and a
segment is renamed from ``held/`` into ``hls/`` only once complete, so a reader on any node
sees either the old file or the new one, never half of one.

HTTP routes call :func:`gone` for every file under ``/hls/<room>/`` and answer 410 with its
reason when it returns one: the playlist and the segments of a cut-off session, and a
withdrawn replay with its segments.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livegate.media.settings import check_id

PLAYLIST_NAME = "index.m3u8"
CUTOFF_NAME = "CUTOFF"
MARK_NAME = "mark.png"
_SEGMENT_RE = re.compile(r"^(?P<session>[A-Za-z0-9][A-Za-z0-9_-]{0,63})-(?P<seq>\d+)\.ts$")
_REPLAY_RE = re.compile(r"^replay-(?P<session>[A-Za-z0-9][A-Za-z0-9_-]{0,63})\.m3u8$")


@dataclass(frozen=True, slots=True)
class MediaLayout:
    """Paths under one storage root; room and session ids are checked to be file-name safe."""

    root: Path

    def hls_dir(self, room: str) -> Path:
        return self.root / "hls" / check_id("room", room)

    def held_dir(self, room: str) -> Path:
        return self.root / "held" / check_id("room", room)

    def recordings_dir(self, room: str) -> Path:
        return self.root / "recordings" / check_id("room", room)

    def playlist(self, room: str) -> Path:
        return self.hls_dir(room) / PLAYLIST_NAME

    @staticmethod
    def segment_name(session: str, seq: int) -> str:
        return f"{check_id('session', session)}-{seq}.ts"

    def segment(self, room: str, session: str, seq: int) -> Path:
        return self.hls_dir(room) / self.segment_name(session, seq)

    def held_segment(self, room: str, session: str, seq: int) -> Path:
        return self.held_dir(room) / self.segment_name(session, seq)

    def mark_image(self, room: str) -> Path:
        return self.hls_dir(room) / MARK_NAME

    def cutoff_marker(self, room: str) -> Path:
        return self.hls_dir(room) / CUTOFF_NAME

    def old_cutoff_marker(self, room: str, session: str) -> Path:
        return self.hls_dir(room) / f"{CUTOFF_NAME}-{check_id('session', session)}"

    def replay_playlist(self, room: str, session: str) -> Path:
        return self.hls_dir(room) / f"replay-{check_id('session', session)}.m3u8"

    def withdrawn_marker(self, room: str, session: str) -> Path:
        return self.hls_dir(room) / f"WITHDRAWN-{check_id('session', session)}"

    def recording(self, room: str, session: str) -> Path:
        return self.recordings_dir(room) / f"{check_id('session', session)}.flv"

    def recording_index(self, room: str, session: str) -> Path:
        return self.recordings_dir(room) / f"{check_id('session', session)}.json"

    def session_segments(self, room: str, session: str) -> list[Path]:
        """Published segments of one session, in sequence order."""
        found: list[tuple[int, Path]] = []
        directory = self.hls_dir(room)
        if not directory.is_dir():
            return []
        for path in directory.iterdir():
            m = _SEGMENT_RE.match(path.name)
            if m and m["session"] == session:
                found.append((int(m["seq"]), path))
        return [p for _, p in sorted(found)]


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with open(tmp, "wb") as fh:
            fh.write(raw)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_marker(path: Path, *, at: dt.datetime, reason: str, session: str) -> dict[str, Any]:
    body = {"at": at.isoformat(), "reason": reason, "session": session}
    atomic_write(path, json.dumps(body, ensure_ascii=False, sort_keys=True))
    return body


def read_marker(path: Path) -> dict[str, Any] | None:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        # A marker that exists but cannot be read still means "gone": fail closed.
        return {"at": None, "reason": "unreadable marker", "session": None}
    return body if isinstance(body, dict) else {"at": None, "reason": "unreadable marker", "session": None}


def gone(root: Path, room: str, filename: str) -> dict[str, Any] | None:
    """Why ``/hls/<room>/<filename>`` must be answered with 410, or ``None`` if it may be served.

    The answer is a marker's JSON plus ``"kind"``: ``"cutoff"`` or ``"withdrawn"``.
    """
    layout = MediaLayout(root)
    live_marker = read_marker(layout.cutoff_marker(room))
    if filename == PLAYLIST_NAME:
        return {**live_marker, "kind": "cutoff"} if live_marker else None
    m = _SEGMENT_RE.match(filename) or _REPLAY_RE.match(filename)
    if not m:
        return None
    session = m["session"]
    withdrawn = read_marker(layout.withdrawn_marker(room, session))
    if withdrawn:
        return {**withdrawn, "kind": "withdrawn"}
    if _REPLAY_RE.match(filename):
        return None
    if live_marker and live_marker.get("session") in (session, None):
        return {**live_marker, "kind": "cutoff"}
    old = read_marker(layout.old_cutoff_marker(room, session))
    if old:
        return {**old, "kind": "cutoff"}
    return None
