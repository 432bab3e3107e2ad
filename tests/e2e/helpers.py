"""Helpers for end-to-end media tests: a policy tuned for small fast streams, publishers,
rooms, and waiting on pipeline events (never on the clock)."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from livegate.app import Platform
from livegate.core import policy as policy_mod
from livegate.core.permissions import Role
from livegate.core.policy import parse_policy
from livegate.media.pipeline import PublishedSegment, StreamEnded
from tests.conftest import create_account

FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"


def use_policy(platform: Platform, **category_overrides: dict[str, Any]) -> None:
    """Swap in the default policy with per-category overrides, e.g. education={"watermark_mode": "burn"}."""
    text = (Path(policy_mod.__file__).parent / "default_policy.yaml").read_text()
    doc = yaml.safe_load(text)
    for cat, changes in category_overrides.items():
        doc["categories"][cat].update(changes)
    platform.policy.swap(parse_policy(yaml.safe_dump(doc, allow_unicode=True), source="test"))


def make_room(platform: Platform, username: str = "streamer", category: str = "education",
              title: str = "Test pattern") -> tuple[str, str]:
    """A publisher with a room; returns (room id, stream key)."""
    from livegate.identity.accounts import Principal  # noqa: F401  (keeps import order stable)

    make_publisher = _publisher_factory()
    account_id = make_publisher(platform, username)
    with platform.db.session() as s:
        owner = platform.accounts.get(s, account_id)
        room, key = platform.rooms.create(s, owner, title=title, category=category, actor="test")
        return room.id, key


def _publisher_factory() -> Any:
    try:
        from tests.identity.helpers import make_verified_publisher  # issue 4's gates

        def make(platform: Platform, username: str) -> int:
            return int(make_verified_publisher(platform, username))

        return make
    except ImportError:
        def make_plain(platform: Platform, username: str) -> int:
            return create_account(platform, username, Role.PUBLISHER)

        return make_plain


@dataclass
class StreamWatch:
    """Collects pipeline events of one platform; tests wait on them."""

    segments: list[PublishedSegment] = field(default_factory=list)
    ended: list[StreamEnded] = field(default_factory=list)
    recorded: list[tuple[str, int]] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def attach(self, platform: Platform) -> StreamWatch:
        platform.media.segment_listeners.append(self._segment)
        platform.media.ended_listeners.append(self._ended)
        platform.media.recorded_listeners.append(self._recorded)
        return self

    def _recorded(self, room: str, session_id: int) -> None:
        with self._cond:
            self.recorded.append((room, session_id))
            self._cond.notify_all()

    def wait_recorded(self, room: str, timeout: float = 60) -> int:
        """Wait until the node has written the end of the room's session to the database."""
        with self._cond:
            assert self._cond.wait_for(lambda: any(r == room for r, _ in self.recorded), timeout)
            return next(sid for r, sid in self.recorded if r == room)

    def _segment(self, seg: PublishedSegment) -> None:
        with self._cond:
            self.segments.append(seg)
            self._cond.notify_all()

    def _ended(self, ended: StreamEnded) -> None:
        with self._cond:
            self.ended.append(ended)
            self._cond.notify_all()

    def wait_segments(self, n: int, room: str | None = None, timeout: float = 60) -> list[PublishedSegment]:
        with self._cond:
            ok = self._cond.wait_for(
                lambda: len([s for s in self.segments if room is None or s.room == room]) >= n, timeout)
            assert ok, f"only {len(self.segments)} segments after {timeout}s"
            return [s for s in self.segments if room is None or s.room == room]

    def wait_ended(self, room: str, timeout: float = 60) -> StreamEnded:
        with self._cond:
            ok = self._cond.wait_for(lambda: any(e.room == room for e in self.ended), timeout)
            assert ok, "stream did not end"
            return next(e for e in self.ended if e.room == room)


def ffmpeg_publish(url: str, *, seconds: int = 60, size: str = "320x240", audio: bool = True,
                   video: bool = True) -> subprocess.Popen[bytes]:
    args = [FFMPEG, "-hide_banner", "-loglevel", "info", "-re"]
    if video:
        args += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    if video:
        args += ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "64k"]
    args += ["-t", str(seconds), "-f", "flv", url]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def playlist_segments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def media_sequence(text: str) -> int:
    m = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
    return int(m.group(1)) if m else 0
