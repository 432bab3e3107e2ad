"""The publisher credit book (Article 15): a score on the policy's scale, deductions by
severity, recovery of N points per M days without a violation up to a cap, and the level
each score falls in.

Every change writes a ``credit_events`` row and an audit entry in the caller's
transaction; a change of level writes a ``credit.level_change`` audit entry as well and is
returned as a :class:`LevelChange` so the module can apply it to live rooms.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from livegate.core.audit import AuditLog
from livegate.core.clock import Clock
from livegate.core.policy import CreditLevel, Policy, PolicyHolder
from livegate.enforcement.models import CreditEvent, CreditScore

__all__ = ["CreditBook", "CreditChange", "LevelChange"]


@dataclass(frozen=True)
class LevelChange:
    account_id: int
    before: str
    after: str
    score: int


@dataclass(frozen=True)
class CreditChange:
    account_id: int
    delta: int
    score: int
    level_change: LevelChange | None


class CreditBook:
    def __init__(self, policy: PolicyHolder, audit: AuditLog, clock: Clock) -> None:
        self.policy = policy
        self.audit = audit
        self.clock = clock

    def score_of(self, s: Session, account_id: int) -> int:
        row = s.get(CreditScore, account_id)
        return row.score if row is not None else self.policy.get().credit.scale.start

    def level_of(self, s: Session, account_id: int) -> CreditLevel:
        return self.policy.get().credit_level_for(self.score_of(s, account_id))

    def _row(self, s: Session, account_id: int, policy: Policy) -> CreditScore:
        row = s.get(CreditScore, account_id)
        if row is None:
            start = policy.credit.scale.start
            row = CreditScore(account_id=account_id, score=start, level=policy.credit_level_for(start).key,
                              updated_at=self.clock.now(), last_violation_at=None, last_recovery_at=None)
            s.add(row)
            s.flush()
        return row

    def change(self, s: Session, account_id: int, delta: int, *, kind: str, reason: str, actor: str,
               sanction_id: int | None = None, ceiling: int | None = None) -> CreditChange:
        """Add ``delta`` (negative for a deduction), clamped to the scale (and ``ceiling``)."""
        policy = self.policy.get()
        scale = policy.credit.scale
        row = self._row(s, account_id, policy)
        now = self.clock.now()
        before_level = policy.credit_level_for(row.score).key
        top = scale.max if ceiling is None else min(scale.max, ceiling)
        if delta >= 0:  # giving back never lowers a score that is already above the ceiling
            new = max(row.score, min(top, row.score + delta))
        else:
            new = max(scale.min, row.score + delta)
        applied = new - row.score
        row.score = new
        after_level = policy.credit_level_for(new).key
        row.level = after_level
        row.updated_at = now
        if kind == "deduction":
            row.last_violation_at = now
            row.last_recovery_at = None
        s.add(CreditEvent(account_id=account_id, at=now, kind=kind, delta=applied, score_after=new,
                          level_before=before_level, level_after=after_level, sanction_id=sanction_id,
                          reason=reason[:2000], actor=actor))
        s.flush()
        self.audit.record(s, actor=actor, action=f"credit.{kind}", target=f"account:{account_id}", reason=reason,
                          details={"delta": applied, "score": new, "level": after_level, "sanction": sanction_id})
        change = None
        if after_level != before_level:
            change = LevelChange(account_id, before_level, after_level, new)
            self.audit.record(s, actor=actor, action="credit.level_change", target=f"account:{account_id}",
                              reason=reason, details={"from": before_level, "to": after_level, "score": new})
        return CreditChange(account_id, applied, new, change)

    def deduct(self, s: Session, account_id: int, severity: str, *, reason: str, actor: str,
               sanction_id: int | None = None) -> CreditChange:
        points = self.policy.get().credit.deductions[severity]  # type: ignore[index]
        return self.change(s, account_id, -points, kind="deduction", reason=reason, actor=actor,
                           sanction_id=sanction_id)

    def recover_due(self, s: Session, *, actor: str = "system:credit") -> list[CreditChange]:
        """Give back ``points`` for every whole ``per_days`` without a violation, up to the cap."""
        policy = self.policy.get()
        rec = policy.credit.recovery
        now = self.clock.now()
        period = dt.timedelta(days=rec.per_days)
        out: list[CreditChange] = []
        if rec.points <= 0:
            return out
        rows = s.scalars(select(CreditScore).where(CreditScore.score < rec.cap)
                         .order_by(CreditScore.account_id)).all()
        for row in rows:
            since = row.last_recovery_at or row.last_violation_at or row.updated_at
            periods = int((now - since) / period)
            if periods < 1:
                continue
            change = self.change(s, row.account_id, rec.points * periods, kind="recovery", actor=actor,
                                 reason=f"{periods * rec.per_days} days without a violation: "
                                        f"+{rec.points} per {rec.per_days} days (cap {rec.cap})",
                                 ceiling=rec.cap)
            row.last_recovery_at = since + periods * period
            out.append(change)
        return out

    def history(self, s: Session, account_id: int, limit: int = 100) -> list[CreditEvent]:
        return list(s.scalars(select(CreditEvent).where(CreditEvent.account_id == account_id)
                              .order_by(CreditEvent.id.desc()).limit(limit)))

    def distribution(self, s: Session) -> list[tuple[CreditLevel, int]]:
        """How many publishers hold each level; accounts without a row hold the starting score."""
        from livegate.core.models import Account, RoleGrant
        from livegate.core.permissions import Role

        policy = self.policy.get()
        counts = dict(s.execute(select(CreditScore.level, func.count()).group_by(CreditScore.level)).all())
        publishers = s.scalar(select(func.count(func.distinct(RoleGrant.account_id)))
                              .join(Account, Account.id == RoleGrant.account_id)
                              .where(RoleGrant.role == Role.PUBLISHER.value)) or 0
        scored_publishers = s.scalar(select(func.count(CreditScore.account_id))
                                     .join(RoleGrant, RoleGrant.account_id == CreditScore.account_id)
                                     .where(RoleGrant.role == Role.PUBLISHER.value)) or 0
        start_key = policy.credit_level_for(policy.credit.scale.start).key
        unscored = max(publishers - scored_publishers, 0)
        out = []
        for level in policy.credit.levels:
            n = int(counts.get(level.key, 0)) + (unscored if level.key == start_key else 0)
            out.append((level, n))
        return out

    def recovery_text(self, s: Session, account_id: int) -> str:
        """How this publisher gets back to a better level, in words."""
        policy = self.policy.get()
        rec = policy.credit.recovery
        score = self.score_of(s, account_id)
        if score >= rec.cap:
            return "Your score is at the recovery cap; keep your record clean to keep it."
        better = [lv for lv in policy.credit.levels if lv.min_score > score]
        target = min(better, key=lambda lv: lv.min_score) if better else None
        text = (f"Every {rec.per_days} days without a violation give back {rec.points} points, "
                f"up to {rec.cap}.")
        if target is not None and rec.points > 0:
            needed = target.min_score - score
            periods = -(-needed // rec.points)
            text += (f" {needed} more points reach level {target.key}: about {periods * rec.per_days} days"
                     " without a violation.")
        return text
