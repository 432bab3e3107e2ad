"""Playlist text, the delay line and the on-disk layout, without media."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from livegate.core.errors import ValidationFailed
from livegate.media.delay import DelayLine
from livegate.media.hls import DateRange, LivePlaylist, PlaylistSegment, format_date, render_playlist, target_duration
from livegate.media.layout import MediaLayout, gone, write_marker
from livegate.media.settings import MediaSettings

T0 = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


def seg(seq: int, duration: float = 2.0) -> PlaylistSegment:
    return PlaylistSegment(uri=f"s-{seq}.ts", duration=duration,
                           program_date_time=T0 + dt.timedelta(seconds=2 * seq), sequence=seq)


def test_playlist_text() -> None:
    text = render_playlist([seg(4), seg(5, 1.5)], target=2, ended=False,
                           dateranges=(DateRange("mark-s", T0, "com.livegate.mark", (("room", "12"),)),))
    lines = text.splitlines()
    assert lines[:5] == ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:4",
                         "#EXT-X-INDEPENDENT-SEGMENTS"]
    daterange = '#EXT-X-DATERANGE:ID="mark-s",CLASS="com.livegate.mark",START-DATE="2026-01-01T12:00:00.000Z"'
    assert daterange + ',X-ROOM="12"' in lines
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:08.000Z" in lines
    assert lines[-2:] == ["#EXTINF:1.500,", "s-5.ts"]
    assert "#EXT-X-ENDLIST" not in text
    assert render_playlist([seg(1)], target=2, ended=True).endswith("#EXT-X-ENDLIST\n")


def test_dates_are_utc_with_milliseconds() -> None:
    cet = dt.timezone(dt.timedelta(hours=8))
    assert format_date(dt.datetime(2026, 1, 1, 20, 0, 0, 123456, tzinfo=cet)) == "2026-01-01T12:00:00.123Z"


def test_target_duration_rounds_as_the_rfc_says() -> None:
    assert target_duration([1.0, 1.4], 1.0) == 1
    assert target_duration([1.0, 1.6], 1.0) == 2
    assert target_duration([], 2.0) == 2
    assert target_duration([0.4], 0.5) == 1


def test_live_playlist_slides_and_ends(tmp_path: Path) -> None:
    path = tmp_path / "index.m3u8"
    playlist = LivePlaylist(path, window=3, segment_seconds=2.0)
    evicted = []
    for i in range(5):
        evicted += playlist.add(seg(i))
    assert [e.sequence for e in evicted] == [0, 1]
    text = path.read_text()
    assert "#EXT-X-MEDIA-SEQUENCE:2" in text and "s-1.ts" not in text and "s-4.ts" in text
    assert text.count("#EXT-X-PROGRAM-DATE-TIME:") == 3
    playlist.end()
    assert path.read_text().endswith("#EXT-X-ENDLIST\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.m3u8"]  # no temporary files left
    with pytest.raises(RuntimeError):
        playlist.add(seg(9))


def test_delay_line_releases_in_order_and_drops_on_cutoff() -> None:
    line: DelayLine[str] = DelayLine(10)
    line.hold("a", T0)
    line.hold("b", T0 + dt.timedelta(seconds=1))
    line.hold("c", T0 - dt.timedelta(seconds=5))  # a clock step back does not overtake
    assert line.due(T0 + dt.timedelta(seconds=9.999)) == []
    assert line.due(T0 + dt.timedelta(seconds=10)) == ["a"]
    assert line.next_due() == T0 + dt.timedelta(seconds=11)
    assert line.drop_all() == ["b", "c"]
    assert line.due(T0 + dt.timedelta(days=1)) == []
    with pytest.raises(ValueError):
        DelayLine(301)


def test_settings_are_validated() -> None:
    with pytest.raises(ValidationFailed):
        MediaSettings(delay_seconds=301)
    with pytest.raises(ValidationFailed):
        MediaSettings(mark_mode="blur")  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed):
        MediaLayout(Path("/x")).hls_dir("../etc")


def test_gone_answers_for_cut_off_and_withdrawn_sessions(tmp_path: Path) -> None:
    layout = MediaLayout(tmp_path)
    assert gone(tmp_path, "r1", "index.m3u8") is None
    write_marker(layout.cutoff_marker("r1"), at=T0, reason="violence", session="s1")
    assert gone(tmp_path, "r1", "index.m3u8") == {"at": T0.isoformat(), "reason": "violence", "session": "s1",
                                                   "kind": "cutoff"}
    assert gone(tmp_path, "r1", "s1-3.ts")["kind"] == "cutoff"  # type: ignore[index]
    assert gone(tmp_path, "r1", "s2-3.ts") is None
    assert gone(tmp_path, "r1", "mark.png") is None
    write_marker(layout.withdrawn_marker("r1", "s0"), at=T0, reason="complaint upheld", session="s0")
    assert gone(tmp_path, "r1", "replay-s0.m3u8")["kind"] == "withdrawn"  # type: ignore[index]
    assert gone(tmp_path, "r1", "s0-0.ts")["reason"] == "complaint upheld"  # type: ignore[index]
    layout.cutoff_marker("r1").write_text("{not json")
    assert gone(tmp_path, "r1", "index.m3u8")["reason"] == "unreadable marker"  # type: ignore[index]
    assert json.loads(layout.withdrawn_marker("r1", "s0").read_text())["session"] == "s0"
