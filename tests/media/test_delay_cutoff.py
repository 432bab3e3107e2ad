"""Broadcast delay and cut-off, driven by a ManualClock; nothing here sleeps."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import threading
from pathlib import Path

import av

from livegate.core.clock import ManualClock
from livegate.media.flv import read_messages
from livegate.media.layout import MediaLayout, gone
from livegate.media.pipeline import LiveStream, PublishedSegment, StreamCallbacks, StreamEnded, callbacks_on_loop
from livegate.media.settings import MediaSettings
from livegate.media.testpattern import PatternSpec, encode_flv, publish, publisher_metadata

SPEC = PatternSpec(seconds=4.0)
T0 = dt.datetime(2026, 5, 1, 20, 0, 0, tzinfo=dt.UTC)
WAIT = 60.0


def settings(delay: float) -> MediaSettings:
    return MediaSettings(segment_seconds=1.0, delay_seconds=delay, sample_interval_seconds=None,
                         audio_ident_interval_seconds=None)


def messages() -> list:
    return read_messages(encode_flv(SPEC))


def segment_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]


def test_no_segment_is_public_before_its_delay_has_passed(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    published: list[PublishedSegment] = []
    stream = LiveStream("7", "s1", settings(5), tmp_path, clock, StreamCallbacks(on_segment=published.append))
    publish(stream, messages(), metadata=publisher_metadata(SPEC))
    assert stream.ingested.wait(WAIT)
    layout = MediaLayout(tmp_path)
    assert stream.held == 4
    assert not layout.playlist("7").exists()
    assert not list(layout.hls_dir("7").glob("*.ts"))
    assert stream.release_due(T0 + dt.timedelta(seconds=4.999)) == []
    assert not layout.playlist("7").exists() and published == []

    clock.advance(5)
    released = stream.release_due()
    assert [s.seq for s in released] == [0, 1, 2, 3]
    assert all(s.published_at == T0 + dt.timedelta(seconds=5) for s in released)
    assert segment_lines(layout.playlist("7")) == ["s1-0.ts", "s1-1.ts", "s1-2.ts", "s1-3.ts"]
    ended = stream.join(WAIT)
    assert ended is not None and ended.reason == "ended" and ended.segments_published == 4
    assert layout.playlist("7").read_text().endswith("#EXT-X-ENDLIST\n")
    assert [s.seq for s in published] == [0, 1, 2, 3]


def test_the_internal_ticker_releases_held_segments(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    done = threading.Event()
    stream = LiveStream("7", "s1", settings(3), tmp_path, clock,
                        StreamCallbacks(on_ended=lambda _: done.set()), tick_seconds=0.02)
    publish(stream, messages(), metadata=publisher_metadata(SPEC))
    assert stream.ingested.wait(WAIT)
    assert not done.is_set() and stream.held == 4
    clock.advance(3)  # nobody calls release_due: the worker's own ticker must
    assert done.wait(WAIT)
    assert len(stream.published) == 4


def test_cutoff_while_held_publishes_nothing_and_ends_the_playlist(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    stream = LiveStream("7", "s1", settings(10), tmp_path, clock)
    publish(stream, messages(), metadata=publisher_metadata(SPEC))
    assert stream.ingested.wait(WAIT)
    assert stream.cutoff("violent content") is True
    assert stream.cutoff("again") is False
    layout = MediaLayout(tmp_path)
    marker = json.loads(layout.cutoff_marker("7").read_text())
    assert marker == {"at": T0.isoformat(), "reason": "violent content", "session": "s1"}
    text = layout.playlist("7").read_text()
    assert text.endswith("#EXT-X-ENDLIST\n") and segment_lines(layout.playlist("7")) == []
    assert not list(layout.held_dir("7").iterdir())
    clock.advance(60)
    assert stream.release_due() == []
    ended = stream.join(WAIT)
    assert ended is not None
    assert (ended.reason, ended.code, ended.detail) == ("cutoff", "media_cut_off", "violent content")
    assert (ended.segments_published, ended.segments_withheld) == (0, 4)
    assert ended.replay is None
    assert not list(layout.hls_dir("7").glob("*.ts"))
    assert gone(tmp_path, "7", "index.m3u8")["kind"] == "cutoff"  # type: ignore[index]
    # the recording is complete and playable all the same
    with av.open(str(layout.recording("7", "s1")), "r") as container:
        assert len([p for p in container.demux(video=0) if p.size]) == 100
    assert json.loads(layout.recording_index("7", "s1").read_text())["end_reason"] == "cutoff"


def test_cutoff_mid_stream_stops_publication_at_once(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    published: list[PublishedSegment] = []
    first = threading.Event()

    def on_segment(segment: PublishedSegment) -> None:
        published.append(segment)
        first.set()

    stream = LiveStream("7", "s1", settings(0), tmp_path, clock, StreamCallbacks(on_segment=on_segment))
    all_messages = messages()
    half = len(all_messages) // 2
    publish(stream, all_messages[:half], metadata=publisher_metadata(SPEC), end=None)
    assert first.wait(WAIT)
    stream.cutoff("cut by the duty officer")
    count_at_cutoff = len(published)
    listed = segment_lines(MediaLayout(tmp_path).playlist("7"))
    publish(stream, all_messages[half:])  # the publisher keeps sending until the connection drops
    ended = stream.join(WAIT)
    assert ended is not None and ended.reason == "cutoff"
    assert len(published) == count_at_cutoff == ended.segments_published
    layout = MediaLayout(tmp_path)
    assert segment_lines(layout.playlist("7")) == listed == [s.name for s in published]
    assert layout.playlist("7").read_text().endswith("#EXT-X-ENDLIST\n")
    assert sorted(p.name for p in layout.hls_dir("7").glob("*.ts")) == sorted(listed)
    assert all(gone(tmp_path, "7", name) is not None for name in listed)
    assert stream.messages_dropped == len(all_messages) - half
    recorded = read_messages(layout.recording("7", "s1").read_bytes())
    assert len(recorded) == half  # everything received before the cut is kept
    with av.open(str(layout.recording("7", "s1")), "r") as container:
        assert len([p for p in container.demux(video=0) if p.size]) > 0


def test_a_new_session_after_a_cutoff_is_served_and_the_old_one_stays_gone(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    first = LiveStream("7", "s1", settings(0), tmp_path, clock)
    publish(first, messages(), metadata=publisher_metadata(SPEC), end=None)
    first.cutoff("cut")
    assert first.join(WAIT) is not None
    second = LiveStream("7", "s2", settings(0), tmp_path, clock)
    publish(second, messages(), metadata=publisher_metadata(SPEC))
    ended = second.join(WAIT)
    assert ended is not None and ended.reason == "ended"
    layout = MediaLayout(tmp_path)
    assert not layout.cutoff_marker("7").exists()
    assert json.loads(layout.old_cutoff_marker("7", "s1").read_text())["reason"] == "cut"
    assert gone(tmp_path, "7", "index.m3u8") is None
    assert gone(tmp_path, "7", "s2-0.ts") is None
    assert gone(tmp_path, "7", "s1-0.ts") is not None
    assert segment_lines(layout.playlist("7"))[0] == "s2-0.ts"


async def test_wait_closed_and_callbacks_on_the_event_loop(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    seen: list[tuple[str, bool]] = []
    loop_thread = threading.get_ident()

    def on_segment(segment: PublishedSegment) -> None:
        seen.append((segment.name, threading.get_ident() == loop_thread))

    def on_ended(ended: StreamEnded) -> None:
        seen.append((ended.reason, threading.get_ident() == loop_thread))

    callbacks = callbacks_on_loop(StreamCallbacks(on_segment=on_segment, on_ended=on_ended), loop)
    stream = LiveStream("7", "s1", settings(0), tmp_path, ManualClock(T0), callbacks)
    publish(stream, messages(), metadata=publisher_metadata(SPEC))
    ended = await stream.wait_closed(timeout=WAIT)
    await asyncio.sleep(0)  # let the callbacks scheduled last run
    assert ended.reason == "ended" and stream.closed
    assert seen == [("s1-0.ts", True), ("s1-1.ts", True), ("s1-2.ts", True), ("s1-3.ts", True), ("ended", True)]
    assert io.BytesIO(stream.recording_path.read_bytes()).read(3) == b"FLV"
