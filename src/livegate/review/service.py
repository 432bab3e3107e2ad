"""The review module of one node (``platform.review``): signals on the frame, audio and
text taps, the hash bank kept in step across nodes, cases and decisions, patrol, emergency
switches, news plans and image-text posts.

Frames are analysed off the event loop on a small thread pool; a room whose previous frame
is still being analysed skips the new one (the sampler will offer another), so a slow
classifier never builds a backlog. A close hash-bank match (or a score at the policy's
``auto_action_score``) cuts the stream at once through ``p.media.cutoff``.

The hash bank is rows in ``review_hashes``; each node holds them in a :class:`PdqIndex`. An
addition is announced on the broker's ``review`` channel and every node also polls for rows
newer than the last it has (every ``BANK_POLL_SECONDS``, on the analysis path), so an
addition is effective everywhere within seconds even without a shared broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from livegate.core.errors import NotFound, ValidationFailed
from livegate.media.models import Room
from livegate.media.sampler import AudioChunk, SampledFrame
from livegate.review.cases import CaseService
from livegate.review.editorial import EditorialService, NewsPlanApproved, mark_image, needs_editorial
from livegate.review.emergency import EmergencyPause, EmergencyService
from livegate.review.errors import InvalidDecision
from livegate.review.models import BankedHash, ImageTextPost, ProfileChange, PublisherWarning, ReviewCase
from livegate.review.patrol import PatrolService
from livegate.review.signals.audio import SpeechToText, TranscriptSignal
from livegate.review.signals.base import Finding, SignalRegistry, SignalType
from livegate.review.signals.classifier import NudityClassifierSignal
from livegate.review.signals.hashbank import HashBankSignal
from livegate.review.signals.lexicon import LexiconSignal
from livegate.review.signals.pdq import PdqHash, pdq_hash_bytes, pdq_hash_rgb

if TYPE_CHECKING:
    from livegate.app import Platform

log = logging.getLogger(__name__)
REVIEW_CHANNEL = "review"
BANK_POLL_SECONDS = 2.0
SYSTEM_ACTOR = "system:review"


@dataclass(frozen=True)
class FrameVerdict:
    room: str
    case_id: int | None
    cut_reason: str | None
    findings: tuple[Finding, ...]
    analysed_at: float


class ReviewModule:
    def __init__(self, platform: Platform) -> None:
        self.p = platform
        rules = platform.policy.get().review
        self.signals = SignalRegistry()
        self.lexicon = LexiconSignal()
        self.bank = HashBankSignal(match_distance=rules.hash_match_distance, min_quality=rules.hash_min_quality,
                                   exact_distance=rules.hash_exact_distance)
        self.classifier = NudityClassifierSignal(threshold=rules.classifier_threshold)
        self.transcript = TranscriptSignal(None, self.lexicon)
        for sig in (self.lexicon, self.bank, self.classifier, self.transcript):
            self.signals.register(sig)
        self.cases = CaseService(platform)
        self.patrol = PatrolService(platform)
        self.emergency = EmergencyService(platform)
        self.editorial = EditorialService(platform)
        platform.gate.add(EmergencyPause())
        platform.gate.add(NewsPlanApproved(platform))
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="review")
        self._busy: set[str] = set()
        self._bank_last_id = 0
        self._bank_polled = 0.0
        self._sync_task: asyncio.Task[Any] | None = None
        self.verdict_listeners: list[Any] = []  # callables(FrameVerdict), on the loop
        media = platform.media
        if media is not None:
            media.frame_listeners.append(self.on_frame)
            listeners = getattr(media, "audio_listeners", None)
            if listeners is not None:
                listeners.append(self.on_audio)

    # -- plug-ins ------------------------------------------------------------------------
    def register_signal(self, signal: SignalType) -> None:
        self.signals.register(signal)

    def use_speech_to_text(self, stt: SpeechToText | None) -> None:
        self.transcript.stt = stt

    # -- public API for other modules -------------------------------------------------------
    def add_signal(self, s: Session, *, kind: str, target_type: str, target_id: str | int, score: float,
                   evidence: dict[str, Any], room_id: str | None = None, account_id: int | None = None) -> int:
        """Record a signal; it merges into the open case of the same target. Returns the case id."""
        return self.cases.add_signal(s, kind=kind, target_type=target_type, target_id=str(target_id), score=score,
                                     evidence=evidence, room_id=room_id, account_id=account_id).id

    def sampling_seconds(self, room: Room, base: float | None) -> float | None:
        """The frame-sampling interval for ``room``: the policy's, tightened by the emergency switch."""
        raised = self.emergency.raised_sampling_seconds
        if raised is None or base is None:
            return base
        return min(base, raised)

    def audio_chunk_seconds(self) -> float | None:
        """Ask the pipeline for the audio tap only when a speech-to-text provider is set."""
        return 10.0 if self.transcript.available else None

    # -- the hash bank ---------------------------------------------------------------------
    def sync_bank(self, *, force: bool = False) -> int:
        """Load hashes added since the last load (any node's); returns how many were new."""
        now = time.monotonic()
        if not force and now - self._bank_polled < BANK_POLL_SECONDS:
            return 0
        self._bank_polled = now
        with self.p.db.session() as s:
            rows = s.execute(select(BankedHash.id, BankedHash.hash_hex, BankedHash.quality, BankedHash.label,
                                    BankedHash.removed).where(BankedHash.id > self._bank_last_id)
                             .order_by(BankedHash.id)).all()
            self.emergency.refresh(s)
        for entry_id, hx, quality, label, removed in rows:
            self._bank_last_id = max(self._bank_last_id, entry_id)
            if not removed:
                self.bank.add(entry_id, PdqHash.from_hex(hx, quality), label)
        return len(rows)

    def add_hash(self, s: Session, *, actor: str, label: str, hash_hex: str | None = None,
                 image: bytes | None = None, evidence_id: int | None = None) -> BankedHash:
        """Bank a hash (given, or computed from an image or a case's frame). The caller's
        transaction commits it; :meth:`announce_hash` then tells the other nodes."""
        if hash_hex is not None:
            try:
                h = PdqHash.from_hex(hash_hex)
            except ValueError as exc:
                raise ValidationFailed(str(exc), field="hash") from exc
        elif image is not None:
            h = pdq_hash_bytes(image)
        else:
            raise ValidationFailed("give a hash or an image", field="hash")
        if h.quality < self.bank.min_quality and hash_hex is None:
            raise ValidationFailed(f"this picture's PDQ quality is {h.quality}, under {self.bank.min_quality}: "
                                   "too flat to match reliably", field="image")
        row = BankedHash(hash_hex=h.hex, quality=h.quality, label=label.strip()[:200] or "banked",
                         evidence_id=evidence_id, added_by=actor, added_at=self.p.clock.now())
        s.add(row)
        s.flush()
        self.p.audit.record(s, actor=actor, action="review.hash_add", target=f"hash:{row.id}",
                            details={"hash": row.hash_hex, "quality": h.quality, "evidence": evidence_id})
        return row

    async def announce_hash(self, row_id: int) -> None:
        await asyncio.to_thread(self.sync_bank, force=True)
        with contextlib.suppress(Exception):
            await self.p.broker.publish(REVIEW_CHANNEL, {"type": "hash_added", "id": row_id})

    async def _listen(self) -> None:
        try:
            async with self.p.broker.subscribe(REVIEW_CHANNEL) as sub:
                async for msg in sub:
                    if msg.get("type") in ("hash_added", "switch"):
                        await asyncio.to_thread(self.sync_bank, force=True)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("review channel listener stopped")

    def _ensure_started(self) -> None:
        if self._sync_task is None or self._sync_task.done():
            self._sync_task = asyncio.get_running_loop().create_task(self._listen(), name="review-listen")
            self.p._tasks.append(self._sync_task)

    # -- frames ----------------------------------------------------------------------------
    def on_frame(self, room: str, frame: SampledFrame) -> None:
        """Frame listener (on the loop): analyse off the loop; act on the verdict."""
        self._ensure_started()
        if room in self._busy:
            return
        self._busy.add(room)
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._pool, self.analyse_frame, room, frame)

        def done(f: asyncio.Future[FrameVerdict]) -> None:
            self._busy.discard(room)
            try:
                verdict = f.result()
            except Exception:
                log.exception("frame analysis failed for room %s", room)
                return
            if verdict.cut_reason:
                task = loop.create_task(self._auto_cut(verdict))
                self.p._tasks.append(task)
                task.add_done_callback(lambda t: self.p._tasks.remove(t) if t in self.p._tasks else None)
            for listener in list(self.verdict_listeners):
                listener(verdict)

        fut.add_done_callback(done)

    def analyse_frame(self, room: str, frame: SampledFrame) -> FrameVerdict:
        self.sync_bank()
        findings: list[Finding] = []
        h = pdq_hash_rgb(frame.rgb)
        hit = self.bank.match(h)
        if hit is not None:
            findings.append(hit)
        for sig in self.signals.image():
            if sig is self.bank:
                continue
            try:
                found = sig.analyse_image(frame.rgb, frame.jpeg)
            except Exception:
                log.exception("signal %s failed", sig.name)
                continue
            if found is not None:
                findings.append(found)
        rules = self.p.policy.get().review
        case_id = None
        cut = None
        with self.p.db.session() as s:
            self.patrol.store_thumbnail(s, room, frame.session, frame.jpeg)
            for f in findings:
                case = self.cases.add_signal(
                    s, kind=f.signal, target_type="room", target_id=room, score=f.score, room_id=room,
                    evidence={"label": f.label, "pts": frame.pts_seconds, "captured_at": frame.captured_at.isoformat(),
                              "session": frame.session, **f.details}, jpeg=frame.jpeg)
                case_id = case.id
                if (f.exact or f.score >= rules.auto_action_score) and case.status != "decided":
                    case.status = "auto_actioned"
                    case.auto_action = "cutoff"
                    cut = f"automatic: {f.signal} match ({f.label})"
        return FrameVerdict(room, case_id, cut, tuple(findings), time.monotonic())

    async def _auto_cut(self, verdict: FrameVerdict) -> None:
        try:
            await self.p.media.cutoff(verdict.room, actor=SYSTEM_ACTOR, reason=verdict.cut_reason or "automatic")
        except Exception:
            log.exception("automatic cut-off of room %s failed", verdict.room)

    # -- audio -----------------------------------------------------------------------------
    def on_audio(self, room: str, chunk: AudioChunk) -> None:
        if not self.transcript.available:
            return
        loop = asyncio.get_running_loop()
        loop.run_in_executor(self._pool, self.analyse_audio, room, chunk)

    def analyse_audio(self, room: str, chunk: AudioChunk) -> int | None:
        found = self.transcript.analyse_audio(chunk.pcm, chunk.sample_rate)
        if found is None:
            return None
        with self.p.db.session() as s:
            return self.add_signal(s, kind=found.signal, target_type="room", target_id=room, score=found.score,
                                   room_id=room, evidence={"label": found.label, "pts": chunk.pts_seconds,
                                                           **found.details})

    # -- text ------------------------------------------------------------------------------
    def check_text(self, text: str) -> list[Finding]:
        out = []
        for sig in self.signals.text():
            found = sig.analyse_text(text)
            if found is not None:
                out.append(found)
        return out

    def check_image(self, jpeg: bytes) -> list[Finding]:
        import io

        import numpy as np
        from PIL import Image

        with Image.open(io.BytesIO(jpeg)) as im:
            rgb = np.asarray(im.convert("RGB"))
        out = []
        for sig in self.signals.image():
            found = sig.analyse_image(rgb, jpeg)
            if found is not None:
                out.append(found)
        return out

    # -- decisions -------------------------------------------------------------------------
    async def decide(self, case_id: int, *, decision: str, reason: str, actor: str,
                     escalate_to: str | None = None, sanction_kind: str = "warning",
                     reason_code: str = "content_violation", days: int | None = None) -> dict[str, Any]:
        def record() -> tuple[dict[str, Any], str | None, int | None]:
            with self.p.db.session() as s:
                case = self.cases.record_decision(s, case_id, decision=decision, reason=reason, actor=actor,
                                                  escalate_to=escalate_to)
                if decision == "warn":
                    s.add(PublisherWarning(account_id=case.account_id, room_id=case.room_id, case_id=case.id,
                                           message=reason.strip()[:2000], created_by=actor,
                                           created_at=self.p.clock.now()))
                self._settle_content(s, case, decision, actor)
                return self.cases.view(s, case), case.room_id, case.account_id

        view, room_id, account_id = await asyncio.to_thread(record)
        if decision == "cutoff" and room_id:
            result = await self.p.media.cutoff(room_id, actor=actor, reason=reason)
            view["cutoff"] = {"order": result.order, "stream_cut_here": result.stream_cut}
        elif decision == "warn" and room_id:
            with contextlib.suppress(Exception):
                await self.p.media.hub.publish(room_id, {"type": "warning", "room": room_id, "message": reason,
                                                         "case": case_id})
        elif decision == "enforce":
            enforcement = getattr(self.p, "enforcement", None)
            if enforcement is None or not hasattr(enforcement, "sanction"):
                view["enforcement"] = "the enforcement module is not installed; the case is recorded for it"
            else:
                await enforcement.sanction(account_id, kind=sanction_kind, reason_code=reason_code, actor=actor,
                                           case_id=case_id, days=days)
                view["enforcement"] = sanction_kind
        return view

    def _settle_content(self, s: Session, case: ReviewCase, decision: str, actor: str) -> None:
        """A decided case about a post or a profile change publishes or rejects it."""
        if decision == "escalate":
            return
        if case.target_type == "post":
            post = s.get(ImageTextPost, int(case.target_id))
            if post is not None and post.status == "held":
                post.status = "published" if decision == "dismiss" else "rejected"
                post.decided_by, post.decided_at = actor, self.p.clock.now()
        elif case.target_type == "profile":
            change = s.get(ProfileChange, int(case.target_id))
            if change is not None and change.status == "pending":
                if decision == "dismiss":
                    self.editorial.apply_profile_change(s, change, actor=actor)
                else:
                    change.status = "rejected"
                    change.decided_by, change.decided_at = actor, self.p.clock.now()

    # -- emergency -------------------------------------------------------------------------
    async def set_switch(self, name: str, on: bool, *, actor: str, reason: str, incident_id: int | None = None,
                         category: str | None = None, seconds: float | None = None) -> dict[str, Any]:
        def write() -> dict[str, Any]:
            with self.p.db.session() as s:
                self.emergency.set_switch(s, name, on, actor=actor, reason=reason, incident_id=incident_id,
                                          category=category, seconds=seconds)
                self.emergency.refresh(s)
                return self.emergency.active(s)

        active = await asyncio.to_thread(write)
        if name == "premoderate_comments":
            chat = getattr(self.p, "chat", None)
            if chat is not None and hasattr(chat, "set_platform_premoderation"):
                await chat.set_platform_premoderation(on, actor=actor, reason=reason)
        with contextlib.suppress(Exception):
            await self.p.broker.publish(REVIEW_CHANNEL, {"type": "switch", "name": name, "on": on})
        return active

    async def cut_off_category(self, category: str, *, actor: str, reason: str,
                               incident_id: int | None = None) -> list[str]:
        self.p.policy.get().category(category)
        if not reason.strip():
            raise ValidationFailed("a cut-off needs a reason", field="reason")

        def live_rooms() -> list[str]:
            with self.p.db.session() as s:
                ids = list(s.scalars(select(Room.id).where(Room.category == category, Room.status == "live")))
                self.emergency.event(s, incident_id, actor=actor, action="category.cutoff",
                                     details={"category": category, "rooms": ids, "reason": reason})
                self.p.audit.record(s, actor=actor, action="emergency.category_cutoff", target=f"category:{category}",
                                    reason=reason, details={"rooms": ids, "incident": incident_id})
                return ids

        rooms = await asyncio.to_thread(live_rooms)
        for room_id in rooms:
            await self.p.media.cutoff(room_id, actor=actor, reason=f"emergency: {reason}")
        return rooms

    # -- image-text posts ------------------------------------------------------------------
    async def post(self, room_id: str, *, account_id: int, text: str, image: bytes | None,
                   actor: str) -> dict[str, Any]:
        text = text.strip()
        if not text and image is None:
            raise ValidationFailed("a post needs text or an image", field="text")
        if len(text) > 5000:
            raise ValidationFailed("a post is at most 5,000 characters", field="text")

        def write() -> tuple[dict[str, Any], bool]:
            policy = self.p.policy.get()
            with self.p.db.session() as s:
                room = self.editorial.owned_room(s, room_id, account_id)
                if room.kind != "image_text":
                    raise InvalidDecision("this room is not an image-text livestream", field="room")
                marked = mark_image(image, policy.platform_mark_text, room.id)[0] if image is not None else None
                findings = self.check_text(text) if text else []
                if marked is not None:
                    findings += self.check_image(marked)
                news = needs_editorial(self.p, room.category)
                plan = self.editorial.approved_plan(s, room.id) if news else None
                source = f"{policy.platform_mark_text} · room {room.id}"
                if plan is not None and plan.reprint_source:
                    source += f" · reprinted from {plan.reprint_source}"
                status = "held" if findings else ("pending" if news else "published")
                post = ImageTextPost(room_id=room.id, account_id=account_id, text=text, image_jpeg=marked,
                                     source_label=source[:300], status=status, created_at=self.p.clock.now())
                s.add(post)
                s.flush()
                for f in findings:
                    post.case_id = self.add_signal(s, kind=f.signal, target_type="post", target_id=post.id,
                                                   score=max(f.score, self.p.policy.get().review.queue_score),
                                                   room_id=room.id, evidence={"label": f.label, **f.details})
                self.p.audit.record(s, actor=actor, action="post.create", target=f"post:{post.id}",
                                    details={"room": room.id, "status": status})
                return self.editorial.post_view(post), status == "published"

        view, publish = await asyncio.to_thread(write)
        if publish:
            await self.p.media.hub.publish(room_id, {"type": "post", "post": view})
        return view

    async def remove_account_posts(self, account_id: int, *, actor: str, reason: str) -> int:
        """Take an account's image-text posts off every public surface (a sanction, Art. 14);
        the rows stay for retention, marked ``removed``. Viewers drop them at once."""
        from sqlalchemy import select

        from livegate.review.models import ImageTextPost

        def write() -> list[tuple[int, str]]:
            with self.p.db.session() as s:
                posts = list(s.scalars(select(ImageTextPost).where(ImageTextPost.account_id == account_id,
                                                                   ImageTextPost.status.in_(("published", "pending")))))
                for post in posts:
                    post.status = "removed"
                    post.decided_by = actor
                    post.decided_at = self.p.clock.now()
                if posts:
                    self.p.audit.record(s, actor=actor, action="review.posts_removed", target=f"account:{account_id}",
                                        reason=reason, details={"posts": [x.id for x in posts]})
                return [(x.id, x.room_id) for x in posts]

        removed = await asyncio.to_thread(write)
        for post_id, room_id in removed:
            await self.p.media.hub.publish(room_id, {"type": "post_removed", "id": post_id})
        return len(removed)

    async def decide_post(self, post_id: int, *, approve: bool, actor: str, reason: str) -> dict[str, Any]:
        def write() -> dict[str, Any]:
            with self.p.db.session() as s:
                post = s.get(ImageTextPost, post_id)
                if post is None:
                    raise NotFound("no such post")
                if post.status != "pending":
                    raise InvalidDecision(f"this post is {post.status}", field="post")
                post.status = "published" if approve else "rejected"
                post.decided_by, post.decided_at = actor, self.p.clock.now()
                self.p.audit.record(s, actor=actor, action=f"post.{post.status}", target=f"post:{post.id}",
                                    reason=reason)
                return self.editorial.post_view(post)

        view = await asyncio.to_thread(write)
        if view["status"] == "published":
            await self.p.media.hub.publish(view["room_id"], {"type": "post", "post": view})
        return view

    # -- profile changes -------------------------------------------------------------------
    def request_profile_change(self, s: Session, *, account_id: int, field: str, target_id: str, text: str,
                               actor: str) -> ProfileChange:
        """Titles and nicknames pass the text signals before they are shown: clean text is
        applied at once, anything flagged waits for a reviewer as a ``profile`` case."""
        if field not in ("room_title", "nickname"):
            raise ValidationFailed("field must be room_title or nickname", field="field")
        text = text.strip()
        limit = 120 if field == "room_title" else 64
        if not text or len(text) > limit:
            raise ValidationFailed(f"1-{limit} characters", field="text")
        if field == "room_title":
            self.editorial.owned_room(s, target_id, account_id)
        change = ProfileChange(account_id=account_id, field=field, target_id=target_id, new_text=text,
                               status="pending", created_at=self.p.clock.now())
        s.add(change)
        s.flush()
        findings = self.check_text(text)
        if not findings:
            self.editorial.apply_profile_change(s, change, actor="system:review")
            return change
        for f in findings:
            change.case_id = self.add_signal(
                s, kind=f.signal, target_type="profile", target_id=change.id,
                score=max(f.score, self.p.policy.get().review.queue_score), account_id=account_id,
                room_id=target_id if field == "room_title" else None,
                evidence={"field": field, "text": text, "label": f.label, **f.details})
        self.p.audit.record(s, actor=actor, action="profile.change_held", target=f"{field}:{target_id}",
                            details={"change": change.id})
        return change

    def request_profile_image(self, s: Session, *, account_id: int, field: str, target_id: str, data: bytes,
                              content_type: str, actor: str) -> ProfileChange:
        """Covers and avatars pass the image signals (hash bank, classifier) before they are shown:
        a clean picture is applied at once, anything flagged waits for a reviewer. The upload is
        decoded, bounded and re-encoded first (metadata dropped), as identity photos are."""
        from livegate.identity.photos import clean_photo

        if field not in ("room_cover", "avatar"):
            raise ValidationFailed("field must be room_cover or avatar", field="field")
        if field == "room_cover":
            self.editorial.owned_room(s, target_id, account_id)
        photo = clean_photo(data, content_type)
        change = ProfileChange(account_id=account_id, field=field, target_id=target_id, new_text="",
                               new_image=photo.data, status="pending", created_at=self.p.clock.now())
        s.add(change)
        s.flush()
        findings = self.check_image(photo.data)
        if not findings:
            self.editorial.apply_profile_change(s, change, actor="system:review")
            return change
        for f in findings:
            change.case_id = self.add_signal(
                s, kind=f.signal, target_type="profile", target_id=change.id,
                score=max(f.score, self.p.policy.get().review.queue_score), account_id=account_id,
                room_id=target_id if field == "room_cover" else None,
                evidence={"field": field, "label": f.label, **f.details})
        self.p.audit.record(s, actor=actor, action="profile.change_held", target=f"{field}:{target_id}",
                            details={"change": change.id})
        return change

    def current_image(self, s: Session, field: str, target_id: str) -> bytes | None:
        """The newest reviewed-and-applied cover or avatar, or None."""
        from sqlalchemy import select

        return s.scalar(select(ProfileChange.new_image).where(
            ProfileChange.field == field, ProfileChange.target_id == target_id, ProfileChange.status == "applied",
            ProfileChange.new_image.is_not(None)).order_by(ProfileChange.id.desc()).limit(1))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
