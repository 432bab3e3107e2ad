"""The media service of one node: RTMP ingest behind the PublishGate, one LiveStream per
accepted publish, and the carrying-out of cut-off orders.

Cut-off orders are durable rows (``control_orders``). A node hears of a new order at once
over the broker's ``control`` channel and, as a backstop that needs no shared broker (the
CLI in another process, the in-process broker), by polling the table every
``control_poll_seconds``. Each node carries out each order once: it cuts the pipeline of
the room if it carries it (so nothing more is published), hangs up on the publisher, and
tells its own viewers of the room.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from livegate.chat.hub import RoomHub
from livegate.core.models import Account, ControlOrder
from livegate.media.layout import MediaLayout
from livegate.media.models import Room, StreamSession
from livegate.media.pipeline import LiveStream, PublishedSegment, StreamCallbacks, StreamEnded, callbacks_on_loop
from livegate.media.presence import NODE_BEAT, beat, end_lost_sessions, end_own_leftovers, write_presence
from livegate.media.rooms import GateContext, Refusal, key_fingerprint
from livegate.media.rtmp.server import RtmpServer
from livegate.media.sampler import AudioChunk, SampledFrame
from livegate.media.settings import MediaSettings
from livegate.media.types import PublishDecision, PublishRequest

if TYPE_CHECKING:
    from livegate.app import Platform

log = logging.getLogger(__name__)
CONTROL_CHANNEL = "control"
PUBLISH_APP = "live"


@dataclass
class LiveEntry:
    room: str
    session_id: int
    stream_key: str
    stream: LiveStream
    settings: MediaSettings
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class CutoffResult:
    order: int
    room: str
    stream_cut: bool
    publisher_closed: bool
    viewers_notified: int
    at: float


#: A live room's tier is re-checked at least this often, even if nothing seen here changed.
RETIER_SECONDS = 30.0


class MediaService:
    def __init__(self, platform: Platform) -> None:
        self.p = platform
        self.root = platform.settings.data_dir / "media"
        self.layout = MediaLayout(self.root)
        self.hub = RoomHub(platform.broker)
        self.hub.on_count_change = self._count_changed
        self.rtmp: RtmpServer | None = None
        self.live: dict[str, LiveEntry] = {}
        self.frame_listeners: list[Callable[[str, SampledFrame], None]] = []
        self.audio_listeners: list[Callable[[str, AudioChunk], None]] = []
        self.segment_listeners: list[Callable[[PublishedSegment], None]] = []
        self.ended_listeners: list[Callable[[StreamEnded], None]] = []
        self.recorded_listeners: list[Callable[[str, int], None]] = []  # (room, session id) once in the DB
        self.cutoff_listeners: list[Callable[[CutoffResult], None]] = []
        self._done_orders: set[int] = set()
        self._last_order = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._order_lock = asyncio.Lock()
        self._counts_dirty: set[str] = set()
        self._beaten_at = 0.0
        platform.scheduler.add("media.lost_nodes", dt.timedelta(seconds=30), self._lost_nodes_job)

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def rtmp_port(self) -> int:
        if self.rtmp is None:
            raise RuntimeError("RTMP ingest is not running on this node")
        return self.rtmp.port

    def live_count(self) -> int:
        return len(self.live)

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.p.db.session() as s:
            self._last_order = s.scalar(select(func.max(ControlOrder.id))) or 0
        # Sessions this node's name left open cannot be streaming: end them before taking one.
        for room in await asyncio.to_thread(end_own_leftovers, self.p):
            await self.hub.publish(room, {"type": "offline", "room": room})
        await asyncio.to_thread(beat, self.p, started=True)
        self._beaten_at = time.monotonic()
        if self.p.start_rtmp:
            self.rtmp = RtmpServer(self, clock=self.p.clock)
            await self.rtmp.start(self.p.settings.rtmp_host, self.p.settings.rtmp_port)
        ready = asyncio.Event()
        self._tasks.append(asyncio.create_task(self._listen_control(ready), name="control-listen"))
        self._tasks.append(asyncio.create_task(self._poll_control(), name="control-poll"))
        self._tasks.append(asyncio.create_task(self._presence_loop(), name="presence"))
        await asyncio.wait_for(ready.wait(), 10)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        if self.rtmp is not None:
            await self.rtmp.stop()
            self.rtmp = None
        for entry in list(self.live.values()):
            with contextlib.suppress(Exception):
                await entry.stream.wait_closed(10)
        await self.hub.stop()

    # -- PublishHandler ----------------------------------------------------------------
    async def on_publish(self, request: PublishRequest) -> PublishDecision:
        if request.app != PUBLISH_APP:
            return PublishDecision.refuse(f"unknown application '{request.app}': publish to /{PUBLISH_APP}/KEY")
        outcome = await asyncio.to_thread(self._admit, request)
        if isinstance(outcome, Refusal):
            self.p.metrics.publish_attempts.labels("refused").inc()
            return PublishDecision.refuse(outcome.text())
        room_id, session_id, settings = outcome
        loop = asyncio.get_running_loop()
        callbacks = callbacks_on_loop(
            StreamCallbacks(on_segment=self._on_segment, on_frame=lambda f: self._on_frame(room_id, f),
                            on_ended=self._on_ended, on_audio=lambda c: self._on_audio(room_id, c)),
            loop,
        )
        stream = LiveStream(room_id, f"s{session_id}", settings, self.root, self.p.clock, callbacks)
        self.live[room_id] = LiveEntry(room_id, session_id, request.stream_key, stream, settings)
        self.p.metrics.publish_attempts.labels("accepted").inc()
        self.p.metrics.live_streams.set(len(self.live))
        await self.hub.send_local(room_id, {"type": "live", "room": room_id})
        return PublishDecision.accept(stream)

    def _admit(self, request: PublishRequest) -> Refusal | tuple[str, int, MediaSettings]:
        p = self.p
        fp = key_fingerprint(request.stream_key)
        with p.db.session() as s:
            room = p.rooms.by_key(s, request.stream_key) if request.stream_key else None
            if room is None:
                unknown = Refusal("stream_key.unknown", "Art. 12",
                                  "this stream key is not valid; copy the current key from the studio")
                p.rooms.record_attempt(s, None, request.peer, unknown, fp)
                return unknown
            owner = s.get(Account, room.owner_id)
            assert owner is not None
            now = p.clock.now()
            if room.blocked and room.blocked_until is not None and room.blocked_until <= now:
                room.blocked = False
                p.audit.record(s, actor="system:gate", action="room.block_expired", target=f"room:{room.id}")
            if room.status == "live" and room.id not in self.live:
                # A node died with the room marked live; the gate must not refuse forever.
                stale = s.get(StreamSession, room.live_session_id) if room.live_session_id else None
                if stale is None or stale.node == p.settings.node_name:
                    room.status = "offline"
            refusal = p.gate.evaluate(GateContext(session=s, room=room, owner=owner, now=now, peer=request.peer))
            p.rooms.record_attempt(s, room, request.peer, refusal, fp)
            if refusal is not None:
                return refusal
            settings = self.settings_for(room, s)
            ss = p.rooms.start_session(s, room, p.settings.node_name, settings.mark_mode, int(settings.delay_seconds))
            ss.recording_path = str(self.layout.recording(room.id, f"s{ss.id}"))
            return room.id, ss.id, settings

    def settings_for(self, room: Room, s: Session | None = None) -> MediaSettings:
        """What the policy implies for this room now (category, audience tier, credit level)."""
        policy = self.p.policy.get()
        category = policy.category(room.category)
        level = policy.credit_level_for(policy.credit.scale.start)
        enforcement = getattr(self.p, "enforcement", None)  # issue 7: the owner's credit level (Art. 15)
        if enforcement is not None:
            if s is not None:
                level = enforcement.credit_level_of(s, room.owner_id)
            else:
                with self.p.db.session() as own:
                    level = enforcement.credit_level_of(own, room.owner_id)
        delay = policy.effective_delay(room.category, level, room.viewers or 0)
        if room.delay_override_seconds is not None:
            delay = max(delay, room.delay_override_seconds)
        sample = float(policy.sampling_interval(room.category, room.viewers or 0, level))
        review = getattr(self.p, "review", None)  # emergency "raise the sampling rate" (issue 6)
        if review is not None:
            sample = review.sampling_seconds(room, sample) or sample
        return MediaSettings(
            audio_chunk_seconds=review.audio_chunk_seconds() if review is not None else None,
            mark_mode=category.watermark_mode,
            mark_text=policy.platform_mark_text,
            delay_seconds=float(delay),
            segment_seconds=1.0,  # with 1 s keyframes, glass-to-glass stays under 3 s (bench_latency)
            sample_interval_seconds=sample,
            audio_ident_interval_seconds=float(policy.audio_ident_interval_minutes * 60),
            replay=category.replay_allowed,
            news_source=self._news_source(room, s),
        )

    def _news_source(self, room: Room, s: Session | None) -> str:
        """The approved news plan's sources, for the playlist's metadata (Art. 10)."""
        editorial = getattr(getattr(self.p, "review", None), "editorial", None)
        if editorial is None or not hasattr(editorial, "approved_plan"):
            return ""

        def read(session: Session) -> str:
            plan = editorial.approved_plan(session, room.id)
            if plan is None:
                return ""
            parts = [plan.reprint_source, *(plan.sources or [])]
            return " · ".join(x for x in parts if x)[:300]

        if s is not None:
            return read(s)
        with self.p.db.session() as own:
            return read(own)

    # -- pipeline callbacks (on the loop) -------------------------------------------------
    def _on_segment(self, segment: PublishedSegment) -> None:
        self.p.metrics.segments_published.inc()
        for listener in list(self.segment_listeners):
            listener(segment)

    def _on_frame(self, room: str, frame: SampledFrame) -> None:
        for listener in list(self.frame_listeners):
            try:
                listener(room, frame)
            except Exception:
                log.exception("frame listener failed")

    def _on_audio(self, room: str, chunk: AudioChunk) -> None:
        for listener in list(self.audio_listeners):
            try:
                listener(room, chunk)
            except Exception:
                log.exception("audio listener failed")

    def _on_ended(self, ended: StreamEnded) -> None:
        for listener in list(self.ended_listeners):
            listener(ended)
        entry = self.live.get(ended.room)
        if entry is None or entry.stream.session != ended.session:
            return
        del self.live[ended.room]
        self.p.metrics.live_streams.set(len(self.live))
        reason = f"{ended.reason}: {ended.detail}" if ended.detail else ended.reason
        task = asyncio.create_task(self._record_end(entry, reason, ended))
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    async def _record_end(self, entry: LiveEntry, reason: str, ended: StreamEnded) -> None:
        def write() -> None:
            with self.p.db.session() as s:
                self.p.rooms.end_session(s, entry.session_id, reason)
                ss = s.get(StreamSession, entry.session_id)
                if ss is not None:
                    ss.replay_available = ended.replay is not None
        await asyncio.to_thread(write)
        for listener in list(self.recorded_listeners):
            listener(entry.room, entry.session_id)
        await self.hub.send_local(entry.room, {"type": "offline", "room": entry.room})

    # -- cut-off -------------------------------------------------------------------------
    async def cutoff(self, room: Room | str, *, actor: str, reason: str,
                     block_minutes: int | None = None) -> CutoffResult:
        """Issue an order (durable, audited) and carry it out here at once; other nodes follow."""
        room_id = room if isinstance(room, str) else room.id

        def issue() -> int:
            with self.p.db.session() as s:
                order = self.p.rooms.cutoff(s, self.p.rooms.get(s, room_id), actor=actor, reason=reason,
                                            block_minutes=block_minutes)
                return order.id

        order_id = await asyncio.to_thread(issue)
        result = await self.carry_out(order_id, room_id, reason)
        with contextlib.suppress(Exception):
            await self.p.broker.publish(CONTROL_CHANNEL, {"type": "cutoff", "order": order_id, "room": room_id,
                                                          "reason": reason})
        return result

    async def carry_out(self, order_id: int, room_id: str, reason: str) -> CutoffResult:
        async with self._order_lock:
            if order_id in self._done_orders:
                return CutoffResult(order_id, room_id, False, False, 0, time.monotonic())
            self._done_orders.add(order_id)
        entry = self.live.get(room_id)
        stream_cut = publisher_closed = False
        if entry is not None:
            stream_cut = entry.stream.cutoff(reason)
            if self.rtmp is not None:
                publisher_closed = await self.rtmp.close_publisher(entry.stream_key, f"cut off: {reason}")
        notified = await self.hub.send_local(room_id, {"type": "cutoff", "room": room_id, "reason": reason})
        if stream_cut:
            self.p.metrics.cutoffs.inc()
            log.info("room %s cut off on this node (order %d)", room_id, order_id)
        result = CutoffResult(order_id, room_id, stream_cut, publisher_closed, notified, time.monotonic())
        for listener in list(self.cutoff_listeners):
            listener(result)
        return result

    async def _listen_control(self, ready: asyncio.Event) -> None:
        try:
            async with self.p.broker.subscribe(CONTROL_CHANNEL) as sub:
                ready.set()
                async for msg in sub:
                    if msg.get("type") == "cutoff" and isinstance(msg.get("order"), int):
                        await self.carry_out(msg["order"], str(msg.get("room", "")), str(msg.get("reason", "")))
        finally:
            ready.set()

    async def _poll_control(self) -> None:
        interval = self.p.settings.control_poll_seconds

        db = self.p.db
        query = (select(ControlOrder.id, ControlOrder.target, ControlOrder.payload)
                 .where(ControlOrder.id > bindparam("after"), ControlOrder.kind == "cutoff")
                 .order_by(ControlOrder.id))  # built once: this runs twice a second on every node

        def fetch(after: int) -> list[tuple[int, str, str]]:
            with db.read() as conn:
                rows = conn.execute(query, {"after": after}).all()
            return [(i, t, str((pl or {}).get("reason", ""))) for i, t, pl in rows]

        while True:
            try:
                # a local read takes ~0.1 ms: cheaper on the loop than a thread hop each poll
                orders = fetch(self._last_order) if db.reads_locally else await asyncio.to_thread(
                    fetch, self._last_order)
                for order_id, room_id, reason in orders:
                    self._last_order = max(self._last_order, order_id)
                    await self.carry_out(order_id, room_id, reason)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("control poll failed")
            await asyncio.sleep(interval)

    # -- viewers -------------------------------------------------------------------------
    async def _count_changed(self, room: str, count: int) -> None:
        self._counts_dirty.add(room)

    async def _presence_loop(self) -> None:
        """Publish this node's viewer counts; the room's count is the sum over nodes."""
        retiered: tuple[object, ...] | None = None
        retiered_at = 0.0
        while True:
            try:
                rooms = set(self._counts_dirty) | set(self.hub.rooms())
                self._counts_dirty.clear()
                totals: dict[str, int] = {}
                if rooms:
                    counts = {r: self.hub.count(r) for r in rooms}
                    totals = await asyncio.to_thread(write_presence, self.p, counts)
                    for room, total in totals.items():
                        await self.hub.send_local(room, {"type": "viewers", "count": total})
                # Re-tier when an audience, the live set, the policy or the emergency switch
                # changed, and every RETIER_SECONDS anyway (other nodes' audiences, credit).
                state = (tuple(sorted(totals.items())), tuple(sorted(self.live)), id(self.p.policy.get()),
                         getattr(getattr(getattr(self.p, "review", None), "emergency", None),
                                 "raised_sampling_seconds", None))
                now = time.monotonic()
                if now - self._beaten_at >= NODE_BEAT.total_seconds():
                    self._beaten_at = now
                    await asyncio.to_thread(beat, self.p)
                if self.live and (state != retiered or now - retiered_at >= RETIER_SECONDS):
                    retiered, retiered_at = state, now
                    await asyncio.to_thread(self.retier)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("presence update failed")
            await asyncio.sleep(2.0)

    async def _lost_nodes_job(self) -> str | None:
        """End the streams of nodes that stopped answering; their viewers are told at once."""
        rooms = await asyncio.to_thread(end_lost_sessions, self.p)
        for room in rooms:
            await self.hub.publish(room, {"type": "offline", "room": room})
        return f"ended {len(rooms)} stream(s) of lost nodes: {', '.join(rooms)}" if rooms else None

    def retier(self) -> dict[str, float]:
        """Re-apply the policy to rooms live on this node: a room whose audience moved to another
        tier (or under an emergency's raised sampling) gets its new frame-sampling interval now.
        Delay and mark stay as admitted: changing them mid-stream would tear the playlist."""
        changed: dict[str, float] = {}
        with self.p.db.session() as s:
            for room_id, entry in list(self.live.items()):
                room = s.get(Room, room_id)
                if room is None:
                    continue
                wanted = self.settings_for(room, s).sample_interval_seconds
                current = entry.stream.sample_interval
                if wanted and current is not None and abs(current - wanted) > 1e-6:
                    entry.stream.set_sample_interval(wanted)
                    changed[room_id] = wanted
        for room_id, seconds in changed.items():
            log.info("room %s now sampled every %g s", room_id, seconds)
        return changed

    def hls_path(self, room: str, name: str) -> Path:
        return self.layout.hls_dir(room) / name

