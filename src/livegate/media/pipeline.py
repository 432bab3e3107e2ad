"""One accepted publish, from RTMP media messages to HLS on disk.

:class:`LiveStream` is the :class:`~livegate.media.types.StreamSink` the publish handler
returns. Its sink methods run on the event loop. One worker thread per stream starts it
(looks at the first messages to learn the tracks) and then works in one of two ways::

    on_media ─▶ FLV tags ─┬─▶ recorder (every message, as received)
                          └─▶ packets: copy (overlay mode) or decode ─▶ mark ─▶ libx264 (burn)
                                ├─ audio: copy, or decode ─▶ ident chime ─▶ AAC (audio-only)
                                ├─ frame tap / audio tap ─▶ callbacks
                                └─▶ segmenter ─▶ held/ ─▶ delay ─▶ hls/ + playlist

* Inline (copy mode with H.264 and AAC, the common case): after a one-time probe of the
  first messages for the codec parameters, ``on_media`` itself records each message and
  cuts its packet (the payload after its FLV header, with the message's times), on the
  event loop, under the ingest lock. A message costs ~20 µs and no thread hand-off; the
  worker only decodes the frame tap's keyframes (milliseconds each: kept off the loop),
  releases delayed segments, and ends the stream.
* Queued (burn mode, the audio ident, other codecs): ``on_media`` only enqueues; the worker
  turns the messages back into an FLV byte stream for FFmpeg's FLV demuxer and does all
  the per-packet work, decoding and encoding included, off the loop.

Why a thread and a blocking ``read()`` for the queued way: PyAV's demuxer pulls bytes from
a Python object with ``read(n)``; handing it a queue-backed reader lets FFmpeg parse FLV
exactly as it would a file. The reader keeps end-of-stream once it has said it (every
later ``read`` returns ``b""``), or the demuxer blocks.

Demuxer options: ``probesize=32768`` and ``analyzeduration=0`` as the field notes say, and
also ``fpsprobesize=0``: without it FFmpeg 8 reads ~20 frames (0.8 s at 25 fps) to guess
the frame rate before the first packet comes out. An FLV with one track keeps the demuxer
probing to ``probesize``, which is seconds of a low-rate audio stream, so single-track
streams probe 4096 bytes. The tracks are known before the demuxer starts: the worker looks
at the first messages (and the publisher's metadata) and writes the FLV header to match;
a track that appears later is recorded but not demuxed (PyAV cannot follow new streams).

Time: wall-clock times (``EXT-X-PROGRAM-DATE-TIME``, delay due times, cut-off time) come
from the injected clock. The delay's release is time-driven: while segments are held, the
worker calls :meth:`LiveStream.release_due` every ``tick_seconds`` (of real time) with the
clock's ``now()``, and a scheduler or a test may call it too.

Callbacks (:class:`StreamCallbacks`) run on the worker thread, or on the thread that calls
``on_media`` in inline mode (``on_segment`` also on whichever thread calls
:meth:`~LiveStream.release_due`); they must be quick and
thread-safe; use :func:`callbacks_on_loop` to run them on an asyncio loop instead. An
exception in a callback is logged and does not stop the stream.

Ending: ``on_end`` (publisher left) drains the input, publishes the last segment, waits out
the delay for held segments, ends the playlist and writes the replay. ``cutoff`` ends
publication at once (see its docstring). A corrupt or unsupported stream ends with a typed
reason (:class:`StreamEnded`); segments already published stay published. In every case
the recording is finished and indexed, and ``on_ended`` is called once, last.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import io
import logging
import os
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, TypeVar

import av
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.stream import Stream
from av.video.stream import VideoStream

from livegate.core.clock import Clock
from livegate.media.delay import DelayLine
from livegate.media.errors import CorruptMedia, MediaError, MediaOverloaded, StreamCutOff, UnsupportedMedia
from livegate.media.flv import (
    MAX_TAG_BODY,
    audio_info,
    encode_message,
    file_header,
    script_name,
    strip_set_data_frame,
    video_info,
)
from livegate.media.hls import DateRange, LivePlaylist, PlaylistSegment
from livegate.media.ident import IdentMixer
from livegate.media.layout import MediaLayout, atomic_write, read_marker, write_marker
from livegate.media.recorder import Recorder
from livegate.media.replay import write_replay
from livegate.media.sampler import AudioChunk, AudioTap, FrameSampler, SampledFrame
from livegate.media.segmenter import FinishedSegment, Segmenter, _seconds
from livegate.media.settings import MediaSettings, check_id
from livegate.media.types import MediaMessage
from livegate.media.watermark import MarkBurner, mark_daterange, mark_png, render_mark

log = logging.getLogger(__name__)

#: Codecs carried to viewers (HLS/MPEG-TS and browsers).
VIDEO_CODECS = frozenset({"h264", "hevc"})
AUDIO_CODECS = frozenset({"aac", "mp3"})
#: Track decision: wait at most this much stream time / this many messages for a second track.
TRACK_PROBE_MS = 1000
TRACK_PROBE_MESSAGES = 100
#: Burn mode: this many undecodable pictures in a row end the stream as corrupt.
MAX_DECODE_ERRORS = 25
#: Copy mode: the frame tap's keyframes are the only pictures decoded; this many in a row
#: that give no picture end the stream as corrupt.
MAX_SAMPLE_FAILURES = 3
#: FLV codec ids of what the direct copy path takes: H.264 video, AAC audio.
FLV_AVC = 7
FLV_AAC = 10
FLV_TIME_BASE = Fraction(1, 1000)
#: Bytes counted per message on top of its payload, for the input buffer limit.
MESSAGE_OVERHEAD = 64

EndReason = Literal["ended", "cutoff", "corrupt", "unsupported", "overloaded", "error"]
_REASON_BY_CODE: dict[str, EndReason] = {
    CorruptMedia.code: "corrupt",
    UnsupportedMedia.code: "unsupported",
    MediaOverloaded.code: "overloaded",
    StreamCutOff.code: "cutoff",
}


@dataclass(frozen=True, slots=True)
class PublishedSegment:
    room: str
    session: str
    seq: int
    name: str  # file name under <root>/hls/<room>/, also the playlist URI
    path: Path
    duration: float
    program_date_time: dt.datetime
    published_at: dt.datetime
    size: int


@dataclass(frozen=True, slots=True)
class StreamEnded:
    """Why and how a stream ended; ``code`` is a stable error code (``"ok"`` for a normal end)."""

    room: str
    session: str
    reason: EndReason
    code: str
    detail: str
    ended_at: dt.datetime
    segments_published: int
    segments_withheld: int
    recording: Path
    replay: Path | None = None
    error: MediaError | None = None


@dataclass(frozen=True, slots=True)
class StreamCallbacks:
    on_segment: Callable[[PublishedSegment], None] | None = None
    on_frame: Callable[[SampledFrame], None] | None = None
    on_audio: Callable[[AudioChunk], None] | None = None
    on_ended: Callable[[StreamEnded], None] | None = None


T = TypeVar("T")


def callbacks_on_loop(callbacks: StreamCallbacks, loop: asyncio.AbstractEventLoop) -> StreamCallbacks:
    """The same callbacks, each run on ``loop`` (via ``call_soon_threadsafe``) instead of the worker."""

    def hop(fn: Callable[[T], None] | None) -> Callable[[T], None] | None:
        if fn is None:
            return None
        target = fn

        def call(arg: T) -> None:
            loop.call_soon_threadsafe(target, arg)

        return call

    return StreamCallbacks(
        on_segment=hop(callbacks.on_segment),
        on_frame=hop(callbacks.on_frame),
        on_audio=hop(callbacks.on_audio),
        on_ended=hop(callbacks.on_ended),
    )


class _Sentinel:
    def __init__(self, name: str, reason: str = "") -> None:
        self.name = name
        self.reason = reason


class _SampleJob:
    """Inline mode: a keyframe for the frame tap, decoded on the worker, off the event loop."""

    __slots__ = ("packet",)

    def __init__(self, packet: av.Packet) -> None:
        self.packet = packet


_WAKE = _Sentinel("wake")
"""Queued to wake an idle inline worker; never returned by ``_next_item``."""

_Item = MediaMessage | dict[str, Any] | _Sentinel | _SampleJob


@dataclass(slots=True)
class _Tracks:
    audio: bool
    video: bool
    metadata: dict[str, Any]
    buffered: list[MediaMessage] = field(default_factory=list)
    ended: bool = False


class _FlvFeed:
    """The ``read(n)`` object the demuxer pulls from; fed from the stream's queue."""

    def __init__(self, stream: LiveStream, initial: bytes) -> None:
        self._stream = stream
        self._buf = bytearray(initial)
        self.eof = False
        self.error: MediaError | None = None

    def read(self, n: int) -> bytes:
        if self.eof:
            return b""
        stream = self._stream
        while not self._buf:
            if stream._cut is not None or stream._abort is not None:
                self.eof = True
                return b""
            item = stream._next_item()
            if isinstance(item, _Sentinel):
                self.eof = True
                return b""
            if isinstance(item, dict):
                stream._metadata.update(item)
                continue
            if isinstance(item, _SampleJob):  # inline mode only; never queued in this one
                continue
            try:
                self._buf += stream._accept(item)
            except MediaError as exc:
                self.error = exc
                self.eof = True
                return b""
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out


class LiveStream:
    """The media pipeline of one accepted publish; a :class:`StreamSink`.

    The worker thread starts at construction. End it with :meth:`on_end` (the publisher
    left) or :meth:`cutoff`; wait for it with :meth:`wait_closed` (async) or :meth:`join`.
    """

    def __init__(
        self,
        room_id: str,
        session_id: str,
        settings: MediaSettings,
        root: Path | str,
        clock: Clock,
        callbacks: StreamCallbacks | None = None,
        *,
        tick_seconds: float = 0.2,
    ) -> None:
        self.room = check_id("room", room_id)
        self.session = check_id("session", session_id)
        self.settings = settings
        self.layout = MediaLayout(Path(root))
        self.clock = clock
        self.callbacks = callbacks or StreamCallbacks()
        self.tick_seconds = tick_seconds
        self.started_at = clock.now()

        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._queued_bytes = 0
        self._queue_lock = threading.Lock()
        #: Inline mode (see :meth:`_hand_over`): ``on_media`` does the per-message work itself,
        #: under this lock, instead of queueing it for the worker.
        self._ingest_lock = threading.RLock()
        self._inline = False
        self._inline_error: MediaError | None = None
        self._lock = threading.RLock()  # publication state: delay line, playlist, cut-off
        self._ingest_closed = False
        self._end_detail = ""
        self._cut: tuple[dt.datetime, str] | None = None
        self._abort: MediaError | None = None
        self._metadata: dict[str, Any] = {}
        self._first_wall: dt.datetime | None = None
        self._first_ts_ms = 0
        self._wake = threading.Event()
        #: Set once the input is fully processed and the recording closed (held segments may
        #: still be waiting out the delay).
        self.ingested = threading.Event()

        self._delay: DelayLine[FinishedSegment] = DelayLine(settings.delay_seconds)
        self._published: list[PublishedSegment] = []
        self._evicted: deque[PlaylistSegment] = deque()
        self._withheld = 0
        self.messages_dropped = 0
        self._video_configured = False
        self._audio_configured = False
        self._tracks: _Tracks | None = None
        self._recorder = Recorder(self.layout, self.room, self.session, started_at=self.started_at)

        dateranges: tuple[DateRange, ...] = ()
        if settings.mark_mode == "overlay":
            dateranges = (
                mark_daterange(session=self.session, start=self.started_at, text=settings.mark_text,
                               room=self.room, mark_uri=self.layout.mark_image(self.room).name),
            )
        if settings.news_source:
            dateranges += (DateRange(id=f"news-source-{self.session}", cls="com.livegate.news-source",
                                     start=self.started_at,
                                     attributes=(("LIVEGATE-NEWS-SOURCE", settings.news_source),)),)
        self._playlist = LivePlaylist(self.layout.playlist(self.room), window=settings.playlist_window,
                                      segment_seconds=settings.segment_seconds, dateranges=dateranges)

        self._closed: concurrent.futures.Future[StreamEnded] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, name=f"livegate-media-{self.room}-{self.session}",
                                        daemon=True)
        self._thread.start()

    # -- StreamSink (event loop; must not block) ---------------------------------------

    def on_metadata(self, metadata: dict[str, Any]) -> None:
        if self._ingest_closed:
            return
        with self._ingest_lock:
            if self._inline:
                self._metadata.update(metadata)
            else:
                self._queue.put(dict(metadata))

    def on_media(self, message: MediaMessage) -> None:
        if self._ingest_closed:
            self.messages_dropped += 1
            return
        if self._first_wall is None and message.kind != "data":
            self._first_wall = self.clock.now()
            self._first_ts_ms = message.timestamp_ms
        size = len(message.payload) + MESSAGE_OVERHEAD
        with self._ingest_lock:
            if self._inline and size <= self.settings.max_buffer_bytes:
                self._push_inline(message)
                return
            with self._queue_lock:
                over = self._queued_bytes + size > self.settings.max_buffer_bytes
                if not over:
                    self._queued_bytes += size
            if over:
                self._inline = False
                self._overloaded()
                return
            self._queue.put(message)

    def on_end(self, reason: str) -> None:
        if self._ingest_closed:
            return
        with self._ingest_lock:
            self._ingest_closed = True
            self._inline = False
            self._end_detail = reason
            self._queue.put(_Sentinel("end", reason))

    # -- control -----------------------------------------------------------------------

    def cutoff(self, reason: str) -> bool:
        """Stop publication now; returns ``False`` if the stream was already cut off.

        When this returns, ``CUTOFF`` is on disk, the playlist ends (``EXT-X-ENDLIST``) with
        only what viewers already had, held segments are deleted, and no segment will ever be
        published again. It writes two small files, so it is safe to call on the event loop.
        Input is no longer accepted; what was already received is still recorded.
        """
        with self._lock:
            if self._cut is not None:
                return False
            at = self.clock.now()
            self._cut = (at, reason)
            write_marker(self.layout.cutoff_marker(self.room), at=at, reason=reason, session=self.session)
            self._playlist.end()
            for held in self._delay.drop_all():
                held.path.unlink(missing_ok=True)
                self._withheld += 1
        self._ingest_closed = True
        with self._ingest_lock:  # waits for a message being processed inline, if any
            self._inline = False
        self._queue.put(_Sentinel("cutoff", reason))
        self._wake.set()
        return True

    def set_sample_interval(self, seconds: float) -> None:
        """Change the frame tap's period while live (the room changed audience tier, or an
        emergency raised the sampling rate). Takes effect from the next keyframe."""
        transcoder = getattr(self, "_transcoder", None)
        sampler = getattr(transcoder, "sampler", None)
        if sampler is not None and seconds > 0:
            sampler.interval = float(seconds)

    @property
    def sample_interval(self) -> float | None:
        sampler = getattr(getattr(self, "_transcoder", None), "sampler", None)
        return float(sampler.interval) if sampler is not None else None

    def release_due(self, now: dt.datetime | None = None) -> list[PublishedSegment]:
        """Publish every held segment whose delay has passed at ``now`` (default: the clock's now)."""
        now = now or self.clock.now()
        released: list[PublishedSegment] = []
        with self._lock:
            if self._cut is not None:
                return []
            due = self._delay.due(now)
            for seg in due:
                dest = self.layout.segment(self.room, self.session, seg.seq)
                try:
                    os.replace(seg.path, dest)
                except OSError:  # e.g. removed from held/ by hand: skip it, keep the stream
                    log.exception("segment %s could not be published", seg.path)
                    self._withheld += 1
                    continue
                entry = PlaylistSegment(uri=seg.name, duration=seg.duration,
                                        program_date_time=seg.program_date_time, sequence=seg.seq)
                self._prune(self._playlist.add(entry))
                published = PublishedSegment(
                    room=self.room, session=self.session, seq=seg.seq, name=seg.name, path=dest,
                    duration=seg.duration, program_date_time=seg.program_date_time, published_at=now,
                    size=seg.size,
                )
                self._published.append(published)
                released.append(published)
        for published in released:
            self._notify(self.callbacks.on_segment, published)
        return released

    async def wait_closed(self, timeout: float | None = None) -> StreamEnded:  # noqa: ASYNC109 - callers rely on it
        """Wait until the stream is over: everything published or withdrawn, recording closed."""
        # shield: a caller's timeout must not cancel the worker's own future
        return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self._closed)), timeout)

    def join(self, timeout: float | None = None) -> StreamEnded | None:
        """Blocking variant of :meth:`wait_closed`; ``None`` on timeout."""
        try:
            return self._closed.result(timeout)
        except concurrent.futures.TimeoutError:
            return None

    # -- state, for the console and tests ----------------------------------------------

    @property
    def cut_off(self) -> bool:
        return self._cut is not None

    @property
    def published(self) -> list[PublishedSegment]:
        with self._lock:
            return list(self._published)

    @property
    def held(self) -> int:
        with self._lock:
            return len(self._delay)

    @property
    def recording_path(self) -> Path:
        return self._recorder.path

    @property
    def closed(self) -> bool:
        return self._closed.done()

    # -- worker ------------------------------------------------------------------------

    def _overloaded(self) -> None:
        if self._abort is None:
            self._abort = MediaOverloaded(limit=self.settings.max_buffer_bytes)
        self._ingest_closed = True
        self._queue.put(_Sentinel("overloaded"))

    def _next_item(self) -> _Item:
        """The next queued item; runs the delay ticker while waiting."""
        while True:
            self._maybe_tick()
            # Inline, with nothing held, there is nothing to tick for: sleep until woken
            # (_segment_finished wakes it when it holds a segment back).
            idle = self._inline and not len(self._delay)
            try:
                item = self._queue.get(timeout=None if idle else self.tick_seconds)
            except queue.Empty:
                continue
            if item is _WAKE:
                continue
            if isinstance(item, MediaMessage):
                with self._queue_lock:
                    self._queued_bytes -= len(item.payload) + MESSAGE_OVERHEAD
            return item

    def _maybe_tick(self) -> None:
        if len(self._delay):  # unlocked peek; release_due takes the lock
            self.release_due()

    def _notify(self, fn: Callable[[T], None] | None, arg: T) -> None:
        if fn is None:
            return
        try:
            fn(arg)
        except Exception:  # a consumer's bug must not stop the stream
            log.exception("media callback %r failed", fn)

    def _wall_time(self, seconds: float) -> dt.datetime:
        base = self._first_wall or self.started_at
        return base + dt.timedelta(seconds=seconds - self._first_ts_ms / 1000)

    def _run(self) -> None:
        error: MediaError | None = None
        try:
            self._setup()
            tracks = self._decide_tracks()
            self._tracks = tracks
            self._recorder.open(audio=tracks.audio, video=tracks.video, metadata=self._metadata)
            if (tracks.audio or tracks.video) and self._cut is None:
                self._demux(tracks)
        except MediaError as exc:
            error = exc
        except av.FFmpegError as exc:
            error = CorruptMedia(f"stream could not be demuxed: {exc}")
        except Exception as exc:
            log.exception("media worker for %s/%s failed", self.room, self.session)
            error = MediaError(f"internal error: {exc.__class__.__name__}")
        self._finish(error)

    def _setup(self) -> None:
        with self._lock:
            if self._cut is not None:
                return
            hls = self.layout.hls_dir(self.room)
            hls.mkdir(parents=True, exist_ok=True)
            self.layout.held_dir(self.room).mkdir(parents=True, exist_ok=True)
            marker_path = self.layout.cutoff_marker(self.room)
            marker = read_marker(marker_path)
            if marker is not None and marker.get("session") != self.session:
                # A new session may go live in the room; the old session's segments stay gone.
                old = marker.get("session")
                try:
                    if not isinstance(old, str):
                        raise ValueError("marker names no session")
                    os.replace(marker_path, self.layout.old_cutoff_marker(self.room, old))
                except Exception:  # an unreadable or odd marker: drop it
                    marker_path.unlink(missing_ok=True)
            self.layout.playlist(self.room).unlink(missing_ok=True)
            if self.settings.mark_mode == "overlay":
                image = render_mark(self.settings.mark_text, self.room, font_path=self.settings.font_path)
                atomic_write(self.layout.mark_image(self.room), mark_png(image))

    def _decide_tracks(self) -> _Tracks:
        """Read the first messages until it is clear which tracks the stream has."""
        buffered: list[MediaMessage] = []
        audio = video = False
        first_ts: int | None = None
        media_count = 0
        ended = False
        while True:
            if self._cut is not None or self._abort is not None:
                ended = True
                break
            item = self._next_item()
            if isinstance(item, _Sentinel):
                ended = True
                break
            if isinstance(item, dict):
                self._metadata.update(item)
            elif isinstance(item, MediaMessage):
                buffered.append(item)
                if item.kind in ("audio", "video"):
                    media_count += 1
                    audio |= item.kind == "audio"
                    video |= item.kind == "video"
                    first_ts = item.timestamp_ms if first_ts is None else first_ts
                    if item.timestamp_ms - first_ts >= TRACK_PROBE_MS or media_count >= TRACK_PROBE_MESSAGES:
                        break
            if audio and video:
                break
            if self._metadata and (audio or video):
                want_video = _declares(self._metadata, "videocodecid", "hasVideo")
                want_audio = _declares(self._metadata, "audiocodecid", "hasAudio")
                if (video or not want_video) and (audio or not want_audio):
                    break
        return _Tracks(audio=audio, video=video, metadata=dict(self._metadata), buffered=buffered, ended=ended)

    def _accept(self, message: MediaMessage) -> bytes:
        """Record ``message`` and return its FLV tag if the demuxer should see it."""
        if message.kind == "data":
            message = MediaMessage("data", message.timestamp_ms, strip_set_data_frame(message.payload))
        tag = encode_message(message)
        if message.kind != "video":
            self._recorder.write(message, tag, keyframe=False)
        else:
            try:
                info = video_info(message.payload)
            except MediaError:
                self._recorder.write(message, tag, keyframe=False)  # received, so recorded
                raise
            self._recorder.write(message, tag, keyframe=info.keyframe and info.picture)
        tracks = self._tracks
        assert tracks is not None
        if message.kind == "data":
            return tag if script_name(message.payload) == "onMetaData" else b""
        if message.kind == "video":
            if not tracks.video:
                return b""
            if info.command:
                return b""
            if info.codec not in VIDEO_CODECS:
                raise UnsupportedMedia(f"video codec {info.codec} is not supported", codec=info.codec)
            if info.sequence_header:
                _check_video_config(message.payload)
                self._video_configured = True
            elif not self._video_configured:
                raise CorruptMedia("video data before its sequence header")
            return tag
        if not tracks.audio:
            return b""
        ainfo = audio_info(message.payload)
        if ainfo.codec not in AUDIO_CODECS:
            raise UnsupportedMedia(f"audio codec {ainfo.codec} is not supported", codec=ainfo.codec)
        if ainfo.codec == "aac":
            if ainfo.sequence_header:
                _check_aac_config(message.payload)
                self._audio_configured = True
            elif not self._audio_configured:
                raise CorruptMedia("AAC data before its sequence header")
        return tag

    def _demux(self, tracks: _Tracks) -> None:
        initial = bytearray(file_header(audio=tracks.audio, video=tracks.video))
        demuxed: list[MediaMessage] = []
        for i, message in enumerate(tracks.buffered):
            try:
                tag = self._accept(message)
            except MediaError:
                for rest in tracks.buffered[i + 1 :]:  # refused, but received: still recorded
                    self._record_only(rest)
                raise
            if tag:
                initial += tag
                demuxed.append(message)
        probesize = "32768" if tracks.audio and tracks.video else "4096"
        options = {"probesize": probesize, "analyzeduration": "0", "fpsprobesize": "0"}
        if self._direct_copy(tracks):
            self._demux_direct(tracks, demuxed, bytes(initial), options)
            return
        feed = _FlvFeed(self, bytes(initial))
        if tracks.ended:
            self._queue.put(_Sentinel("end", self._end_detail))  # read() ends after the buffer
        container = av.open(feed, "r", format="flv", options=options)
        try:
            self._transcoder = _Transcoder(self, container)
            self._transcoder.run()
        finally:
            container.close()
        if feed.error is not None:
            raise feed.error

    # -- copy mode without the FLV demuxer ---------------------------------------------

    def _direct_copy(self, tracks: _Tracks) -> bool:
        """Whether this stream's packets can be cut straight from its messages: copy mode
        (no burned-in mark, no audio ident), legacy-framed H.264 and AAC. Anything else goes
        through FFmpeg's FLV demuxer on the worker."""
        if tracks.video and self.settings.mark_mode == "burn":
            return False
        if tracks.audio and not tracks.video and self.settings.audio_ident_interval_seconds is not None:
            return False
        for message in tracks.buffered:
            body = message.payload
            if message.kind == "video" and (len(body) < 2 or body[0] & 0x80 or body[0] & 0x0F != FLV_AVC):
                return False
            if message.kind == "audio" and (not body or body[0] >> 4 != FLV_AAC):
                return False
        return True

    def _demux_direct(self, tracks: _Tracks, demuxed: list[MediaMessage], initial: bytes,
                      options: dict[str, str]) -> None:
        """Copy mode, as :meth:`_demux` but without a demuxer in the loop.

        The first messages, framed as FLV, are probed once for the tracks' codec parameters
        (the segmenter's templates and the frame tap's decoder). From then on each message
        becomes a packet directly: the H.264 or AAC payload after its FLV header, the message
        time as DTS (plus the composition offset for PTS). The messages already buffered are
        done here; then :meth:`_hand_over` switches the stream to inline mode, in which
        ``on_media`` (on the event loop) does this work itself, so a message costs no thread
        hand-off. The worker stays for what must not run on the loop: decoding the frame
        tap's keyframes, releasing delayed segments, and the end.
        """
        probe = av.open(io.BytesIO(initial), "r", format="flv", options=options)
        try:
            transcoder = _Transcoder(self, probe, inline=True)
            self._transcoder = transcoder
            try:
                for message in demuxed:
                    transcoder.push(message)
                if not tracks.ended and self._hand_over(transcoder):
                    while True:
                        item = self._next_item()
                        if isinstance(item, _Sentinel):
                            break
                        if isinstance(item, _SampleJob):
                            transcoder.sample(item.packet)
                with self._ingest_lock:
                    self._inline = False
                if self._inline_error is not None:
                    raise self._inline_error
                if self._cut is None:
                    transcoder._flush()
                    transcoder.segmenter.finish()
                else:
                    transcoder.segmenter.abort()
            except BaseException:
                with self._ingest_lock:
                    self._inline = False
                transcoder.segmenter.abort()
                raise
        finally:
            probe.close()

    def _hand_over(self, transcoder: _Transcoder) -> bool:
        """Process what queued up meanwhile, then go inline; ``False`` if the input ended."""
        with self._ingest_lock:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, _Sentinel):
                    return False
                if isinstance(item, dict):
                    self._metadata.update(item)
                elif isinstance(item, _SampleJob):
                    transcoder.sample(item.packet)
                elif isinstance(item, MediaMessage):
                    with self._queue_lock:
                        self._queued_bytes -= len(item.payload) + MESSAGE_OVERHEAD
                    if self._accept(item):
                        transcoder.push(item)
            if self._ingest_closed or self._cut is not None or self._abort is not None:
                return False
            self._inline = True
            return True

    def _push_inline(self, message: MediaMessage) -> None:
        """Inline mode (caller holds the ingest lock): record one message and cut its packet."""
        transcoder = self._transcoder
        try:
            body = message.payload
            kind = message.kind
            # The common case first, checked as _accept would: an H.264 picture or an AAC frame,
            # legacy framing, after its decoder configuration (~3/4 of the per-message work
            # there is generality this case does not need).
            if kind == "video":
                if (len(body) > 5 and body[0] & 0x8F == FLV_AVC and body[1] == 1 and body[0] >> 4 != 5
                        and self._video_configured and len(body) <= MAX_TAG_BODY):
                    self._recorder.write_body(kind, message.timestamp_ms, body, keyframe=body[0] >> 4 == 1)
                    transcoder.push(message)
                    return
            elif kind == "audio":
                if (len(body) > 2 and body[0] >> 4 == FLV_AAC and body[1] == 1 and self._audio_configured
                        and len(body) <= MAX_TAG_BODY):
                    self._recorder.write_body(kind, message.timestamp_ms, body, keyframe=False)
                    transcoder.push(message)
                    return
            if self._accept(message) and kind != "data":
                transcoder.push(message)
        except Exception as exc:
            if isinstance(exc, MediaError):
                error = exc
            elif isinstance(exc, av.FFmpegError):
                error = CorruptMedia(f"stream could not be remuxed: {exc}")
            else:
                log.exception("media pipeline for %s/%s failed", self.room, self.session)
                error = MediaError(f"internal error: {exc.__class__.__name__}")
            # Back to queueing: the worker ends the stream, and records what still comes.
            self._inline = False
            self._inline_error = error
            self._queue.put(_Sentinel("error", error.message))

    def _segment_finished(self, segment: FinishedSegment) -> None:
        with self._lock:
            if self._cut is not None:
                segment.path.unlink(missing_ok=True)
                self._withheld += 1
                return
            self._delay.hold(segment, segment.finished_at)
        if self._inline and self.settings.delay_seconds:
            self._queue.put(_WAKE)  # the worker may be asleep with nothing held: it ticks now
        if not self.settings.delay_seconds:
            self.release_due()

    def _prune(self, evicted: list[PlaylistSegment]) -> None:
        """Without replay, segments that left the window are deleted a window later."""
        if self.settings.replay:
            return
        self._evicted.extend(evicted)
        while len(self._evicted) > self.settings.playlist_window:
            old = self._evicted.popleft()
            (self.layout.hls_dir(self.room) / old.uri).unlink(missing_ok=True)

    def _outcome(self, error: MediaError | None) -> tuple[EndReason, str, str, MediaError | None]:
        if self._cut is not None:
            return "cutoff", StreamCutOff.code, self._cut[1], error
        if self._abort is not None:
            return "overloaded", self._abort.code, self._abort.message, self._abort
        if error is not None:
            return _REASON_BY_CODE.get(error.code, "error"), error.code, error.message, error
        return "ended", "ok", self._end_detail, None

    def _finish(self, error: MediaError | None) -> None:
        # Whatever is still queued was received: it belongs in the recording.
        self._ingest_closed = True
        self._drain_to_recording()
        reason, code, _, _ = self._outcome(error)
        try:
            self._recorder.close(ended_at=self.clock.now(), reason=reason, code=code)
        except Exception:
            log.exception("closing the recording of %s/%s failed", self.room, self.session)
        self.ingested.set()
        # Held segments are still released on time after the publisher has gone.
        while self._cut is None and len(self._delay):
            self.release_due()
            if len(self._delay):
                self._wake.wait(self.tick_seconds)
        replay: Path | None = None
        with self._lock:
            final_reason, code, detail, error = self._outcome(error)
            if self._cut is None:
                self._playlist.end()
                if self.settings.replay and self._published and final_reason == "ended":
                    try:
                        replay = write_replay(self.layout, self.room, self.session, self._published,
                                              segment_seconds=self.settings.segment_seconds)
                    except Exception:
                        log.exception("writing the replay of %s/%s failed", self.room, self.session)
            published, withheld = len(self._published), self._withheld
        if final_reason != reason:  # cut off while the last segments were held
            try:
                self._recorder.set_outcome(reason=final_reason, code=code)
            except Exception:
                log.exception("updating the recording index of %s/%s failed", self.room, self.session)
        ended = StreamEnded(
            room=self.room, session=self.session, reason=final_reason, code=code, detail=detail,
            ended_at=self.clock.now(), segments_published=published, segments_withheld=withheld,
            recording=self._recorder.path, replay=replay, error=error,
        )
        self._notify(self.callbacks.on_ended, ended)
        if not self._closed.done():
            self._closed.set_result(ended)

    def _record_only(self, message: MediaMessage) -> None:
        if message.kind == "data":
            message = MediaMessage("data", message.timestamp_ms, strip_set_data_frame(message.payload))
        self._recorder.write(message)

    def _drain_to_recording(self) -> None:
        if not self._recorder.is_open:
            try:
                self._recorder.open(audio=True, video=True, metadata=self._metadata)
            except Exception:
                log.exception("opening the recording of %s/%s failed", self.room, self.session)
                return
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, MediaMessage):
                self._record_only(item)
            elif isinstance(item, dict):
                self._metadata.update(item)


def _declares(metadata: dict[str, Any], codec_key: str, has_key: str) -> bool:
    if has_key in metadata:
        return bool(metadata[has_key])
    return metadata.get(codec_key) not in (None, 0, "", False)


def _check_video_config(body: bytes) -> None:
    # legacy: [frame/codec][packet type][cts x3][config]; enhanced: [header][fourcc x4][config]
    config = body[5:]
    if len(config) < 7 or config[0] != 1:
        raise CorruptMedia("invalid video decoder configuration record")


def _check_aac_config(body: bytes) -> None:
    asc = body[2:]
    if len(asc) < 2:
        raise CorruptMedia("invalid AAC AudioSpecificConfig")
    object_type = asc[0] >> 3
    freq_index = ((asc[0] & 0x07) << 1) | (asc[1] >> 7)
    if object_type == 0 or (freq_index > 12 and freq_index != 15):
        raise CorruptMedia("invalid AAC AudioSpecificConfig", object_type=object_type, freq_index=freq_index)


class _Transcoder:
    """The per-packet work of one stream: copy or re-encode, taps, and the segmenter."""

    def __init__(self, stream: LiveStream, container: InputContainer, *, inline: bool = False) -> None:
        self.s = stream
        self.inline = inline
        #: Inline frame tap: stream time from which the next keyframe is handed to the worker.
        self._post_from: float | None = None
        self.settings = stream.settings
        self.container = container
        self.video_in: VideoStream | None = container.streams.video[0] if container.streams.video else None
        self.audio_in: AudioStream | None = container.streams.audio[0] if container.streams.audio else None
        if self.video_in is None and self.audio_in is None:
            raise CorruptMedia("the stream has neither audio nor video")
        self._video_tb = (self.video_in.time_base if self.video_in is not None else None) or FLV_TIME_BASE
        self._audio_tb = (self.audio_in.time_base if self.audio_in is not None else None) or FLV_TIME_BASE
        if self.video_in is not None and self.video_in.codec_context.name not in VIDEO_CODECS:
            raise UnsupportedMedia("video codec not supported", codec=self.video_in.codec_context.name)
        if self.audio_in is not None and self.audio_in.codec_context.name not in AUDIO_CODECS:
            raise UnsupportedMedia("audio codec not supported", codec=self.audio_in.codec_context.name)

        self.burn = self.settings.mark_mode == "burn" and self.video_in is not None
        self.ident = (self.video_in is None and self.audio_in is not None
                      and self.settings.audio_ident_interval_seconds is not None)
        cb = stream.callbacks
        self.sampler: FrameSampler | None = None
        if self.video_in is not None and cb.on_frame is not None and self.settings.sample_interval_seconds:
            on_frame = cb.on_frame
            self.sampler = FrameSampler(
                room=stream.room, session=stream.session, interval=self.settings.sample_interval_seconds,
                callback=lambda f: stream._notify(on_frame, f), clock=stream.clock,
                wall_time=stream._wall_time, jpeg_quality=self.settings.jpeg_quality,
            )
        self.tap: AudioTap | None = None
        if self.audio_in is not None and cb.on_audio is not None and self.settings.audio_chunk_seconds:
            on_audio = cb.on_audio
            self.tap = AudioTap(room=stream.room, session=stream.session,
                                chunk_seconds=self.settings.audio_chunk_seconds,
                                rate=self.settings.audio_tap_rate, callback=lambda c: stream._notify(on_audio, c))

        if self.video_in is not None and self.burn:
            self.video_in.codec_context.thread_type = "AUTO"  # frame + slice threads, as the ffmpeg CLI
        self.burner: MarkBurner | None = None
        self.video_holder: OutputContainer | None = None
        self.video_out: VideoStream | None = None
        self.next_key = 0.0
        self.decode_errors = 0
        self.audio_holder: OutputContainer | None = None
        self.audio_out: AudioStream | None = None
        self.mixer: IdentMixer | None = None
        self.resampler: av.AudioResampler | None = None
        self.audio_pos: int | None = None

        templates: dict[str, Stream] = {}
        if self.video_in is not None:
            if self.burn:
                self.burner = MarkBurner(self.settings.mark_text, stream.room, font_path=self.settings.font_path)
                templates["video"] = self._open_video_encoder()
            else:
                templates["video"] = self.video_in
        if self.audio_in is not None:
            templates["audio"] = self._open_audio_encoder() if self.ident else self.audio_in
        self.segmenter = Segmenter(
            layout=stream.layout, room=stream.room, session=stream.session,
            target_seconds=self.settings.segment_seconds, templates=templates, clock=stream.clock,
            wall_time=stream._wall_time, on_finished=stream._segment_finished,
        )

    # -- encoders ----------------------------------------------------------------------

    def _open_video_encoder(self) -> VideoStream:
        assert self.video_in is not None
        ctx = self.video_in.codec_context
        width, height = ctx.width or 1280, ctx.height or 720
        rate = self.video_in.average_rate or self.video_in.guessed_rate
        fps = Fraction(rate) if rate else _metadata_fps(self.s._metadata)
        holder = av.open(io.BytesIO(), "w", format="mpegts")  # owns the encoder; never muxed into
        out = holder.add_stream("libx264", rate=fps)
        out.width, out.height = width - width % 2, height - height % 2
        out.pix_fmt = "yuv420p"
        out.time_base = Fraction(1, 1000)
        enc = self.settings.encoder
        cc = out.codec_context
        cc.time_base = Fraction(1, 1000)
        cc.gop_size = max(1, int(fps * self.settings.segment_seconds * 4))  # forced keyframes cut segments
        if enc.threads:
            cc.thread_count = enc.threads
        cc.options = enc.codec_options()
        holder.start_encoding()
        self.video_holder, self.video_out = holder, out
        return out

    def _open_audio_encoder(self) -> AudioStream:
        assert self.audio_in is not None
        ctx = self.audio_in.codec_context
        rate = ctx.sample_rate or 44100
        layout = "mono" if ctx.channels == 1 else "stereo"
        holder = av.open(io.BytesIO(), "w", format="mpegts")
        out = holder.add_stream("aac", rate=rate, layout=layout)
        out.bit_rate = self.settings.audio_bitrate
        holder.start_encoding()
        self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate,
                                           frame_size=out.codec_context.frame_size or 1024)
        interval = self.settings.audio_ident_interval_seconds
        assert interval is not None
        self.mixer = IdentMixer(rate, interval_seconds=interval, hz=self.settings.audio_ident_hz,
                                seconds=self.settings.audio_ident_seconds)
        self.audio_holder, self.audio_out = holder, out
        return out

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> None:
        s = self.s
        try:
            for packet in self.container.demux():
                if s._cut is not None or s._abort is not None:
                    break
                if packet.size == 0 or packet.dts is None:
                    continue
                if self.video_in is not None and packet.stream.index == self.video_in.index:
                    self._video(packet)
                elif self.audio_in is not None and packet.stream.index == self.audio_in.index:
                    self._audio(packet)
            if s._cut is None:
                self._flush()
                self.segmenter.finish()
            else:
                self.segmenter.abort()
        except BaseException:
            self.segmenter.abort()
            raise
        finally:
            for holder in (self.video_holder, self.audio_holder):
                if holder is not None:
                    try:
                        holder.close()
                    except av.FFmpegError:
                        pass

    # -- direct (copy-mode) input -----------------------------------------------------

    def packet(self, message: MediaMessage) -> av.Packet | None:
        """The packet FFmpeg's FLV demuxer would make of ``message`` (``None``: no media in it,
        e.g. a sequence header, whose content the probe already gave the streams)."""
        body = message.payload
        if message.kind == "video":
            if self.video_in is None or len(body) < 6 or body[1] != 1 or body[0] >> 4 == 5:
                return None  # a decoder configuration, end of sequence, or command frame
            packet = av.Packet(memoryview(body)[5:])  # type: ignore[arg-type]  # any buffer; one copy
            packet.dts = message.timestamp_ms
            packet.pts = message.timestamp_ms + int.from_bytes(body[2:5], "big", signed=True)
            packet.is_keyframe = body[0] >> 4 == 1
            packet.time_base = self._video_tb
            return packet
        if self.audio_in is None or len(body) < 3 or body[1] != 1:  # 0: AudioSpecificConfig
            return None
        packet = av.Packet(memoryview(body)[2:])  # type: ignore[arg-type]
        packet.dts = packet.pts = message.timestamp_ms
        packet.time_base = self._audio_tb
        return packet

    def push(self, message: MediaMessage) -> None:
        packet = self.packet(message)
        if packet is None:
            return
        if message.kind == "video":
            if self.sampler is not None and packet.is_keyframe:
                t = _seconds(packet.pts, packet.time_base)
                if t is not None and (self._post_from is None or t >= self._post_from - 1e-6):
                    self._post_from = t + self.sampler.interval
                    sample = self.packet(message)
                    assert sample is not None
                    if self.s._inline:  # decoding takes milliseconds: the worker does it, off the loop
                        self.s._queue.put(_SampleJob(sample))
                    else:  # this is the worker
                        self.sample(sample)
            self.segmenter.video(packet)
        else:
            self._audio(packet)

    def sample(self, packet: av.Packet) -> None:
        """Worker side of the inline frame tap."""
        assert self.sampler is not None and self.video_in is not None
        failures = self.sampler.decode_failures
        self.sampler.offer_keyframe(packet, self.video_in.codec_context)
        if self.sampler.decode_failures > failures:
            self._post_from = None  # no picture: offer the very next keyframe, as the demuxer path does
        if self.sampler.decode_failures >= MAX_SAMPLE_FAILURES:
            raise CorruptMedia("sampled keyframes do not decode")

    def _video(self, packet: av.Packet) -> None:
        if not self.burn:
            if self.sampler is not None and packet.is_keyframe and self.video_in is not None:
                self.sampler.offer_keyframe(packet, self.video_in.codec_context)
                if self.sampler.decode_failures >= MAX_SAMPLE_FAILURES:
                    raise CorruptMedia("sampled keyframes do not decode")
            self.segmenter.video(packet)
            return
        assert self.video_in is not None
        try:
            frames = self.video_in.codec_context.decode(packet)
            self.decode_errors = 0
        except av.FFmpegError as exc:
            self.decode_errors += 1
            if self.decode_errors >= MAX_DECODE_ERRORS:
                raise CorruptMedia(f"video does not decode: {exc}") from exc
            return
        for frame in frames:
            self._burn(frame)

    def _burn(self, frame: av.VideoFrame) -> None:
        assert self.burner is not None and self.video_out is not None
        if self.sampler is not None:
            self.sampler.offer_frame(frame)
        for marked in self.burner.burn(frame):
            t = float(marked.pts * marked.time_base) if marked.pts is not None and marked.time_base else None
            if t is not None and t >= self.next_key - 1e-6:
                marked.pict_type = av.video.frame.PictureType.I
                self.next_key = t + self.settings.segment_seconds
            else:  # the decoder's picture type would force the source's keyframes on x264
                marked.pict_type = av.video.frame.PictureType.NONE
            for out in self.video_out.encode(marked):
                self.segmenter.video(out)

    def _audio(self, packet: av.Packet) -> None:
        assert self.audio_in is not None
        if not self.ident and self.tap is None:
            self.segmenter.audio(packet)
            return
        try:
            frames = self.audio_in.codec_context.decode(packet)
        except av.FFmpegError:
            frames = []
        for frame in frames:
            if self.tap is not None:
                self.tap.offer(frame)
            if self.ident:
                self._mix(frame)
        if not self.ident:
            self.segmenter.audio(packet)

    def _mix(self, frame: av.AudioFrame | None) -> None:
        assert self.resampler is not None and self.mixer is not None and self.audio_out is not None
        rate = self.audio_out.codec_context.sample_rate
        if frame is not None and self.audio_pos is None:
            t = float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else 0.0
            self.audio_pos = round(t * rate)
        for chunk in self.resampler.resample(frame):
            planes = chunk.to_ndarray()
            pos = self.audio_pos or 0
            mixed = self.mixer.mix(planes, pos)
            out = av.AudioFrame.from_ndarray(mixed, format="fltp", layout=chunk.layout.name)
            out.sample_rate = rate
            out.pts = pos
            out.time_base = Fraction(1, rate)
            self.audio_pos = pos + chunk.samples
            for encoded in self.audio_out.encode(out):
                self.segmenter.audio(encoded)

    def _flush(self) -> None:
        if self.burn and self.video_in is not None and self.video_out is not None:
            try:
                for frame in self.video_in.codec_context.decode(None):
                    self._burn(frame)
            except av.FFmpegError:
                pass
            for out in self.video_out.encode(None):
                self.segmenter.video(out)
        if self.ident and self.audio_out is not None:
            self._mix(None)
            for encoded in self.audio_out.encode(None):
                self.segmenter.audio(encoded)
        if self.tap is not None:
            self.tap.flush()


def _metadata_fps(metadata: dict[str, Any]) -> Fraction:
    value = metadata.get("framerate") or metadata.get("videoframerate")
    try:
        fps = Fraction(float(value)).limit_denominator(1001) if value else Fraction(30)
    except (TypeError, ValueError):
        fps = Fraction(30)
    return fps if 1 <= fps <= 240 else Fraction(30)
