"""Legal holds: a compliance officer freezes an account's, a room's or a case's records.

Held records are never purged, whatever their age. Placing and lifting are both audited,
with the officer and the reason; a lifted hold stays in the table as history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from livegate.core.audit import AuditLog
from livegate.core.clock import Clock
from livegate.core.errors import ValidationFailed
from livegate.core.models import Account
from livegate.media.models import Room
from livegate.retention.builtin_kinds import rooms_owned_by
from livegate.retention.errors import HoldAlreadyLifted, HoldNotFound, InvalidScope
from livegate.retention.kinds import HeldScopes
from livegate.retention.models import LegalHold

ScopeType = Literal["account", "room", "case"]
SCOPE_TYPES: tuple[str, ...] = get_args(ScopeType)
#: (session, case id) -> the accounts and rooms a case concerns, e.g. from the review module
CaseResolver = Callable[[Session, str], Iterable[tuple[str, str]]]


class HoldService:
    def __init__(self, audit: AuditLog, clock: Clock) -> None:
        self.audit = audit
        self.clock = clock
        self.case_resolvers: list[CaseResolver] = []

    def _check_scope(self, s: Session, scope_type: str, scope_id: str) -> str:
        if scope_type not in SCOPE_TYPES:
            raise InvalidScope(f"scope must be one of {', '.join(SCOPE_TYPES)}", scope_type=scope_type)
        scope_id = str(scope_id).strip()
        if not scope_id or len(scope_id) > 64:
            raise InvalidScope("scope id is required (at most 64 characters)")
        if scope_type == "account":
            if not scope_id.isdigit() or s.get(Account, int(scope_id)) is None:
                raise InvalidScope(f"no account {scope_id}", scope_type=scope_type, scope_id=scope_id)
        elif scope_type == "room" and s.get(Room, scope_id) is None:
            raise InvalidScope(f"no room {scope_id}", scope_type=scope_type, scope_id=scope_id)
        return scope_id

    def place(self, s: Session, *, scope_type: str, scope_id: str | int, reason: str, actor: str) -> int:
        sid = self._check_scope(s, scope_type, str(scope_id))
        if not reason.strip():
            raise ValidationFailed("a legal hold needs a reason", field="reason")
        hold = LegalHold(scope_type=scope_type, scope_id=sid, reason=reason.strip(), placed_by=actor,
                         placed_at=self.clock.now())
        s.add(hold)
        s.flush()
        self.audit.record(s, actor=actor, action="retention.hold_place", target=f"{scope_type}:{sid}",
                          reason=reason, details={"hold": hold.id})
        return hold.id

    def lift(self, s: Session, hold_id: int, *, reason: str, actor: str) -> LegalHold:
        hold = s.get(LegalHold, hold_id)
        if hold is None:
            raise HoldNotFound(hold=hold_id)
        if hold.lifted_at is not None:
            raise HoldAlreadyLifted(hold=hold_id)
        if not reason.strip():
            raise ValidationFailed("lifting a legal hold needs a reason", field="reason")
        hold.lifted_at = self.clock.now()
        hold.lifted_by = actor
        hold.lift_reason = reason.strip()
        self.audit.record(s, actor=actor, action="retention.hold_lift",
                          target=f"{hold.scope_type}:{hold.scope_id}", reason=reason, details={"hold": hold.id})
        return hold

    def is_held(self, s: Session, scope_type: str, scope_id: str | int) -> bool:
        return s.scalar(select(LegalHold.id).where(
            LegalHold.scope_type == scope_type, LegalHold.scope_id == str(scope_id),
            LegalHold.lifted_at.is_(None)).limit(1)) is not None

    def active(self, s: Session) -> list[LegalHold]:
        return list(s.scalars(select(LegalHold).where(LegalHold.lifted_at.is_(None)).order_by(LegalHold.id)))

    def history(self, s: Session, limit: int = 200) -> list[LegalHold]:
        return list(s.scalars(select(LegalHold).order_by(LegalHold.id.desc()).limit(limit)))

    def held_scopes(self, s: Session) -> HeldScopes:
        accounts: set[int] = set()
        rooms: set[str] = set()
        cases: set[str] = set()
        for h in self.active(s):
            if h.scope_type == "account" and h.scope_id.isdigit():
                accounts.add(int(h.scope_id))
            elif h.scope_type == "room":
                rooms.add(h.scope_id)
            elif h.scope_type == "case":
                cases.add(h.scope_id)
                for resolver in self.case_resolvers:
                    for kind, ident in resolver(s, h.scope_id):
                        if kind == "account" and str(ident).isdigit():
                            accounts.add(int(ident))
                        elif kind == "room":
                            rooms.add(str(ident))
        acc = frozenset(accounts)
        return HeldScopes(accounts=acc, rooms=frozenset(rooms), cases=frozenset(cases),
                          owned_rooms=rooms_owned_by(s, acc))
