"""Licences of the platform and credentials of publishers (Arts. 5, 6).

The policy names the credential kinds and which a category requires
(``categories.*.required_credentials``). The platform's licences are registered by
administrators and active at once; a publisher's credential waits for staff to check it.
A credential counts while it is active and not past its expiry date; 30 days before that
date a scheduled job raises an alert, and another when it lapses.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from livegate.core.audit import AuditLog
from livegate.core.errors import ValidationFailed
from livegate.core.policy import Policy
from livegate.credentials.errors import CredentialNotFound, CredentialState, InvalidCredential, UnknownCredentialKind
from livegate.credentials.models import Credential, CredentialAlert
from livegate.media.rooms import Refusal

__all__ = ["ALERT_DAYS", "CredentialService", "article_of"]

ALERT_DAYS: Final = 30


def article_of(basis: str) -> str:
    """``"Article 6 (online performances)"`` -> ``"Art. 6"``; the basis itself if it names no article."""
    words = basis.split()
    if len(words) >= 2 and words[0].lower().startswith("art") and words[1].rstrip(",;").isdigit():
        return f"Art. {words[1].rstrip(',;')}"
    return basis or "Arts. 5, 6"


def _text(value: str, field: str, max_len: int, *, required: bool = True) -> str:
    value = " ".join((value or "").split())
    if required and not value:
        raise InvalidCredential(f"{field} is required", field=field)
    if len(value) > max_len:
        raise InvalidCredential(f"{field} has at most {max_len} characters", field=field)
    return value


class CredentialService:
    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit

    def register(self, s: Session, *, policy: Policy, holder: str, account_id: int | None, kind: str, number: str,
                 scope: str, issuer: str, expires_on: dt.date | None, now: dt.datetime, actor: str) -> Credential:
        spec = policy.credential_kinds.get(kind)
        if spec is None or spec.holder != holder:
            allowed = sorted(k for k, v in policy.credential_kinds.items() if v.holder == holder)
            raise UnknownCredentialKind(f"the policy defines no {holder} credential kind {kind!r}", allowed=allowed)
        if (holder == "platform") != (account_id is None):
            raise ValidationFailed("a platform licence has no account; a publisher credential has one")
        if expires_on is not None and expires_on < now.date():
            raise InvalidCredential("this credential has already expired", field="expires_on")
        row = Credential(
            holder=holder, account_id=account_id, kind=kind, number=_text(number, "number", 64),
            scope=_text(scope, "scope", 2000, required=False), issuer=_text(issuer, "issuer", 200),
            expires_on=expires_on, status="active" if holder == "platform" else "pending",
            created_at=now, created_by=actor, decided_by=actor if holder == "platform" else "",
            decided_at=now if holder == "platform" else None,
        )
        s.add(row)
        s.flush()
        self.audit.record(s, actor=actor, action="credential.register", target=f"credential:{row.id}",
                          details={"holder": holder, "account": account_id, "kind": kind, "status": row.status,
                                   "expires_on": expires_on.isoformat() if expires_on else None})
        return row

    def get(self, s: Session, credential_id: int) -> Credential:
        row = s.get(Credential, credential_id)
        if row is None:
            raise CredentialNotFound()
        return row

    def decide(self, s: Session, credential_id: int, *, approve: bool, reason: str, now: dt.datetime,
               actor: str) -> Credential:
        row = self.get(s, credential_id)
        if row.status != "pending":
            raise CredentialState("only a pending credential can be approved or rejected", status=row.status)
        if not reason.strip():
            raise ValidationFailed("a decision needs a reason", field="reason")
        row.status = "active" if approve else "rejected"
        row.decided_by = actor
        row.decided_at = now
        self.audit.record(s, actor=actor, action="credential.approve" if approve else "credential.reject",
                          target=f"credential:{row.id}", reason=reason.strip())
        return row

    def revoke(self, s: Session, credential_id: int, *, reason: str, now: dt.datetime, actor: str) -> Credential:
        row = self.get(s, credential_id)
        if row.status in {"revoked", "rejected"}:
            raise CredentialState("this credential is not in force", status=row.status)
        if not reason.strip():
            raise ValidationFailed("revoking needs a reason", field="reason")
        row.status = "revoked"
        row.decided_by = actor
        row.decided_at = now
        self.audit.record(s, actor=actor, action="credential.revoke", target=f"credential:{row.id}",
                          reason=reason.strip())
        return row

    def listing(self, s: Session, *, holder: str | None = None, account_id: int | None = None) -> list[Credential]:
        q = select(Credential).order_by(Credential.id)
        if holder is not None:
            q = q.where(Credential.holder == holder)
        if account_id is not None:
            q = q.where(Credential.account_id == account_id)
        return list(s.scalars(q))

    @staticmethod
    def _in_force(s: Session, holder: str, account_id: int | None, kinds: list[str],
                  today: dt.date) -> tuple[set[str], set[str]]:
        """(kinds held in force, kinds held only expired)."""
        if not kinds:
            return set(), set()
        q = select(Credential).where(Credential.holder == holder, Credential.kind.in_(kinds),
                                     Credential.status == "active")
        q = q.where(Credential.account_id.is_(None) if account_id is None else Credential.account_id == account_id)
        valid: set[str] = set()
        expired: set[str] = set()
        for row in s.scalars(q):
            if row.expires_on is None or row.expires_on >= today:
                valid.add(row.kind)
            else:
                expired.add(row.kind)
        return valid, expired - valid

    def check_category(self, s: Session, policy: Policy, category: str, owner_id: int,
                       today: dt.date) -> Refusal | None:
        """The refusal for a room of ``category`` whose platform or publisher lacks a credential, or None."""
        cat = policy.categories.get(category)
        if cat is None:
            return Refusal("category.unknown", "Art. 7", f"the room's category {category!r} is not in the policy")
        for holder, kinds, account in (("platform", cat.required_credentials.platform, None),
                                       ("publisher", cat.required_credentials.publisher, owner_id)):
            valid, expired = self._in_force(s, holder, account, list(kinds), today)
            for kind in kinds:
                if kind in valid:
                    continue
                spec = policy.credential_kinds[kind]
                whose = "the platform's" if holder == "platform" else "the publisher's"
                if kind in expired:
                    return Refusal(f"credential.{holder}_expired", article_of(spec.basis),
                                   f"{whose} {spec.display_name} has expired; category {cat.display_name!r} needs it")
                return Refusal(f"credential.{holder}_missing", article_of(spec.basis),
                               f"category {cat.display_name!r} needs {whose} {spec.display_name}, which is not "
                               f"registered and in force")
        return None

    def raise_expiry_alerts(self, s: Session, *, today: dt.date, now: dt.datetime) -> int:
        """Raise ``expiring`` (within 30 days) and ``expired`` alerts once each; returns how many were new."""
        horizon = today + dt.timedelta(days=ALERT_DAYS)
        rows = s.scalars(select(Credential).where(Credential.status == "active", Credential.expires_on.is_not(None),
                                                  Credential.expires_on <= horizon))
        new = 0
        for row in rows:
            assert row.expires_on is not None
            kind = "expired" if row.expires_on < today else "expiring"
            try:
                with s.begin_nested():
                    s.add(CredentialAlert(credential_id=row.id, kind=kind, expires_on=row.expires_on,
                                          raised_at=now))
            except IntegrityError:
                continue
            new += 1
            self.audit.record(s, actor="system:scheduler", action=f"credential.alert_{kind}",
                              target=f"credential:{row.id}",
                              details={"kind": row.kind, "holder": row.holder, "account": row.account_id,
                                       "expires_on": row.expires_on.isoformat()})
        return new

    def alerts(self, s: Session, *, open_only: bool = True) -> list[tuple[CredentialAlert, Credential]]:
        q = select(CredentialAlert, Credential).join(Credential, Credential.id == CredentialAlert.credential_id)
        if open_only:
            q = q.where(CredentialAlert.acknowledged_at.is_(None))
        return [(a, c) for a, c in s.execute(q.order_by(CredentialAlert.expires_on))]

    def acknowledge(self, s: Session, alert_id: int, *, now: dt.datetime, actor: str) -> None:
        alert = s.get(CredentialAlert, alert_id)
        if alert is None:
            raise CredentialNotFound("no such alert")
        if alert.acknowledged_at is None:
            alert.acknowledged_at = now
            alert.acknowledged_by = actor
            self.audit.record(s, actor=actor, action="credential.alert_ack", target=f"credential:{alert.credential_id}",
                              details={"alert": alert.id, "kind": alert.kind})
