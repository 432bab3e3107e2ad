"""Checks other flows run before admitting someone: the publish gate's identity, agreement
and credential checks (Arts. 5, 6, 12, 13), and the comment gate for the chat.

Every refusal names its rule and the article behind it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from livegate.agreements.models import AgreementVersion
from livegate.agreements.service import missing_acceptances
from livegate.core.audit import AuditLog
from livegate.core.clock import SystemClock
from livegate.identity.models import IdentityRecord, PhoneVerification
from livegate.media.rooms import GateContext, Refusal

if TYPE_CHECKING:
    from livegate.app import Platform

__all__ = [
    "AgreementsCurrent",
    "CredentialsForCategory",
    "IdentityVerified",
    "agreements_refusal",
    "comment_gate_check",
    "install_gate_checks",
]


def agreements_refusal(s: Session, account_id: int, now: dt.datetime, audit: AuditLog | None = None,
                       *, acting: str = "publishing") -> Refusal | None:
    missing: list[AgreementVersion] = missing_acceptances(s, account_id, now, audit)
    if not missing:
        return None
    titles = ", ".join(f"{v.title} ({v.version})" for v in missing)
    return Refusal("agreement.not_accepted", "Art. 13",
                   f"accept the current {titles} before {acting}")


class IdentityVerified:
    """The room's owner holds an approved identity verification."""

    name = "identity_verified"

    def check(self, ctx: GateContext) -> Refusal | None:
        found = ctx.session.scalar(select(IdentityRecord.id).where(
            IdentityRecord.account_id == ctx.owner.id, IdentityRecord.status == "approved").limit(1))
        if found is None:
            return Refusal("identity.unverified", "Art. 12",
                           "the publisher's real identity has not been verified by the platform")
        return None


class AgreementsCurrent:
    """The room's owner accepted the service agreement and convention in force."""

    name = "agreements_current"

    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit

    def check(self, ctx: GateContext) -> Refusal | None:
        return agreements_refusal(ctx.session, ctx.owner.id, ctx.now, self.audit)


class CredentialsForCategory:
    """The platform and the publisher hold every credential the room's category needs, in force."""

    name = "credentials_for_category"

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def check(self, ctx: GateContext) -> Refusal | None:
        p = self.platform
        return p.identity.credentials.check_category(ctx.session, p.policy.get(), ctx.room.category, ctx.owner.id,
                                                     ctx.now.date())


def install_gate_checks(platform: Platform) -> None:
    platform.gate.add(IdentityVerified())
    platform.gate.add(AgreementsCurrent(platform.audit))
    platform.gate.add(CredentialsForCategory(platform))


def comment_gate_check(session: Session, account_id: int, *, now: dt.datetime | None = None,
                       audit: AuditLog | None = None) -> Refusal | None:
    """May this account comment? Phone verified (Art. 12) and current agreements accepted (Art. 13).

    Watching needs neither. Pass the platform's ``audit`` (as ``platform.identity.comment_gate``
    does) so the default agreement texts are seeded on a fresh install.
    """
    now = now or SystemClock().now()
    if session.get(PhoneVerification, account_id) is None:
        return Refusal("comment.phone_unverified", "Art. 12",
                       "verify a mobile phone number before commenting; watching needs no verification")
    return agreements_refusal(session, account_id, now, audit, acting="commenting")
