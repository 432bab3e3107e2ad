"""The complaints module (``platform.complaints``): intake, evidence, cases, SLA, decisions.

A report is durable before its ticket is shown: the report, its case, its evidence and the
spent proof-of-work challenge commit in one transaction, and only then does the reporter
get a ticket number and a private status link. Nothing else (the review queue, the
retention module, the broker) can make an acknowledged report disappear: calls into
modules that may not be there yet are guarded and fall back to this module's own records.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from livegate.chat.lexicon import Category
from livegate.complaints.errors import (
    CaseClosed,
    CaseNotFound,
    ChallengeInvalid,
    ChallengeRequired,
    TargetInvalid,
    TicketNotFound,
)
from livegate.complaints.models import ComplaintCase, ComplaintChallengeSpent, ComplaintEvidence, ComplaintReport
from livegate.complaints.pow import Challenge, ChallengeIssuer
from livegate.complaints.retention import CASE_HOLD_PREFIX
from livegate.core.broker import BrokerClosed
from livegate.core.errors import NotFound, ValidationFailed
from livegate.core.models import Account
from livegate.core.ratelimit import RateRule
from livegate.media.models import Room, StreamSession

if TYPE_CHECKING:
    from livegate.app import Platform
    from livegate.media.sampler import SampledFrame

log = logging.getLogger(__name__)

PATROL_CHANNEL = "patrol"
CAPTURE_CHANNEL = "complaints.capture"
ACTOR = "system:complaints"
CONTACT_FIELD = "complaint_contact"
MAX_DESCRIPTION = 2000
MAX_CONTACT = 200
SEGMENTS_AROUND = 6
TARGET_TYPES = ("room", "message", "account", "sanction")
TARGET_ALIASES = {"comment": "message", "user": "account"}
SURGE_PRIORITY = 2
TICKET_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

# Outcomes a case can end with; the value is what the reporter is told.
OUTCOMES: dict[str, str] = {
    "no_violation": "We reviewed the report and found no violation of the rules.",
    "content_removed": "The reported content was removed.",
    "stream_cut": "The live stream was stopped.",
    "sanctioned": "The account was sanctioned.",
    "referred": "The matter was referred to the competent authorities.",
    "appeal_forwarded": "Your complaint about a sanction was forwarded as an appeal.",
}
SANCTION_KINDS = ("warning", "suspension", "closure")
# What a review decision means for the reporters of the complaints it carried.
_OUTCOME_BY_REVIEW = {"dismiss": "no_violation", "warn": "sanctioned", "enforce": "sanctioned",
                      "cutoff": "stream_cut"}

_EXTRA_CATEGORIES: dict[str, str] = {
    "rights.infringement": "Infringement of rights (copyright, portrait, privacy, reputation)",
    "fraud": "Fraud or scam",
    "minors": "Harm to minors",
    "other": "Other",
}


def complaint_categories() -> dict[str, str]:
    """Category code -> label: the lexicon's illegal and harmful categories, then ours."""
    out = {c.value: f"{c.label_zh} ({c.value})" for c in Category if c.group in ("illegal", "harmful")}
    out.update(_EXTRA_CATEGORIES)
    return out


_REASON_BY_CATEGORY: dict[str, str] = {
    **{c: "prohibited.national_security" for c in ("illegal.constitution", "illegal.national_security",
                                                   "illegal.subversion", "illegal.national_honor",
                                                   "illegal.terrorism_extremism")},
    **{c: "prohibited.social_order" for c in ("illegal.heroes_martyrs", "illegal.ethnic_hatred",
                                              "illegal.cult_superstition", "illegal.rumour", "illegal.gambling",
                                              "illegal.violence")},
    "illegal.obscenity": "prohibited.pornography", "harmful.sexual_suggestion": "prohibited.pornography",
    "illegal.insult_defamation": "prohibited.infringement", "rights.infringement": "prohibited.infringement",
    "illegal.other": "prohibited.other", "fraud": "prohibited.other", "minors": "prohibited.other",
    "harmful.minors": "prohibited.other",
}


def sanction_reason(category: str, target_type: str) -> str:
    """The enforcement reason code a complaint category implies (a decider may name another)."""
    if category in _REASON_BY_CATEGORY:
        return _REASON_BY_CATEGORY[category]
    return "interaction.uncivil" if target_type == "message" else "livestream.disorder"


def _as_id(text: str) -> int | None:
    """A numeric id that fits every backend's integer column, or None."""
    return int(text) if text.isdigit() and len(text) <= 10 and int(text) < 2**31 else None


def _high_priority(category: str) -> bool:
    return category.startswith("illegal.") or category in ("minors", "harmful.minors")


@dataclass(frozen=True)
class ReportIntake:
    """What a reporter sends (validated at the edge; checked again here)."""

    target_type: str
    target_id: str
    category: str
    description: str = ""
    contact: str = ""
    room_id: str | None = None  # for a comment: the room it was sent in


@dataclass(frozen=True)
class Receipt:
    ticket: str
    token: str
    case_id: int
    report_id: int
    merged: bool
    surge: bool

    @property
    def status_path(self) -> str:
        return f"/report/status/{self.token}"


@dataclass
class _Resolved:
    target_type: str
    target_id: str
    room_id: str | None
    account_id: int | None
    room_live: bool = False
    message_context: list[dict[str, Any]] | None = None
    notes: list[str] = field(default_factory=list)


class LatestFrames:
    """The newest sampled frame of each live room carried by this node (memory only)."""

    def __init__(self) -> None:
        self._frames: dict[str, SampledFrame] = {}

    def offer(self, room: str, frame: SampledFrame) -> None:
        self._frames[room] = frame

    def forget(self, room: str, session: str | None = None) -> None:
        frame = self._frames.get(room)
        if frame is not None and (session is None or frame.session == session):
            del self._frames[room]

    def latest(self, room: str) -> SampledFrame | None:
        return self._frames.get(room)


def _frame_data(frame: SampledFrame, node: str) -> dict[str, Any]:
    return {"room": frame.room, "session": frame.session, "pts_seconds": round(frame.pts_seconds, 3),
            "captured_at": frame.captured_at.isoformat(), "width": frame.width, "height": frame.height,
            "sha256": hashlib.sha256(frame.jpeg).hexdigest(), "node": node}


class ComplaintsModule:
    """Wired once per platform as ``platform.complaints``."""

    def __init__(self, platform: Platform) -> None:
        self.p = platform
        secret = platform.settings.resolved_secret_key()
        self.challenges = ChallengeIssuer(secret)
        self._ip_key = hmac.new(secret, b"livegate/complaints/ip", hashlib.sha256).digest()
        self.frames = LatestFrames()
        self._capture_task: asyncio.Task[None] | None = None
        self.patrol_listeners: list[Callable[[dict[str, Any]], None]] = []
        media = getattr(platform, "media", None)
        if media is not None:
            media.frame_listeners.append(self._on_frame)
            media.ended_listeners.append(lambda ended: self.frames.forget(ended.room, ended.session))
        identity = getattr(platform, "identity", None)
        if identity is not None and hasattr(identity, "sealed_columns"):  # rotated and counted with the vault
            identity.sealed_columns.append((ComplaintReport, "contact_sealed", False))
        platform.scheduler.add("complaints.sla", dt.timedelta(minutes=1), self._sla_job)
        platform.scheduler.add("complaints.challenge_purge", dt.timedelta(hours=1), self._purge_job)

    # -- policy ---------------------------------------------------------------------------
    def _rules(self) -> tuple[RateRule, RateRule, RateRule]:
        intake = self.p.policy.get().complaints.intake
        per_ip = intake.per_ip.rule("complaints.per_ip")
        per_account = intake.per_account.rule("complaints.per_account")
        # Challenges are cheap to issue but not free: a few per report allowed.
        challenges = RateRule.per_window("complaints.challenges", intake.per_ip.limit * 5, intake.per_ip.per_seconds)
        return per_ip, per_account, challenges

    # -- frames -----------------------------------------------------------------------------
    def _on_frame(self, room: str, frame: SampledFrame) -> None:
        """Runs on the event loop: keep the frame; make sure this node answers capture requests."""
        self.frames.offer(room, frame)
        if self._capture_task is None or self._capture_task.done():
            with contextlib.suppress(RuntimeError):
                self._capture_task = asyncio.get_running_loop().create_task(self._capture_loop(),
                                                                            name="complaints-capture")
                self.p._tasks.append(self._capture_task)

    async def _capture_loop(self) -> None:
        """Fill in frames asked for by a node that took a report on a room it does not carry."""
        try:
            async with self.p.broker.subscribe(CAPTURE_CHANNEL) as sub:
                async for msg in sub:
                    with contextlib.suppress(Exception):
                        await self.answer_capture(msg)
        except asyncio.CancelledError:
            raise
        except BrokerClosed:
            return  # the platform is stopping
        except Exception:
            log.exception("complaints capture listener stopped")

    async def answer_capture(self, msg: dict[str, Any]) -> bool:
        if msg.get("type") != "capture" or not isinstance(msg.get("evidence"), int):
            return False
        frame = self.frames.latest(str(msg.get("room", "")))
        if frame is None:
            return False

        def write() -> bool:
            with self.p.db.session() as s:
                ev = s.get(ComplaintEvidence, msg["evidence"])
                if ev is None or ev.blob is not None or ev.kind != "frame":
                    return False
                ev.blob = frame.jpeg
                ev.data = {**_frame_data(frame, self.p.settings.node_name), "relayed": True}
                return True

        return await asyncio.to_thread(write)

    # -- intake -----------------------------------------------------------------------------
    async def issue_challenge(self, *, ip: str) -> Challenge:
        await self.p.ratelimit.check_or_raise(self._rules()[2], self._ip_hash(ip))
        bits = self.p.policy.get().complaints.intake.challenge_bits
        return self.challenges.issue(now=self.p.clock.now().timestamp(), bits=bits)

    def _ip_hash(self, ip: str) -> str:
        return hmac.new(self._ip_key, ip.encode(), hashlib.sha256).hexdigest()

    async def submit(self, intake: ReportIntake, *, ip: str, account_id: int | None = None,
                     challenge: str = "", nonce: str = "") -> Receipt:
        """Take one report: limits, proof of work (anonymous), then a durable record."""
        intake = self._validated(intake)
        per_ip, per_account, _ = self._rules()
        ip_hash = self._ip_hash(ip)
        spent: Challenge | None = None
        bits = self.p.policy.get().complaints.intake.challenge_bits
        if account_id is None and bits > 0:
            if not challenge or not nonce:
                raise ChallengeRequired()
            spent = self.challenges.verify(challenge, nonce, now=self.p.clock.now().timestamp(), min_bits=bits)
        await self.p.ratelimit.check_or_raise(per_ip, ip_hash)
        if account_id is not None:
            await self.p.ratelimit.check_or_raise(per_account, str(account_id))
        receipt, surge_event, capture = await asyncio.to_thread(
            self._record, intake, ip_hash, account_id, spent)
        if surge_event is not None:
            await self._alert_patrol(surge_event)
        if capture is not None:
            with contextlib.suppress(Exception):
                await self.p.broker.publish(CAPTURE_CHANNEL, capture)
        return receipt

    def _validated(self, intake: ReportIntake) -> ReportIntake:
        target_type = TARGET_ALIASES.get(intake.target_type, intake.target_type)
        if target_type not in TARGET_TYPES:
            raise ValidationFailed(f"target_type must be one of {', '.join(TARGET_TYPES)}")
        if intake.category not in complaint_categories():
            raise ValidationFailed("unknown category", category=intake.category[:64])
        target_id = intake.target_id.strip()
        if not target_id or len(target_id) > 128:
            raise ValidationFailed("target_id must be 1 to 128 characters")
        if len(intake.description) > MAX_DESCRIPTION or len(intake.contact) > MAX_CONTACT:
            raise ValidationFailed(f"the description is limited to {MAX_DESCRIPTION} characters and the contact to "
                                   f"{MAX_CONTACT}")
        room_id = (intake.room_id or "").strip() or None
        return ReportIntake(target_type, target_id, intake.category, intake.description.strip(),
                            intake.contact.strip(), room_id)

    def _record(self, intake: ReportIntake, ip_hash: str, account_id: int | None,
                spent: Challenge | None) -> tuple[Receipt, dict[str, Any] | None, dict[str, Any] | None]:
        p = self.p
        now = p.clock.now()
        with p.db.session() as s:
            if spent is not None:
                s.add(ComplaintChallengeSpent(challenge_id=spent.id,
                                              expires_at=dt.datetime.fromtimestamp(spent.expires, dt.UTC)))
                try:
                    s.flush()
                except IntegrityError:
                    raise ChallengeInvalid("this challenge has already been used; fetch a new one") from None
            target = self._resolve(s, intake)
            case, merged = self._case_for(s, intake, target, now)
            token = secrets.token_urlsafe(24)
            report = ComplaintReport(
                ticket=self._new_ticket(s), token_hash=_token_hash(token), case_id=case.id,
                category=intake.category, target_type=target.target_type, target_id=target.target_id,
                room_id=target.room_id, description=intake.description, reporter_account_id=account_id,
                ip_hash=ip_hash, received_at=now,
            )
            s.add(report)
            s.flush()
            if intake.contact:
                report.contact_sealed = p.identity.vault.seal(intake.contact, record_id=report.id,
                                                              field=CONTACT_FIELD).to_str()
            capture = self._capture_evidence(s, case, report, target, now)
            self._hold(s, case, target)
            if not merged:
                self._link_modules(s, case, report, target)
            surge_event = self._check_surge(s, case, target, now)
            p.audit.record(s, actor=f"account:{account_id}" if account_id else "anonymous",
                           action="complaint.received", target=f"complaint_case:{case.id}",
                           details={"ticket": report.ticket, "category": intake.category,
                                    "target": f"{target.target_type}:{target.target_id}", "merged": merged,
                                    "count": case.report_count})
            receipt = Receipt(report.ticket, token, case.id, report.id, merged, surge_event is not None)
        return receipt, surge_event, capture

    def _new_ticket(self, s: Session) -> str:
        while True:
            ticket = "C" + "".join(secrets.choice(TICKET_ALPHABET) for _ in range(9))
            if s.scalar(select(ComplaintReport.id).where(ComplaintReport.ticket == ticket)) is None:
                return ticket

    def _resolve(self, s: Session, intake: ReportIntake) -> _Resolved:
        tt, tid = intake.target_type, intake.target_id
        if tt == "room":
            room = s.get(Room, tid)
            if room is None:
                raise TargetInvalid("there is no such room")
            return _Resolved(tt, room.id, room.id, room.owner_id, room_live=room.status == "live")
        if tt == "account":
            account_id = _as_id(tid)
            account = s.get(Account, account_id) if account_id is not None else None
            if account is None:
                raise TargetInvalid("there is no such user")
            room = s.scalars(select(Room).where(Room.owner_id == account.id, Room.status == "live")).first()
            return _Resolved(tt, str(account.id), room.id if room else None, account.id,
                             room_live=room is not None)
        if tt == "message":
            out = _Resolved(tt, tid, intake.room_id, None)
            chat = getattr(self.p, "chat", None)
            context_of = getattr(chat, "message_context", None)
            message_id = _as_id(tid)
            if context_of is not None and message_id is None:
                raise TargetInvalid("there is no such comment")
            if context_of is not None and message_id is not None:
                try:
                    with s.begin_nested():
                        # Commenters' network details stay in the comments table, not in evidence.
                        context = [{k: v for k, v in m.items() if k not in ("ip", "client")}
                                   for m in context_of(s, message_id, before=5, after=5)]
                except NotFound:
                    raise TargetInvalid("there is no such comment") from None
                except Exception:
                    log.exception("chat.message_context failed; the comment is recorded by id only")
                    context = []
                    out.notes.append("comment context unavailable")
                out.message_context = context
                own = next((m for m in context if str(m.get("id")) == tid), None)
                if own is not None:
                    out.room_id = str(own.get("room_id") or own.get("room") or out.room_id or "") or None
                    author = own.get("account") or own.get("account_id")
                    out.account_id = int(author) if isinstance(author, int) else None
            else:
                out.notes.append("comments module not present: the comment is recorded by id only")
            if out.room_id is not None:
                room = s.get(Room, out.room_id)
                if room is None:
                    out.room_id = None
                else:
                    out.room_live = room.status == "live"
            return out
        # A complaint about a sanction: the sanctioned person's way to appeal.
        get_sanction = getattr(getattr(self.p, "enforcement", None), "get_sanction", None)
        if get_sanction is None:
            return _Resolved(tt, tid, None, None)
        try:
            with s.begin_nested():
                sanction_id = _as_id(tid)
                sanction = get_sanction(s, sanction_id) if sanction_id is not None else None
        except NotFound:
            sanction = None
        if sanction is None:
            raise TargetInvalid("there is no such sanction")
        return _Resolved(tt, str(sanction.id), getattr(sanction, "room_id", None), sanction.account_id)

    def _case_for(self, s: Session, intake: ReportIntake, target: _Resolved,
                  now: dt.datetime) -> tuple[ComplaintCase, bool]:
        key = f"{target.target_type}:{target.target_id}"
        case = s.scalars(select(ComplaintCase).where(ComplaintCase.merge_key == key)).first()
        merged = case is not None
        if case is None:
            sla = self.p.policy.get().complaints
            try:
                with s.begin_nested():
                    case = ComplaintCase(
                        merge_key=key, target_type=target.target_type, target_id=target.target_id,
                        room_id=target.room_id, account_id=target.account_id, category=intake.category,
                        status="open", priority=1 if _high_priority(intake.category) else 0, report_count=0,
                        opened_at=now, ack_due_at=now + sla.acknowledge_within, decide_due_at=now + sla.decide_within,
                        actions=[],
                    )
                    s.add(case)
                    s.flush()
            except IntegrityError:  # another node opened it a moment ago
                case = s.scalars(select(ComplaintCase).where(ComplaintCase.merge_key == key)).one()
                merged = True
        assert case is not None
        s.execute(update(ComplaintCase).where(ComplaintCase.id == case.id)
                  .values(report_count=ComplaintCase.report_count + 1))
        s.refresh(case)
        if merged and _high_priority(intake.category) and case.priority < 1:
            case.priority = 1
        return case, merged

    # -- evidence -----------------------------------------------------------------------------
    def _capture_evidence(self, s: Session, case: ComplaintCase, report: ComplaintReport, target: _Resolved,
                          now: dt.datetime) -> dict[str, Any] | None:
        """Frame, comment context and segment reference as they are now; returns a capture
        request for the node carrying the room when this node has no frame of it."""
        capture: dict[str, Any] | None = None
        node = self.p.settings.node_name
        if target.target_type == "message":
            data: dict[str, Any] = {"message_id": target.target_id, "room": target.room_id,
                                    "context": target.message_context, "notes": target.notes}
            s.add(ComplaintEvidence(report_id=report.id, case_id=case.id, kind="message", data=data,
                                    captured_at=now, held=True))
        room_id = target.room_id
        if room_id is None or not target.room_live:
            return None
        frame = self.frames.latest(room_id)
        data = _frame_data(frame, node) if frame else {"room": room_id, "pending": True}
        blob = frame.jpeg if frame else None
        if frame is not None:
            # A burst of reports on one picture keeps the picture once.
            last = s.scalars(select(ComplaintEvidence).where(ComplaintEvidence.case_id == case.id,
                                                             ComplaintEvidence.kind == "frame")
                             .order_by(ComplaintEvidence.id.desc()).limit(1)).first()
            if last is not None and (last.data or {}).get("sha256") == data["sha256"]:
                data = {**data, "same_as": last.data.get("same_as", last.id)}
                blob = None
        ev = ComplaintEvidence(report_id=report.id, case_id=case.id, kind="frame", captured_at=now, held=True,
                               blob=blob, data=data)
        s.add(ev)
        s.flush()
        if frame is None:
            capture = {"type": "capture", "evidence": ev.id, "room": room_id}
        room = s.get(Room, room_id)
        session_id = room.live_session_id if room else None
        ss = s.get(StreamSession, session_id) if session_id else None
        if ss is not None:
            session = f"s{ss.id}"
            media = getattr(self.p, "media", None)
            names: list[str] = []
            if media is not None:
                with contextlib.suppress(Exception):
                    names = [path.name for path in media.layout.session_segments(room_id, session)][-SEGMENTS_AROUND:]
            s.add(ComplaintEvidence(
                report_id=report.id, case_id=case.id, kind="segments", captured_at=now, held=True,
                data={"room": room_id, "session": session, "session_id": ss.id, "segments": names,
                      "recording": ss.recording_path or "", "session_started_at": ss.started_at.isoformat(),
                      "reported_at": now.isoformat(), "offset_seconds": (now - ss.started_at).total_seconds()},
            ))
        return capture

    def _hold(self, s: Session, case: ComplaintCase, target: _Resolved) -> None:
        """Put the evidence under a legal hold: the retention module's when present, else ours."""
        retention = getattr(self.p, "retention", None)
        place_hold = getattr(retention, "place_hold", None)
        if place_hold is None or any(a.get("type") == "hold" for a in case.actions or []):
            return
        holds: list[dict[str, Any]] = []
        scopes = [("case", f"{CASE_HOLD_PREFIX}{case.id}")]
        if target.room_id:
            scopes.append(("room", target.room_id))
        for scope_type, scope_id in scopes:
            try:
                with s.begin_nested():
                    hold_id = place_hold(s, scope_type=scope_type, scope_id=scope_id,
                                         reason=f"evidence for complaint case {case.id}", actor=ACTOR)
                holds.append({"type": "hold", "scope": f"{scope_type}:{scope_id}", "hold_id": hold_id})
            except Exception:
                log.exception("retention.place_hold failed; evidence stays held by the complaints module")
        if holds:
            case.actions = [*(case.actions or []), *holds]

    def _link_modules(self, s: Session, case: ComplaintCase, report: ComplaintReport, target: _Resolved) -> None:
        """A new case goes to the review queues; a complaint about a sanction becomes an appeal."""
        review = getattr(self.p, "review", None)
        add_signal = getattr(review, "add_signal", None)
        if add_signal is not None:
            review_target = "account" if target.target_type == "sanction" else target.target_type
            try:
                with s.begin_nested():
                    case.review_case_id = add_signal(
                        s, kind="complaint", target_type=review_target, target_id=target.target_id,
                        score=0.9 if _high_priority(case.category) else 0.5,
                        evidence={"complaint_case": case.id, "category": case.category, "ticket": report.ticket},
                        room_id=target.room_id, account_id=target.account_id)
            except Exception:
                log.exception("review.add_signal failed; the case stays in the complaints queue")
        if target.target_type == "sanction":
            ref = f"sanction:{target.target_id}"
            appeal = getattr(getattr(self.p, "enforcement", None), "appeal", None)
            reporter = report.reporter_account_id
            # Only the sanctioned account may appeal; anyone else's complaint keeps the link.
            if appeal is not None and reporter is not None and reporter == target.account_id:
                try:
                    with s.begin_nested():
                        result = appeal(s, int(target.target_id), account_id=reporter,
                                        statement=report.description or case.category, actor=f"account:{reporter}")
                    ref = f"appeal:{getattr(result, 'id', result)}"
                except Exception as exc:
                    log.info("complaint about sanction %s not filed as an appeal: %s", target.target_id, exc)
            case.appeal_ref = ref
            case.actions = [*(case.actions or []), {"type": "appeal", "ref": ref}]

    # -- surge ----------------------------------------------------------------------------------
    def _check_surge(self, s: Session, case: ComplaintCase, target: _Resolved,
                     now: dt.datetime) -> dict[str, Any] | None:
        if target.room_id is None or not target.room_live:
            return None
        surge = self.p.policy.get().complaints.surge
        since = now - dt.timedelta(minutes=surge.within_minutes)
        count = s.scalar(select(func.count(ComplaintReport.id)).where(
            ComplaintReport.room_id == target.room_id, ComplaintReport.received_at >= since)) or 0
        if count < surge.reports:
            return None
        if case.surge_at is not None and case.surge_at >= since:
            return None  # already raised for this surge
        case.surge_at = now
        case.priority = max(case.priority, SURGE_PRIORITY)
        self.p.audit.record(s, actor=ACTOR, action="complaint.surge", target=f"complaint_case:{case.id}",
                            details={"room": target.room_id, "reports": count,
                                     "within_minutes": surge.within_minutes})
        return {"type": "complaint_surge", "room": target.room_id, "case": case.id, "reports": count,
                "within_minutes": surge.within_minutes, "at": now.isoformat()}

    async def _alert_patrol(self, event: dict[str, Any]) -> None:
        for listener in list(self.patrol_listeners):
            with contextlib.suppress(Exception):
                listener(event)
        try:
            await self.p.broker.publish(PATROL_CHANNEL, event)
        except Exception:
            log.exception("could not alert the patrol of a complaint surge")

    # -- reporter's view -------------------------------------------------------------------------
    def status_of(self, s: Session, token: str) -> dict[str, Any]:
        report = s.scalars(select(ComplaintReport).where(ComplaintReport.token_hash == _token_hash(token))).first()
        if report is None:
            raise TicketNotFound()
        case = s.get(ComplaintCase, report.case_id)
        assert case is not None
        state = "decided" if case.status == "decided" else ("in_review" if case.acknowledged_at else "received")
        return {"ticket": report.ticket, "received_at": report.received_at.isoformat(), "category": report.category,
                "target_type": report.target_type, "target_id": report.target_id, "description": report.description,
                "state": state, "acknowledged_at": case.acknowledged_at.isoformat() if case.acknowledged_at else None,
                "decided_at": case.decided_at.isoformat() if case.decided_at else None,
                "outcome": case.outcome if case.status == "decided" else None,
                "outcome_text": OUTCOMES.get(case.outcome, "") if case.status == "decided" else "",
                "note": case.outcome_note if case.status == "decided" else "",
                "acknowledge_by": case.ack_due_at.isoformat(), "decide_by": case.decide_due_at.isoformat()}

    # -- staff ------------------------------------------------------------------------------------
    def get_case(self, s: Session, case_id: int) -> ComplaintCase:
        case = s.get(ComplaintCase, case_id)
        if case is None:
            raise CaseNotFound()
        return case

    def queue(self, s: Session, *, include_decided: bool = False, limit: int = 200) -> list[ComplaintCase]:
        q = select(ComplaintCase)
        if not include_decided:
            q = q.where(ComplaintCase.status != "decided")
        q = q.order_by(ComplaintCase.priority.desc(), ComplaintCase.escalation.desc(), ComplaintCase.ack_due_at)
        return list(s.scalars(q.limit(limit)))

    def reports_of(self, s: Session, case_id: int) -> list[ComplaintReport]:
        return list(s.scalars(select(ComplaintReport).where(ComplaintReport.case_id == case_id)
                              .order_by(ComplaintReport.id)))

    def evidence_of(self, s: Session, case_id: int) -> list[ComplaintEvidence]:
        return list(s.scalars(select(ComplaintEvidence).where(ComplaintEvidence.case_id == case_id)
                              .order_by(ComplaintEvidence.id)))

    def acknowledge(self, s: Session, case_id: int, *, actor: str) -> ComplaintCase:
        case = self.get_case(s, case_id)
        if case.status == "decided":
            raise CaseClosed()
        if case.acknowledged_at is None:
            case.acknowledged_at = self.p.clock.now()
            case.acknowledged_by = actor
            case.status = "acknowledged"
            self.p.audit.record(s, actor=actor, action="complaint.acknowledged", target=f"complaint_case:{case.id}",
                                details={"within_sla": case.acknowledged_at <= case.ack_due_at})
        return case

    async def decide(self, case_id: int, *, outcome: str, note: str, actor: str, sanction_kind: str | None = None,
                     sanction_days: int | None = None, reason_code: str | None = None) -> dict[str, Any]:
        """Decide a case; carry out what the outcome implies through the module that owns it."""
        if outcome not in OUTCOMES:
            raise ValidationFailed(f"outcome must be one of {', '.join(OUTCOMES)}")
        if len(note) > MAX_DESCRIPTION:
            raise ValidationFailed(f"the note is limited to {MAX_DESCRIPTION} characters")

        def load() -> tuple[str, str, str | None, int | None, str, int | None]:
            with self.p.db.session() as s:
                case = self.get_case(s, case_id)
                if case.status == "decided":
                    raise CaseClosed()
                return (case.target_type, case.target_id, case.room_id, case.account_id, case.category,
                        case.review_case_id)

        target_type, target_id, room_id, account_id, category, review_case_id = await asyncio.to_thread(load)
        actions: list[dict[str, Any]] = []
        if outcome == "sanctioned":
            if sanction_kind not in SANCTION_KINDS:
                raise ValidationFailed(f"sanction_kind must be one of {', '.join(SANCTION_KINDS)}")
            if account_id is None:
                raise ValidationFailed("this case names no account to sanction")
            enforcement = getattr(self.p, "enforcement", None)
            if enforcement is not None and hasattr(enforcement, "sanction"):
                code = reason_code or sanction_reason(category, target_type)
                result = await enforcement.sanction(account_id, kind=sanction_kind, reason_code=code, actor=actor,
                                                    case_id=review_case_id, days=sanction_days, room_id=room_id,
                                                    note=f"complaint case {case_id}")
                actions.append({"type": "sanction", "kind": sanction_kind, "account": account_id,
                                "reason_code": code, "ref": str(getattr(result, "sanction_id", None)
                                                                 or getattr(result, "id", result))})
            else:
                actions.append({"type": "sanction", "kind": sanction_kind, "account": account_id,
                                "status": "recorded: enforcement module not present"})
        elif outcome == "content_removed" and target_type == "message":
            chat = getattr(self.p, "chat", None)
            message_id = _as_id(target_id)
            if chat is not None and hasattr(chat, "remove_message") and message_id is not None:
                await chat.remove_message(message_id, actor=actor, reason=f"complaint case {case_id}")
                actions.append({"type": "message_removed", "message": target_id})
            else:
                actions.append({"type": "message_removed", "message": target_id,
                                "status": "recorded: comments module not present"})
        elif outcome == "stream_cut":
            if room_id is None:
                raise ValidationFailed("this case names no room to cut off")
            await self.p.media.cutoff(room_id, actor=actor, reason=f"complaint case {case_id}: {category}")
            actions.append({"type": "cutoff", "room": room_id})

        def record() -> dict[str, Any]:
            with self.p.db.session() as s:
                case = self.get_case(s, case_id)
                if case.status == "decided":
                    raise CaseClosed()
                return self._record_decision(s, case, outcome=outcome, note=note, actor=actor, actions=actions)

        return await asyncio.to_thread(record)

    def _record_decision(self, s: Session, case: ComplaintCase, *, outcome: str, note: str, actor: str,
                         actions: list[dict[str, Any]]) -> dict[str, Any]:
        now = self.p.clock.now()
        if case.acknowledged_at is None:
            case.acknowledged_at = now
            case.acknowledged_by = actor
        case.status = "decided"
        case.merge_key = None
        case.decided_at = now
        case.decided_by = actor
        case.outcome = outcome
        case.outcome_note = note.strip()
        if outcome == "no_violation":
            actions = [*actions, *self._release_evidence(s, case, actor)]
        case.actions = [*(case.actions or []), *actions]
        self.p.audit.record(s, actor=actor, action="complaint.decided", target=f"complaint_case:{case.id}",
                            reason=note[:500], details={"outcome": outcome, "actions": actions,
                                                        "within_sla": now <= case.decide_due_at,
                                                        "reports": case.report_count})
        return {"case": case.id, "outcome": outcome, "actions": actions}

    def _release_evidence(self, s: Session, case: ComplaintCase, actor: str) -> list[dict[str, Any]]:
        """No violation: the holds this case placed go (retention applies again as usual)."""
        s.execute(update(ComplaintEvidence).where(ComplaintEvidence.case_id == case.id).values(held=False))
        lift = getattr(getattr(self.p, "retention", None), "lift_hold", None)
        released: list[dict[str, Any]] = []
        for action in case.actions or []:
            if action.get("type") != "hold" or action.get("hold_id") is None or lift is None:
                continue
            try:
                with s.begin_nested():
                    lift(s, action["hold_id"], reason=f"complaint case {case.id} found no violation", actor=actor)
                released.append({"type": "hold_lifted", "hold_id": action["hold_id"]})
            except Exception:
                log.exception("could not lift hold %s of complaint case %s", action["hold_id"], case.id)
        return released

    def review_decided(self, s: Session, review_case_id: int, *, outcome: str, note: str, actor: str) -> list[int]:
        """For the review module: its case was decided; close the complaint cases it carried."""
        if outcome not in OUTCOMES:
            outcome = "no_violation" if outcome in ("dismissed", "no_action", "pass") else "content_removed"
        cases = list(s.scalars(select(ComplaintCase).where(ComplaintCase.review_case_id == review_case_id,
                                                           ComplaintCase.status != "decided")))
        for case in cases:
            self._record_decision(s, case, outcome=outcome, note=note, actor=actor,
                                  actions=[{"type": "review", "review_case": review_case_id}])
        return [c.id for c in cases]

    def sync_from_review(self, s: Session) -> list[int]:
        """Follow the review queue: a claimed review case acknowledges its complaint cases, a
        decided one decides them. Returns the complaint cases changed."""
        try:
            from livegate.review.models import ReviewCase
        except ImportError:
            return []
        linked = list(s.scalars(select(ComplaintCase).where(ComplaintCase.status != "decided",
                                                            ComplaintCase.review_case_id.is_not(None))))
        changed: list[int] = []
        for case in linked:
            rc = s.get(ReviewCase, case.review_case_id)
            if rc is None:
                continue
            if rc.status == "decided" and rc.decision in _OUTCOME_BY_REVIEW:
                self._record_decision(s, case, outcome=_OUTCOME_BY_REVIEW[rc.decision], note="",
                                      actor=rc.decided_by or ACTOR,
                                      actions=[{"type": "review", "review_case": rc.id, "decision": rc.decision}])
                changed.append(case.id)
            elif case.acknowledged_at is None and rc.claimed_at is not None:
                case.acknowledged_at = rc.claimed_at
                case.acknowledged_by = rc.claimed_by or ACTOR
                case.status = "acknowledged"
                self.p.audit.record(s, actor=case.acknowledged_by, action="complaint.acknowledged",
                                    target=f"complaint_case:{case.id}",
                                    details={"review_case": rc.id, "within_sla": rc.claimed_at <= case.ack_due_at})
                changed.append(case.id)
        return changed

    def reveal_contact(self, s: Session, report_id: int, *, actor: str, reason: str) -> str:
        """The reporter's contact, for a stated need; audited."""
        if len(reason.strip()) < 5:
            raise ValidationFailed("state why the contact is needed")
        report = s.get(ComplaintReport, report_id)
        if report is None:
            raise TicketNotFound("no such report")
        if not report.contact_sealed:
            return ""
        self.p.audit.record(s, actor=actor, action="complaint.contact_revealed",
                            target=f"complaint_report:{report.id}", reason=reason.strip()[:500])
        return self.p.identity.vault.open(report.contact_sealed, record_id=report.id, field=CONTACT_FIELD)

    # -- SLA --------------------------------------------------------------------------------------
    def escalate_overdue(self, s: Session) -> list[dict[str, Any]]:
        """Raise every case whose acknowledgement or decision is overdue; one step each."""
        now = self.p.clock.now()
        out: list[dict[str, Any]] = []
        open_cases = select(ComplaintCase).where(ComplaintCase.status != "decided")
        for case in s.scalars(open_cases.where(ComplaintCase.escalation < 2, ComplaintCase.decide_due_at <= now)):
            out.append(self._escalate(s, case, 2, "decision overdue", now))
        for case in s.scalars(open_cases.where(ComplaintCase.escalation < 1, ComplaintCase.acknowledged_at.is_(None),
                                               ComplaintCase.ack_due_at <= now)):
            out.append(self._escalate(s, case, 1, "acknowledgement overdue", now))
        return out

    def _escalate(self, s: Session, case: ComplaintCase, level: int, why: str, now: dt.datetime) -> dict[str, Any]:
        case.escalation = level
        case.escalated_at = now
        case.priority = max(case.priority, 1 + level)
        self.p.audit.record(s, actor=ACTOR, action="complaint.escalated", target=f"complaint_case:{case.id}",
                            reason=why, details={"level": level})
        return {"type": "complaint_escalated", "case": case.id, "level": level, "reason": why,
                "room": case.room_id, "at": now.isoformat()}

    async def run_sla(self) -> list[dict[str, Any]]:
        def run() -> list[dict[str, Any]]:
            with self.p.db.session() as s:
                return self.escalate_overdue(s)

        events = await asyncio.to_thread(run)
        for event in events:
            with contextlib.suppress(Exception):
                await self.p.broker.publish(PATROL_CHANNEL, event)
        return events

    def retention_kinds(self) -> list[Any]:
        """Reports and evidence purged by the retention module once due; cases exported only."""
        from livegate.complaints.retention import complaint_kinds

        return list(complaint_kinds())

    async def _sla_job(self) -> str:
        def follow_review() -> int:
            with self.p.db.session() as s:
                return len(self.sync_from_review(s))

        followed = await asyncio.to_thread(follow_review)
        return f"{len(await self.run_sla())} escalated, {followed} followed from review"

    async def _purge_job(self) -> str:
        def run() -> int:
            with self.p.db.session() as s:
                rows = list(s.scalars(select(ComplaintChallengeSpent)
                                      .where(ComplaintChallengeSpent.expires_at < self.p.clock.now())))
                for row in rows:
                    s.delete(row)
                return len(rows)

        return f"{await asyncio.to_thread(run)} spent challenges purged"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
