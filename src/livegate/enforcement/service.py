"""The enforcement module of a platform (``platform.enforcement``): sanctions with their
escalation ladder, appeals, the credit rating, the blacklist and incident reports
(Articles 14, 15).

Applying a sanction is two steps. First one transaction makes it durable: the sanction
row, the credit deduction, the closure of the account (status and sessions), the evidence
references and legal holds, the draft incident report, and their audit entries. Then
:meth:`EnforcementModule.carry_out` acts on the world: it cuts live streams off, withdraws
replays, removes comments and posts (``p.chat.remove_account_messages``,
``p.review.remove_account_posts`` where those exist), and applies a credit level change to
live rooms. It is idempotent and records what it did on the sanction; a sanction whose
effects did not all succeed is retried by the ``enforcement.sweep`` job. A cut-off blocks
the room; enforcement lifts that block again at once, because the publish gate's
``sanctions_clear`` check keeps a suspended or closed publisher out with the reason and the
end time (a room block would answer with a vaguer message and outlive a lifted sanction).

What "at once" means for a credit level change (Art. 15):

* comment pre-moderation: at once. The chat asks :meth:`room_comment_mode` per message, and
  the room's viewers get a ``room_mode`` message now;
* categories allowed: at once. A live room in a category the new level does not allow is
  cut off, and the publish gate refuses it from the next attempt;
* highest audience tier: at once for whoever admits viewers (:meth:`audience_cap`);
* broadcast delay and sampling interval: from the next stream. A running pipeline fixes
  both at start; changing the delay mid-stream would skip or replay content.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import inspect
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from livegate.core.models import Account, ApiToken, WebSession
from livegate.core.policy import CreditLevel, Severity
from livegate.enforcement.blacklist import Blacklist, same_staff
from livegate.enforcement.credit import CreditBook, LevelChange
from livegate.enforcement.errors import (
    AppealDecided,
    AppealExists,
    AppealNotFound,
    DifferentStaffRequired,
    IdentityNotAccepted,
    SanctionNotFound,
    SanctionState,
)
from livegate.enforcement.models import Appeal, EvidenceRef, IncidentReport, Sanction
from livegate.enforcement.reasons import reason as reason_of
from livegate.enforcement.reports import build_report, render_html
from livegate.identity.models import IdentityRecord, PhoneVerification
from livegate.media.models import PublishAttempt, Room, StreamSession
from livegate.media.rooms import GateContext, Refusal

if TYPE_CHECKING:
    from livegate.app import Platform

log = logging.getLogger(__name__)

__all__ = ["EnforcementModule", "SanctionApplied"]

KINDS: Final = ("warning", "suspension", "closure")
SCOPES: Final = ("publish", "comment")
#: Replays of the concerned room from this long before the sanction are withdrawn.
CONCERNED_WINDOW: Final = dt.timedelta(hours=24)
ENFORCEMENT_CHANNEL: Final = "enforcement"


@dataclass(frozen=True)
class SanctionApplied:
    id: int
    account_id: int
    kind: str
    scopes: tuple[str, ...]
    ends_at: dt.datetime | None
    escalation: str
    credit_deducted: int
    effects: dict[str, Any]


def _fmt(at: dt.datetime | None) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if at else "-"


class SanctionsClear:
    """Publish gate: no closure, suspension of publishing or unacknowledged warning (Art. 14)."""

    name = "sanctions_clear"

    def __init__(self, module: EnforcementModule) -> None:
        self.module = module

    def check(self, ctx: GateContext) -> Refusal | None:
        return self.module.active_restriction(ctx.session, ctx.owner.id, "publish")


class CreditAllowsCategory:
    """Publish gate: the owner's credit level allows the room's category (Art. 15)."""

    name = "credit_allows_category"

    def __init__(self, module: EnforcementModule) -> None:
        self.module = module

    def check(self, ctx: GateContext) -> Refusal | None:
        level = self.module.credit_level_of(ctx.session, ctx.owner.id)
        return _category_refusal(level, ctx.room.category)


def _category_refusal(level: CreditLevel, category: str) -> Refusal | None:
    if level.consequences.allows(category):
        return None
    allowed = ", ".join(level.consequences.allowed_categories or [])
    return Refusal("credit.category_not_allowed", "Art. 15",
                   f"credit level {level.key} ({level.display_name}) does not allow the category {category!r};"
                   f" allowed: {allowed}")


class EnforcementModule:
    def __init__(self, platform: Platform) -> None:
        self.p = platform
        self.credit = CreditBook(platform.policy, platform.audit, platform.clock)
        self.blacklist = Blacklist(platform)
        #: Called with each :class:`LevelChange` after it was applied to live rooms.
        self.level_listeners: list[Callable[[LevelChange], None]] = []
        platform.gate.add(SanctionsClear(self))
        platform.gate.add(CreditAllowsCategory(self))
        platform.scheduler.add("enforcement.credit_recovery", dt.timedelta(hours=1), self._recovery_job)
        platform.scheduler.add("enforcement.sweep", dt.timedelta(minutes=1), self._sweep_job)

    # ------------------------------------------------------------------ queries (sync)
    def credit_level_of(self, s: Session, account_id: int) -> CreditLevel:
        return self.credit.level_of(s, account_id)

    def room_comment_mode(self, s: Session, room: Room) -> str:
        """The comment mode of a room now: the category's, or pre-moderated by the owner's level."""
        return self.p.policy.get().comment_mode(room.category, self.credit_level_of(s, room.owner_id))

    def audience_cap(self, s: Session, account_id: int) -> int | None:
        """The most concurrent viewers the owner's level allows (the cap tier's upper bound), or None."""
        policy = self.p.policy.get()
        key = self.credit_level_of(s, account_id).consequences.max_audience_tier
        return None if key is None else policy.tier(key).max_viewers

    def active_sanctions(self, s: Session, account_id: int) -> list[Sanction]:
        return list(s.scalars(select(Sanction).where(Sanction.account_id == account_id, Sanction.status == "active")
                              .order_by(Sanction.id)))

    def active_restriction(self, s: Session, account_id: int, scope: str) -> Refusal | None:
        """Why this account may not ``publish`` or ``comment`` now (Art. 14), or None."""
        return self._restriction(self.active_sanctions(s, account_id), scope, self.p.clock.now())

    def active_restrictions(self, s: Session, account_ids: Iterable[int], scope: str) -> dict[int, Refusal]:
        """:meth:`active_restriction` for many accounts in one query: only the restricted ones."""
        ids = sorted(set(account_ids))
        if not ids:
            return {}
        by_account: dict[int, list[Sanction]] = {}
        for sn in s.scalars(select(Sanction).where(Sanction.account_id.in_(ids), Sanction.status == "active")
                            .order_by(Sanction.id)):
            by_account.setdefault(sn.account_id, []).append(sn)
        now = self.p.clock.now()
        out: dict[int, Refusal] = {}
        for account_id, sanctions in by_account.items():
            refusal = self._restriction(sanctions, scope, now)
            if refusal is not None:
                out[account_id] = refusal
        return out

    @staticmethod
    def _restriction(sanctions: list[Sanction], scope: str, now: dt.datetime) -> Refusal | None:
        acting = "publishing" if scope == "publish" else "commenting"
        warning: Sanction | None = None
        for sn in sanctions:
            label = reason_of(sn.reason_code).label() if sn.reason_code else sn.rule
            if sn.kind == "closure":
                return Refusal("sanction.closed", "Art. 14",
                               f"this account was closed on {_fmt(sn.starts_at)} for {label}")
            if sn.kind == "suspension" and scope in (sn.scopes or []) and (sn.ends_at is None or sn.ends_at > now):
                return Refusal("sanction.suspended", "Art. 14",
                               f"{acting} is suspended until {_fmt(sn.ends_at)} for {label} (sanction {sn.id})")
            if sn.kind == "warning" and sn.acknowledged_at is None and scope in (sn.scopes or []) and warning is None:
                warning = sn
        if warning is not None:
            return Refusal("sanction.warning_unacknowledged", "Art. 14",
                           f"acknowledge the warning of {_fmt(warning.starts_at)} "
                           f"({reason_of(warning.reason_code).label()}) in the studio before {acting}")
        return None

    def blacklisted(self, s: Session, *, phone_index: str | None = None, document_index: str | None = None,
                    device_index: str | None = None) -> bool:
        return self.blacklist.is_listed(s, phone_index=phone_index, document_index=document_index,
                                        device_index=device_index)

    def refuse_identity(self, s: Session, *, account_id: int | None, step: str) -> None:
        """Audit and raise the neutral refusal of a blacklisted identity.

        The audit entry is committed in the caller's transaction before raising (as a failed
        sign-in is), so callers check before they write anything else.
        """
        self.p.audit.record(s, actor="system:blacklist", action="blacklist.refused",
                            target=f"account:{account_id}" if account_id else "", details={"step": step})
        s.commit()
        raise IdentityNotAccepted()

    def get_sanction(self, s: Session, sanction_id: int) -> Sanction:
        row = s.get(Sanction, sanction_id)
        if row is None:
            raise SanctionNotFound()
        return row

    def sanctions_of(self, s: Session, account_id: int) -> list[Sanction]:
        return list(s.scalars(select(Sanction).where(Sanction.account_id == account_id).order_by(Sanction.id.desc())))

    def prior_violations(self, s: Session, account_id: int) -> int:
        window = dt.timedelta(days=self.p.policy.get().sanctions.repeat_window_days)
        return s.scalar(select(func.count(Sanction.id)).where(
            Sanction.account_id == account_id, Sanction.status != "lifted",
            Sanction.reason_code != "blacklist.listed",
            Sanction.created_at >= self.p.clock.now() - window)) or 0

    # ------------------------------------------------------------------ sanctions
    async def sanction(self, account_id: int, *, reason_code: str, actor: str,
                               kind: str | None = None, case_id: int | None = None, days: int | None = None,
                               scope: Sequence[str] = SCOPES, severity: Severity | None = None,
                               room_id: str | None = None, note: str = "", escalate: bool = True) -> SanctionApplied:
        """Apply a sanction and carry it out. See :meth:`apply` for the arguments."""
        sanction_id = await asyncio.to_thread(
            self._apply_tx, account_id, reason_code=reason_code, actor=actor, kind=kind, case_id=case_id, days=days,
            scope=tuple(scope), severity=severity, room_id=room_id, note=note, escalate=escalate)
        return await self.carry_out(sanction_id)

    def _apply_tx(self, account_id: int, **kw: Any) -> int:
        with self.p.db.session() as s:
            return self.apply(s, account_id, **kw).id

    def apply(self, s: Session, account_id: int, *, reason_code: str, actor: str, kind: str | None = None,
              case_id: int | None = None, days: int | None = None, scope: Sequence[str] = SCOPES,
              severity: Severity | None = None, room_id: str | None = None, note: str = "",
              escalate: bool = True, deduct: bool = True) -> Sanction:
        """Make a sanction durable (one transaction); :meth:`carry_out` acts on it afterwards.

        ``kind`` is the decided measure; with ``escalate`` it is the entry rung of the policy's
        ladder and each prior violation within the repeat window moves it one rung up. Without
        ``kind`` the entry rung is the severity's (``severity`` defaults to the reason code's).
        """
        policy = self.p.policy.get()
        why = reason_of(reason_code)
        sev: Severity = severity or why.severity
        account = self.p.accounts.get(s, account_id)
        if room_id is None and case_id is not None:
            room_id = self._case_room(s, case_id)
        scopes = tuple(sc for sc in SCOPES if sc in set(scope)) or SCOPES
        if kind is not None and kind not in KINDS:
            raise SanctionState(f"kind is one of {', '.join(KINDS)}")
        ladder = policy.sanctions.ladder
        priors = self.prior_violations(s, account_id) if escalate else 0
        if kind is None:
            expl = policy.sanction_for(sev, priors)
            step_index = ladder.index(expl.value)
            entry = policy.sanctions.entry_step[sev]
            escalation = "; ".join(expl.reasons)
        else:
            rungs = [i for i, st in enumerate(ladder) if st.action == kind
                     and (kind != "suspension" or days is None or st.days == days)]
            rungs = rungs or [i for i, st in enumerate(ladder) if st.action == kind]
            entry = rungs[0] if rungs else -1
            if entry < 0:
                step_index = -1
                escalation = f"{kind} decided; the ladder has no such rung, so it does not escalate"
            else:
                step_index = min(entry + priors, len(ladder) - 1)
                escalation = (f"{kind} decided (rung {entry}); {priors} prior violation(s) in the last"
                              f" {policy.sanctions.repeat_window_days} days"
                              + (f" escalate to rung {step_index}: {ladder[step_index].describe()}"
                                 if step_index != entry else ": no escalation"))
        if step_index >= 0:
            step = ladder[step_index]
            applied_kind: str = step.action
            applied_days = days if (step_index == entry and days is not None and kind == "suspension") else step.days
            blacklist = step.blacklist
        else:
            applied_kind, applied_days, blacklist = kind or "warning", days, False
        if applied_kind == "suspension" and not applied_days:
            applied_days = 7
        now = self.p.clock.now()
        sn = Sanction(
            account_id=account_id, kind=applied_kind,
            scopes=list(SCOPES) if applied_kind == "closure" else list(scopes),
            reason_code=why.code, rule=why.rule, article=why.article, severity=sev, note=note[:2000],
            case_id=case_id, room_id=room_id, requested_kind=kind or "", ladder_step=max(step_index, 0),
            prior_violations=priors, escalation=escalation, credit_deducted=0, starts_at=now,
            ends_at=now + dt.timedelta(days=applied_days) if applied_kind == "suspension" and applied_days else None,
            status="active", acknowledged_at=None, created_by=actor, created_at=now, effects_done=False,
            effects={}, lifted_by="", lift_reason="",
        )
        s.add(sn)
        s.flush()
        self.p.audit.record(s, actor=actor, action="sanction.apply", target=f"account:{account_id}",
                            reason=why.label(), details={
                                "sanction": sn.id, "kind": sn.kind, "scopes": sn.scopes, "severity": sev,
                                "reason_code": why.code, "case": case_id, "room": room_id,
                                "ends_at": sn.ends_at.isoformat() if sn.ends_at else None,
                                "requested_kind": kind, "escalation": escalation})
        if deduct:
            change = self.credit.deduct(s, account_id, sev, reason=f"sanction {sn.id}: {why.label()}", actor=actor,
                                        sanction_id=sn.id)
            sn.credit_deducted = -change.delta
            if change.level_change is not None:
                sn.effects = {**sn.effects, "level_change": [change.level_change.before, change.level_change.after]}
        if applied_kind == "closure":
            self._close_account(s, account, actor=actor, why=f"sanction {sn.id}: {why.label()}")
            if blacklist:
                self._propose_blacklist(s, account_id, sanction_id=sn.id, actor=actor, why=why.label())
        self._preserve(s, sn, actor=actor)
        s.add(IncidentReport(sanction_id=sn.id, status="draft", created_at=now, exports=0, exported_by=""))
        s.flush()
        return sn

    def _case_room(self, s: Session, case_id: int) -> str | None:
        """The room a review case concerns, when the review module is installed."""
        cases = getattr(getattr(self.p, "review", None), "cases", None)
        get = getattr(cases, "get", None)
        if get is None:
            return None
        try:
            room = getattr(get(s, case_id), "room_id", None)
        except Exception:  # an unknown case: the sanction still stands on its own
            return None
        return str(room) if room else None

    def _close_account(self, s: Session, account: Account, *, actor: str, why: str) -> None:
        account.status = "closed"
        ended = s.execute(delete(WebSession).where(WebSession.account_id == account.id)).rowcount  # type: ignore[attr-defined]
        s.execute(update(ApiToken).where(ApiToken.account_id == account.id, ApiToken.revoked_at.is_(None))
                  .values(revoked_at=self.p.clock.now()))
        self.p.audit.record(s, actor=actor, action="account.close", target=f"account:{account.id}", reason=why,
                            details={"sessions_ended": ended})

    def _propose_blacklist(self, s: Session, account_id: int, *, sanction_id: int, actor: str, why: str) -> None:
        """A closure that blacklists proposes the account's identities; a second officer confirms."""
        phone = s.get(PhoneVerification, account_id)
        if phone is not None:
            self.blacklist.propose(s, kind="phone", value_index=phone.phone_index, masked=phone.phone_masked,
                                   reason=f"closure (sanction {sanction_id}): {why}", source=f"sanction:{sanction_id}",
                                   actor=actor, account_id=account_id, sanction_id=sanction_id)
        for rec in s.scalars(select(IdentityRecord).where(IdentityRecord.account_id == account_id,
                                                          IdentityRecord.status == "approved")):
            self.blacklist.propose(s, kind="document", value_index=rec.doc_index, masked=rec.doc_masked,
                                   reason=f"closure (sanction {sanction_id}): {why}", source=f"sanction:{sanction_id}",
                                   actor=actor, account_id=account_id, sanction_id=sanction_id)

    def _concerned_sessions(self, s: Session, sn: Sanction) -> list[tuple[str, int]]:
        q = select(StreamSession.room_id, StreamSession.id).join(Room, Room.id == StreamSession.room_id)
        if sn.kind == "closure":
            q = q.where(Room.owner_id == sn.account_id)
        elif sn.room_id:
            q = q.where(StreamSession.room_id == sn.room_id,
                        StreamSession.started_at >= sn.starts_at - CONCERNED_WINDOW)
        else:
            return []
        return [(r, i) for r, i in s.execute(q.order_by(StreamSession.id.desc()).limit(200))]

    def _preserve(self, s: Session, sn: Sanction, *, actor: str) -> None:
        """Evidence under a hold: a retention hold when that module exists, references here always."""
        now = self.p.clock.now()
        refs: list[EvidenceRef] = []
        for room_id, session_id in self._concerned_sessions(s, sn):
            ss = s.get(StreamSession, session_id)
            if ss is None:
                continue
            refs.append(EvidenceRef(sanction_id=sn.id, kind="recording", ref=ss.recording_path or f"s{ss.id}",
                                    details={"room": room_id, "session": ss.id, "started_at": ss.started_at.isoformat(),
                                             "ended_at": ss.ended_at.isoformat() if ss.ended_at else None},
                                    recorded_at=now))
            refs.append(EvidenceRef(sanction_id=sn.id, kind="segments", ref=f"hls/{room_id}/s{ss.id}-*",
                                    details={"room": room_id, "session": ss.id}, recorded_at=now))
        rooms = [sn.room_id] if sn.room_id else []
        if sn.kind != "warning":
            rooms += [r for r in s.scalars(select(Room.id).where(Room.owner_id == sn.account_id)) if r not in rooms]
        for room_id in rooms:
            n = s.scalar(select(func.count(PublishAttempt.id)).where(PublishAttempt.room_id == room_id)) or 0
            refs.append(EvidenceRef(sanction_id=sn.id, kind="publish_log", ref=f"publish_attempts:room:{room_id}",
                                    details={"rows": n}, recorded_at=now))
        refs.append(EvidenceRef(sanction_id=sn.id, kind="audit_log", ref=f"audit:account:{sn.account_id}",
                                details={}, recorded_at=now))
        refs.append(EvidenceRef(sanction_id=sn.id, kind="comments", ref=f"chat_messages:account:{sn.account_id}",
                                details={"room": sn.room_id}, recorded_at=now))
        if sn.case_id is not None:
            refs.append(EvidenceRef(sanction_id=sn.id, kind="case", ref=f"review_case:{sn.case_id}",
                                    details={"frames_and_signals": "kept with the case"}, recorded_at=now))
        retention = getattr(self.p, "retention", None)
        place_hold = getattr(retention, "place_hold", None)
        if place_hold is not None:
            scopes: list[tuple[str, str]] = [("account", str(sn.account_id))]
            scopes += [("room", r) for r in rooms]
            if sn.case_id is not None:
                scopes.append(("case", str(sn.case_id)))
            for scope_type, scope_id in scopes:
                hold_id = place_hold(s, scope_type=scope_type, scope_id=scope_id,
                                     reason=f"sanction {sn.id} ({sn.reason_code})", actor=actor)
                refs.append(EvidenceRef(sanction_id=sn.id, kind="hold", ref=f"hold:{hold_id}",
                                        details={"scope_type": scope_type, "scope_id": scope_id}, recorded_at=now))
        s.add_all(refs)
        s.flush()
        self.p.audit.record(s, actor=actor, action="sanction.preserve", target=f"account:{sn.account_id}",
                            details={"sanction": sn.id, "evidence": len(refs),
                                     "retention_hold": place_hold is not None})

    # ------------------------------------------------------------------ carrying out
    async def carry_out(self, sanction_id: int) -> SanctionApplied:
        """Act on a durable sanction: cut, withdraw, remove, re-level. Idempotent."""
        def load() -> tuple[Sanction, list[Room], list[tuple[str, int]]]:
            with self.p.db.session() as s:
                sn = self.get_sanction(s, sanction_id)
                rooms = list(s.scalars(select(Room).where(Room.owner_id == sn.account_id)))
                sessions = [(r, i) for r, i in self._concerned_sessions(s, sn)]
                s.expunge_all()
                return sn, rooms, sessions

        sn, rooms, sessions = await asyncio.to_thread(load)
        effects: dict[str, Any] = dict(sn.effects or {})
        errors: list[str] = []
        why = reason_of(sn.reason_code)
        text = f"sanction {sn.id}: {why.label()}"
        if sn.status == "active":
            # 1. end the live streams it concerns
            cut_all = sn.kind == "closure" or (sn.kind == "suspension" and "publish" in (sn.scopes or []))
            targets = [r for r in rooms if r.status == "live" and (cut_all or r.id == sn.room_id)]
            cut = list(effects.get("streams_cut", []))
            for room in targets:
                if room.id in cut:
                    continue
                try:
                    await self.p.media.cutoff(room.id, actor=f"system:enforcement:{sn.id}", reason=text,
                                              block_minutes=1)
                    await asyncio.to_thread(self._release_block, room.id, sn.id)
                    cut.append(room.id)
                except Exception as exc:  # recorded and retried by the sweep
                    log.exception("cut-off for sanction %s failed", sn.id)
                    errors.append(f"cutoff {room.id}: {type(exc).__name__}")
            effects["streams_cut"] = cut
            # 2. withdraw replays (the recording stays: it is the retention copy)
            withdrawn = list(effects.get("replays_withdrawn", []))
            for room_id, session_id in sessions:
                tag = f"{room_id}/s{session_id}"
                if tag in withdrawn:
                    continue
                try:
                    if await asyncio.to_thread(self._withdraw, room_id, session_id, text):
                        withdrawn.append(tag)
                except Exception as exc:
                    log.exception("withdrawing %s failed", tag)
                    errors.append(f"withdraw {tag}: {type(exc).__name__}")
            effects["replays_withdrawn"] = withdrawn
            # 3. comments and image-text posts, where those modules exist
            chat = getattr(self.p, "chat", None)
            if chat is not None and hasattr(chat, "remove_account_messages") and not effects.get("comments_removed"):
                try:
                    result = await chat.remove_account_messages(
                        sn.account_id, actor=f"system:enforcement:{sn.id}", reason=text,
                        room_id=None if sn.kind == "closure" else sn.room_id)
                    effects["comments_removed"] = result if isinstance(result, (int, str)) else True
                except Exception as exc:
                    log.exception("removing comments for sanction %s failed", sn.id)
                    errors.append(f"comments: {type(exc).__name__}")
            elif chat is None:
                effects["comments_removed"] = "chat module not installed"
            review = getattr(self.p, "review", None)
            remove_posts = getattr(review, "remove_account_posts", None)
            if remove_posts is not None and not effects.get("posts_removed"):
                try:
                    result = remove_posts(sn.account_id, actor=f"system:enforcement:{sn.id}", reason=text)
                    if inspect.isawaitable(result):
                        result = await result
                    effects["posts_removed"] = result if isinstance(result, (int, str)) else True
                except Exception as exc:
                    log.exception("removing posts for sanction %s failed", sn.id)
                    errors.append(f"posts: {type(exc).__name__}")
        # 4. a level change reaches live rooms at once
        lc = effects.get("level_change")
        if lc and not effects.get("level_applied"):
            try:
                await self.apply_level_change(LevelChange(sn.account_id, lc[0], lc[1], 0))
                effects["level_applied"] = True
            except Exception as exc:
                log.exception("applying the level change of sanction %s failed", sn.id)
                errors.append(f"level: {type(exc).__name__}")
        effects["errors"] = errors

        def save() -> Sanction:
            with self.p.db.session() as s:
                row = self.get_sanction(s, sanction_id)
                row.effects = effects
                row.effects_done = not errors
                self.p.audit.record(s, actor="system:enforcement", action="sanction.carried_out",
                                    target=f"account:{row.account_id}", details={"sanction": row.id, **effects})
                s.flush()
                s.expunge(row)
                return row

        row = await asyncio.to_thread(save)
        return SanctionApplied(row.id, row.account_id, row.kind, tuple(row.scopes or ()), row.ends_at,
                               row.escalation, row.credit_deducted, effects)

    def _release_block(self, room_id: str, sanction_id: int) -> None:
        """The cut-off blocks the room; the sanction itself keeps the publisher out at the gate
        (``sanctions_clear``: with its reason and end time), so the room's block is lifted."""
        with self.p.db.session() as s:
            room = s.get(Room, room_id)
            if room is not None and room.blocked and room.block_reason.startswith(f"sanction {sanction_id}:"):
                self.p.rooms.unblock(s, room, actor=f"system:enforcement:{sanction_id}",
                                     reason="the sanction is enforced by the publish gate")

    def _withdraw(self, room_id: str, session_id: int, reason: str) -> bool:
        from livegate.media.errors import ReplayNotFound
        from livegate.media.replay import withdraw_replay

        try:
            w = withdraw_replay(self.p.media.root, room_id, f"s{session_id}", reason=reason, at=self.p.clock.now())
        except ReplayNotFound:
            return False
        with self.p.db.session() as s:
            ss = s.get(StreamSession, session_id)
            if ss is not None:
                ss.replay_withdrawn = True
                ss.replay_available = False
            self.p.audit.record(s, actor="system:enforcement", action="replay.withdraw", target=f"room:{room_id}",
                                reason=reason, details={"session": session_id, "segments": w.segments_deleted})
        return True

    async def apply_level_change(self, change: LevelChange) -> None:
        """Carry a credit level change to the owner's live rooms now (see the module docstring)."""
        policy = self.p.policy.get()
        level = policy.credit_level(change.after)

        def live_rooms() -> list[tuple[str, str]]:
            with self.p.db.session() as s:
                return [(r.id, r.category) for r in s.scalars(
                    select(Room).where(Room.owner_id == change.account_id, Room.status == "live"))]

        rooms = await asyncio.to_thread(live_rooms)
        for room_id, category in rooms:
            refusal = _category_refusal(level, category)
            if refusal is not None:
                await self.p.media.cutoff(room_id, actor="system:credit", reason=refusal.text(), block_minutes=1)
                continue
            with contextlib.suppress(Exception):
                await self.p.media.hub.publish(room_id, {
                    "v": 1, "type": "room_mode", "room": room_id,
                    "comment_mode": policy.comment_mode(category, level), "credit_level": level.key})
        with contextlib.suppress(Exception):
            await self.p.broker.publish(ENFORCEMENT_CHANNEL, {
                "type": "credit_level", "account": change.account_id, "from": change.before, "to": change.after,
                "rooms": [r for r, _ in rooms]})
        for listener in list(self.level_listeners):
            try:
                listener(change)
            except Exception:
                log.exception("credit level listener failed")

    # ------------------------------------------------------------------ the account's side
    def acknowledge(self, s: Session, sanction_id: int, *, account_id: int, actor: str) -> Sanction:
        sn = self.get_sanction(s, sanction_id)
        if sn.account_id != account_id:
            raise SanctionNotFound()
        if sn.kind != "warning":
            raise SanctionState("only a warning is acknowledged")
        if sn.acknowledged_at is None:
            sn.acknowledged_at = self.p.clock.now()
            self.p.audit.record(s, actor=actor, action="sanction.acknowledge", target=f"account:{account_id}",
                                details={"sanction": sn.id})
        return sn

    def appeal(self, s: Session, sanction_id: int, *, account_id: int, statement: str, actor: str) -> Appeal:
        """The account's one appeal (staff may record it for a closed account that cannot sign in)."""
        sn = self.get_sanction(s, sanction_id)
        if sn.account_id != account_id:
            raise SanctionNotFound()
        if sn.status == "lifted":
            raise SanctionState("this sanction was lifted already")
        text = " ".join((statement or "").split())
        if len(text) < 10:
            raise SanctionState("explain the appeal in at least 10 characters")
        if s.scalar(select(Appeal.id).where(Appeal.sanction_id == sanction_id)) is not None:
            raise AppealExists()
        ap = Appeal(sanction_id=sanction_id, account_id=account_id, statement=text[:4000],
                    submitted_at=self.p.clock.now(), submitted_by=actor, status="pending", decided_by="",
                    decision_reason="")
        s.add(ap)
        s.flush()
        self.p.audit.record(s, actor=actor, action="appeal.submit", target=f"account:{account_id}",
                            details={"appeal": ap.id, "sanction": sanction_id})
        return ap

    def appeal_row(self, s: Session, appeal_id: int) -> Appeal:
        ap = s.get(Appeal, appeal_id)
        if ap is None:
            raise AppealNotFound()
        return ap

    async def decide_appeal(self, appeal_id: int, *, decision: str, reason: str, actor: str) -> Appeal:
        """``uphold`` keeps the sanction; ``lift`` ends it and restores credit and access.

        The decider must be a different staff member from the one who applied the sanction.
        """
        def tx() -> tuple[Appeal, list[str], LevelChange | None]:
            with self.p.db.session() as s:
                ap = self.appeal_row(s, appeal_id)
                if ap.status != "pending":
                    raise AppealDecided(status=ap.status)
                sn = self.get_sanction(s, ap.sanction_id)
                if same_staff(actor, sn.created_by):
                    raise DifferentStaffRequired("a different staff member from the one who applied the sanction"
                                                 " must decide the appeal")
                if same_staff(actor, f"account:{ap.account_id}"):
                    raise DifferentStaffRequired("an account cannot decide its own appeal")
                why = " ".join((reason or "").split())
                if len(why) < 4:
                    raise SanctionState("a decision needs a reason")
                if decision not in {"uphold", "lift"}:
                    raise SanctionState("decision is 'uphold' or 'lift'")
                ap.status = "upheld" if decision == "uphold" else "lifted"
                ap.decided_by = actor
                ap.decided_at = self.p.clock.now()
                ap.decision_reason = why[:2000]
                self.p.audit.record(s, actor=actor, action=f"appeal.{ap.status}", target=f"account:{ap.account_id}",
                                    reason=why, details={"appeal": ap.id, "sanction": sn.id})
                unblock: list[str] = []
                change = None
                if decision == "lift":
                    unblock, change = self._lift(s, sn, actor=actor, why=f"appeal {ap.id}: {why}")
                s.flush()
                s.expunge(ap)
                return ap, unblock, change

        ap, unblock, change = await asyncio.to_thread(tx)
        if change is not None:
            await self.apply_level_change(change)
        return ap

    def _lift(self, s: Session, sn: Sanction, *, actor: str, why: str) -> tuple[list[str], LevelChange | None]:
        """End a sanction and restore what it took: credit, the account, its rooms, its blacklist proposals."""
        sn.status = "lifted"
        sn.lifted_at = self.p.clock.now()
        sn.lifted_by = actor
        sn.lift_reason = why[:2000]
        self.p.audit.record(s, actor=actor, action="sanction.lift", target=f"account:{sn.account_id}", reason=why,
                            details={"sanction": sn.id})
        change = None
        if sn.credit_deducted:
            change = self.credit.change(s, sn.account_id, sn.credit_deducted, kind="restore", actor=actor,
                                        reason=f"sanction {sn.id} lifted: {why}", sanction_id=sn.id).level_change
        account = self.p.accounts.get(s, sn.account_id)
        if sn.kind == "closure" and account.status == "closed":
            others = [o for o in self.active_sanctions(s, sn.account_id) if o.kind == "closure" and o.id != sn.id]
            if not others:
                account.status = "active"
                self.p.audit.record(s, actor=actor, action="account.reopen", target=f"account:{account.id}",
                                    reason=why, details={"sanction": sn.id})
        from livegate.enforcement.models import BlacklistEntry

        for entry in s.scalars(select(BlacklistEntry).where(BlacklistEntry.sanction_id == sn.id,
                                                            BlacklistEntry.status.in_(("proposed", "active")))):
            self.blacklist.remove(s, entry.id, actor=actor, reason=f"sanction {sn.id} lifted: {why}")
        unblocked: list[str] = []
        for room_id in (sn.effects or {}).get("streams_cut", []):
            room = s.get(Room, room_id)
            if room is not None and room.blocked and room.block_reason.startswith(f"sanction {sn.id}:"):
                self.p.rooms.unblock(s, room, actor=actor, reason=f"sanction {sn.id} lifted")
                unblocked.append(room_id)
        return unblocked, change

    # ------------------------------------------------------------------ blacklist (four eyes)
    async def confirm_blacklist(self, entry_id: int, *, actor: str) -> list[int]:
        """Confirm a proposed entry and close every account the identity holds; returns their ids."""
        def tx() -> list[int]:
            closed: list[int] = []
            with self.p.db.session() as s:
                entry, accounts = self.blacklist.confirm(s, entry_id, actor=actor)
                closed = self._close_listed(s, accounts, actor=actor, entry_id=entry.id)
            return closed

        ids = await asyncio.to_thread(tx)
        for sanction_id in ids:
            await self.carry_out(sanction_id)
        return ids

    async def confirm_blacklist_batch(self, batch: str, *, actor: str) -> tuple[int, list[int]]:
        def tx() -> tuple[int, list[int]]:
            with self.p.db.session() as s:
                n, accounts = self.blacklist.confirm_batch(s, batch, actor=actor)
                return n, self._close_listed(s, accounts, actor=actor, entry_id=None)

        n, ids = await asyncio.to_thread(tx)
        for sanction_id in ids:
            await self.carry_out(sanction_id)
        return n, ids

    def _close_listed(self, s: Session, accounts: list[int], *, actor: str, entry_id: int | None) -> list[int]:
        out = []
        for account_id in accounts:
            acc = s.get(Account, account_id)
            if acc is None or acc.status == "closed":
                continue
            sn = self.apply(s, account_id, reason_code="blacklist.listed", actor=actor, kind="closure",
                            escalate=False, deduct=False,
                            note=f"blacklist entry {entry_id}" if entry_id else "blacklist import batch")
            out.append(sn.id)
        return out

    # ------------------------------------------------------------------ incident reports
    def incident_report(self, s: Session, sanction_id: int) -> dict[str, Any]:
        sn = self.get_sanction(s, sanction_id)
        report = s.scalar(select(IncidentReport).where(IncidentReport.sanction_id == sn.id))
        return build_report(s, sn, report)

    def export_incident(self, s: Session, sanction_id: int, *, fmt: str, actor: str) -> tuple[str, str]:
        """(content, media type) of the report, audited with its digest."""
        import json

        doc = self.incident_report(s, sanction_id)
        content = (json.dumps(doc, ensure_ascii=False, indent=1, default=str) if fmt == "json"
                   else render_html(doc))
        report = s.scalar(select(IncidentReport).where(IncidentReport.sanction_id == sanction_id))
        if report is not None:
            report.status = "exported"
            report.exported_at = self.p.clock.now()
            report.exported_by = actor
            report.exports += 1
        self.p.audit.record(s, actor=actor, action="incident_report.export", target=f"sanction:{sanction_id}",
                            details={"format": fmt, "sha256": hashlib.sha256(content.encode()).hexdigest()})
        return content, "application/json" if fmt == "json" else "text/html; charset=utf-8"

    # ------------------------------------------------------------------ scheduled jobs
    async def _recovery_job(self) -> str:
        def run() -> list[LevelChange]:
            with self.p.db.session() as s:
                changes = self.credit.recover_due(s)
                return [c.level_change for c in changes if c.level_change is not None]

        changes = await asyncio.to_thread(run)
        for change in changes:
            await self.apply_level_change(change)
        return f"{len(changes)} level changes"

    async def run_recovery(self) -> int:
        """Run the recovery now (tests and the CLI); returns the number of level changes."""
        return int((await self._recovery_job()).split()[0])

    async def _sweep_job(self) -> str:
        """Expire ended suspensions (audited) and retry effects that did not all succeed."""
        def run() -> list[int]:
            now = self.p.clock.now()
            with self.p.db.session() as s:
                for sn in s.scalars(select(Sanction).where(Sanction.kind == "suspension", Sanction.status == "active",
                                                           Sanction.ends_at <= now)):
                    sn.status = "expired"
                    self.p.audit.record(s, actor="system:enforcement", action="sanction.expire",
                                        target=f"account:{sn.account_id}", details={"sanction": sn.id})
                return list(s.scalars(select(Sanction.id).where(Sanction.effects_done.is_(False),
                                                                Sanction.created_at <= now - dt.timedelta(minutes=1))
                                      .limit(50)))

        pending = await asyncio.to_thread(run)
        for sanction_id in pending:
            await self.carry_out(sanction_id)
        return f"{len(pending)} retried"

