"""Replays: a finished live offered again as video on demand, and withdrawn on order.

A replay is a VOD playlist (``replay-<session>.m3u8``) over the very segments viewers saw
live, so it carries the same mark (burned in, or announced in the playlist) and costs no
re-encode. It is written only when a live ended normally; a cut-off live has none.

Withdrawing (a review decision, a complaint upheld, a legal order) writes a
``WITHDRAWN-<session>`` marker first, so every node answers 410 at once, then deletes the
playlist and the session's segments. The recording is untouched: it is the retention
copy, governed by the retention policy, not by what the public may see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from livegate.media.errors import ReplayNotFound, ReplayWithdrawn
from livegate.media.hls import PlaylistSegment, render_playlist, target_duration
from livegate.media.layout import MediaLayout, atomic_write, read_marker, write_marker


class _Published(Protocol):
    @property
    def seq(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def duration(self) -> float: ...

    @property
    def program_date_time(self) -> dt.datetime: ...


@dataclass(frozen=True, slots=True)
class Withdrawal:
    room: str
    session: str
    at: dt.datetime
    reason: str
    segments_deleted: int


def write_replay(layout: MediaLayout, room: str, session: str, segments: Sequence[_Published], *,
                 segment_seconds: float) -> Path:
    """Write the VOD playlist of a finished live over its published segments."""
    entries = [PlaylistSegment(uri=s.name, duration=s.duration, program_date_time=s.program_date_time,
                               sequence=s.seq) for s in segments]
    text = render_playlist(
        entries,
        target=target_duration([e.duration for e in entries], segment_seconds),
        ended=True,
        vod=True,
    )
    path = layout.replay_playlist(room, session)
    atomic_write(path, text)
    return path


def replay_playlist(root: Path, room: str, session: str) -> Path:
    """The replay's playlist path; :class:`ReplayWithdrawn` (410) or :class:`ReplayNotFound` (404)."""
    layout = MediaLayout(root)
    marker = read_marker(layout.withdrawn_marker(room, session))
    if marker is not None:
        raise ReplayWithdrawn(room=room, session=session, reason=marker.get("reason"), at=marker.get("at"))
    path = layout.replay_playlist(room, session)
    if not path.is_file():
        raise ReplayNotFound(room=room, session=session)
    return path


def withdraw_replay(root: Path, room: str, session: str, *, reason: str, at: dt.datetime) -> Withdrawal:
    """Take a replay down everywhere: marker first (410 on every node), then the files."""
    layout = MediaLayout(root)
    playlist = layout.replay_playlist(room, session)
    segments = layout.session_segments(room, session)
    if read_marker(layout.withdrawn_marker(room, session)) is None and not playlist.exists() and not segments:
        raise ReplayNotFound(room=room, session=session)
    write_marker(layout.withdrawn_marker(room, session), at=at, reason=reason, session=session)
    playlist.unlink(missing_ok=True)
    for path in segments:
        path.unlink(missing_ok=True)
    return Withdrawal(room=room, session=session, at=at, reason=reason, segments_deleted=len(segments))
