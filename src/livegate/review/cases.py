"""Review cases: signals aggregate into one open case per target; thresholds from the
policy decide whether a case is queued for a person or only recorded; reviewers claim and
decide. Automatic actions are taken by :class:`~livegate.review.service.ReviewModule`,
which is where the asynchronous cut-off lives.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from livegate.media.models import Room
from livegate.review.errors import CaseAlreadyDecided, CaseClaimedByAnother, CaseNotFound, InvalidDecision
from livegate.review.models import ReviewCase, ReviewEvidence

if TYPE_CHECKING:
    from livegate.app import Platform

log = logging.getLogger(__name__)

OPEN_STATES = ("open", "claimed", "escalated", "ignored", "auto_actioned")
QUEUE_STATES = ("open", "claimed", "escalated")
TARGET_TYPES = ("room", "account", "message", "post", "profile")
DECISIONS = ("dismiss", "warn", "cutoff", "escalate", "enforce")
ESCALATE_TO = ("chief_editor", "compliance")


def priority_of(score: float, audience: int, weight: float) -> float:
    """Score plus ``weight`` per decade of audience: 10,000 viewers add 4 x weight."""
    return round(score + weight * math.log10(1 + max(0, audience)), 3)


class CaseService:
    def __init__(self, platform: Platform) -> None:
        self.p = platform

    def credit_level(self, s: Session, account_id: int | None) -> str:
        policy = self.p.policy.get()
        enforcement = getattr(self.p, "enforcement", None)
        if account_id is not None and enforcement is not None and hasattr(enforcement, "credit_level_of"):
            try:
                return str(enforcement.credit_level_of(s, account_id).key)
            except Exception:  # a missing credit record must not stop review
                log.warning("no credit level for account %s; using the policy's start level", account_id)
        return policy.credit_level_for(policy.credit.scale.start).key

    def add_signal(self, s: Session, *, kind: str, target_type: str, target_id: str, score: float,
                   evidence: dict[str, Any], room_id: str | None = None, account_id: int | None = None,
                   jpeg: bytes | None = None) -> ReviewCase:
        if target_type not in TARGET_TYPES:
            raise InvalidDecision(f"unknown target type {target_type!r}", field="target_type")
        rules = self.p.policy.get().review
        now = self.p.clock.now()
        room = s.get(Room, room_id) if room_id else None
        if room is not None and account_id is None:
            account_id = room.owner_id
        audience = room.viewers if room is not None else 0
        case = s.scalar(select(ReviewCase).where(
            ReviewCase.target_type == target_type, ReviewCase.target_id == str(target_id),
            ReviewCase.status.in_(OPEN_STATES)).order_by(ReviewCase.id.desc()).limit(1))
        score = float(max(0.0, min(100.0, score)))
        if case is None:
            case = ReviewCase(target_type=target_type, target_id=str(target_id), room_id=room_id,
                              account_id=account_id, status="open", score=score, audience=audience,
                              credit_level=self.credit_level(s, account_id), kinds=[kind], signal_count=0,
                              created_at=now, updated_at=now)
            s.add(case)
            s.flush()
            self.p.audit.record(s, actor=f"signal:{kind}", action="review.case_open", target=f"case:{case.id}",
                                details={"target": f"{target_type}:{target_id}", "score": score})
        else:
            case.score = max(case.score, score)
            case.audience = max(case.audience, audience)
            if kind not in case.kinds:
                case.kinds = [*case.kinds, kind]
            case.updated_at = now
        case.signal_count += 1
        case.priority = priority_of(case.score, case.audience, rules.audience_weight)
        if case.status == "ignored" and case.score >= rules.queue_score:
            case.status = "open"
        elif case.status == "open" and case.score < rules.queue_score:
            case.status = "ignored"
        s.add(ReviewEvidence(case_id=case.id, kind=kind, score=score, evidence=evidence, jpeg=jpeg, created_at=now))
        s.flush()
        return case

    def get(self, s: Session, case_id: int) -> ReviewCase:
        case = s.get(ReviewCase, case_id)
        if case is None:
            raise CaseNotFound()
        return case

    def queue(self, s: Session, *, limit: int = 100, escalated_to: str | None = None) -> list[ReviewCase]:
        q = select(ReviewCase).where(ReviewCase.status.in_(QUEUE_STATES))
        if escalated_to:
            q = q.where(ReviewCase.escalated_to == escalated_to)
        return list(s.scalars(q.order_by(ReviewCase.priority.desc(), ReviewCase.created_at).limit(limit)))

    def evidence(self, s: Session, case_id: int) -> list[ReviewEvidence]:
        return list(s.scalars(select(ReviewEvidence).where(ReviewEvidence.case_id == case_id)
                              .order_by(ReviewEvidence.id)))

    def history(self, s: Session, case: ReviewCase) -> dict[str, Any]:
        if case.account_id is None:
            return {"cases": 0, "decisions": {}}
        rows = s.execute(select(ReviewCase.decision, func.count()).where(
            ReviewCase.account_id == case.account_id, ReviewCase.id != case.id,
            ReviewCase.status == "decided").group_by(ReviewCase.decision)).all()
        total = s.scalar(select(func.count()).select_from(ReviewCase).where(
            ReviewCase.account_id == case.account_id, ReviewCase.id != case.id)) or 0
        return {"cases": int(total), "decisions": {d: int(n) for d, n in rows}}

    def claim(self, s: Session, case_id: int, *, actor: str) -> ReviewCase:
        case = self.get(s, case_id)
        if case.status == "decided":
            raise CaseAlreadyDecided()
        if case.status == "claimed" and case.claimed_by and case.claimed_by != actor:
            raise CaseClaimedByAnother(f"claimed by {case.claimed_by}")
        case.status = "claimed"
        case.claimed_by = actor
        case.claimed_at = self.p.clock.now()
        self.p.audit.record(s, actor=actor, action="review.case_claim", target=f"case:{case.id}")
        return case

    def record_decision(self, s: Session, case_id: int, *, decision: str, reason: str, actor: str,
                        escalate_to: str | None = None) -> ReviewCase:
        case = self.get(s, case_id)
        if decision not in DECISIONS:
            raise InvalidDecision(f"decision must be one of {', '.join(DECISIONS)}", field="decision")
        if not reason.strip():
            raise InvalidDecision("a decision needs a reason", field="reason")
        if case.status == "decided":
            raise CaseAlreadyDecided()
        if case.status == "claimed" and case.claimed_by and case.claimed_by != actor:
            raise CaseClaimedByAnother(f"claimed by {case.claimed_by}")
        if decision == "cutoff" and case.room_id is None:
            raise InvalidDecision("only a case about a room can be cut off", field="decision")
        if decision in ("warn", "enforce") and case.account_id is None:
            raise InvalidDecision("this case names no publisher", field="decision")
        now = self.p.clock.now()
        if decision == "escalate":
            if escalate_to not in ESCALATE_TO:
                raise InvalidDecision("escalate to chief_editor or compliance", field="escalate_to")
            case.status = "escalated"
            case.escalated_to = escalate_to
            case.claimed_by = ""
        else:
            case.status = "decided"
            case.decision = decision
            case.decided_by = actor
            case.decided_at = now
        case.decision_reason = reason.strip()[:2000]
        case.updated_at = now
        self.p.audit.record(s, actor=actor, action=f"review.case_{decision}", target=f"case:{case.id}",
                            reason=case.decision_reason,
                            details={"escalate_to": escalate_to, "room": case.room_id, "account": case.account_id})
        return case

    def view(self, s: Session, case: ReviewCase, *, with_evidence: bool = False) -> dict[str, Any]:
        now = self.p.clock.now()
        out: dict[str, Any] = {
            "id": case.id, "target_type": case.target_type, "target_id": case.target_id, "room_id": case.room_id,
            "account_id": case.account_id, "status": case.status, "score": case.score, "priority": case.priority,
            "audience": case.audience, "credit_level": case.credit_level, "kinds": case.kinds,
            "signals": case.signal_count, "auto_action": case.auto_action, "claimed_by": case.claimed_by,
            "escalated_to": case.escalated_to, "decision": case.decision, "decision_reason": case.decision_reason,
            "decided_by": case.decided_by, "created_at": case.created_at.isoformat(),
            "age_seconds": round((now - case.created_at).total_seconds(), 1),
        }
        if with_evidence:
            out["evidence"] = [{"id": e.id, "kind": e.kind, "score": e.score, "evidence": e.evidence,
                                "has_image": e.jpeg is not None, "at": e.created_at.isoformat()}
                               for e in self.evidence(s, case.id)]
            out["history"] = self.history(s, case)
        return out

    def metrics(self, s: Session) -> dict[str, Any]:
        now = self.p.clock.now()
        open_rows = s.execute(select(ReviewCase.created_at).where(ReviewCase.status.in_(QUEUE_STATES))).all()
        ages = sorted((now - c).total_seconds() for (c,) in open_rows)
        decided = s.execute(select(ReviewCase.created_at, ReviewCase.decided_at).where(
            ReviewCase.status == "decided", ReviewCase.decided_at.is_not(None))
            .order_by(ReviewCase.decided_at.desc()).limit(500)).all()
        ttd = sorted((d - c).total_seconds() for c, d in decided if d is not None)

        def pct(values: list[float], q: float) -> float | None:
            return round(values[min(len(values) - 1, int(q * len(values)))], 1) if values else None

        return {"queue_length": len(ages), "queue_age_max_seconds": round(ages[-1], 1) if ages else 0.0,
                "queue_age_p50_seconds": pct(ages, 0.5), "decided_recent": len(ttd),
                "time_to_decision_p50_seconds": pct(ttd, 0.5), "time_to_decision_p90_seconds": pct(ttd, 0.9)}
