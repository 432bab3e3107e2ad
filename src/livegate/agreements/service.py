"""Service agreement and platform convention versions, and their acceptance (Art. 13).

Clauses the policy requires (``agreement_clauses``) are marked in the Markdown with an HTML
comment on its own line, ``<!-- clause: id -->``, before the section that covers them; the
console compares the marks of the texts in force with the policy's list. A new version
cannot be published if, with it in force, a required clause would be uncovered.

A version is *current* from its ``effective_at`` until a later version of the same document
takes effect; every account must accept the current version of each document before it
publishes or comments, and again whenever a new version takes effect. The default texts
ship in ``defaults/`` and are seeded the first time anyone asks for the current versions.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from importlib import resources
from typing import Final

from markdown_it import MarkdownIt
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from livegate.agreements.errors import (
    AgreementClausesMissing,
    AgreementNotCurrent,
    AgreementNotFound,
    AgreementVersionExists,
    UnknownAgreementKind,
)
from livegate.agreements.models import AgreementAcceptance, AgreementVersion
from livegate.core.audit import AuditLog
from livegate.core.errors import ValidationFailed
from livegate.core.policy import Policy

__all__ = [
    "KINDS",
    "AgreementService",
    "ClauseCoverage",
    "clause_ids",
    "current_versions",
    "missing_acceptances",
    "render_markdown",
]

KINDS: Final = ("service_agreement", "platform_convention")
DEFAULT_VERSION: Final = "2026.1"
_CLAUSE: Final = re.compile(r"<!--\s*clause:\s*([a-z0-9_]+)\s*-->")
_VERSION: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,31}")
MAX_BODY: Final = 200_000


def clause_ids(body: str) -> set[str]:
    """The clause ids marked in a Markdown text."""
    return set(_CLAUSE.findall(body))


def render_markdown(body: str) -> str:
    """Markdown to HTML with raw HTML disabled (the clause marks are dropped, not rendered)."""
    return MarkdownIt("commonmark", {"html": False}).render(_CLAUSE.sub("", body))


def _default_text(kind: str) -> str:
    return resources.files("livegate.agreements").joinpath("defaults", f"{kind}.md").read_text(encoding="utf-8")


def _title_of(body: str, kind: str) -> str:
    for line in body.splitlines():
        if line.startswith("# "):
            return line[2:].strip()[:200]
    return kind.replace("_", " ").title()


def ensure_defaults(s: Session, now: dt.datetime, audit: AuditLog) -> None:
    """Seed the shipped texts for every document that has no version yet (idempotent, race-safe)."""
    have = set(s.scalars(select(AgreementVersion.kind).distinct()))
    for kind in KINDS:
        if kind in have:
            continue
        body = _default_text(kind)
        try:
            with s.begin_nested():
                s.add(AgreementVersion(kind=kind, version=DEFAULT_VERSION, title=_title_of(body, kind), body=body,
                                       effective_at=now, published_at=now, published_by="system:defaults"))
        except IntegrityError:
            continue  # another node seeded it first
        audit.record(s, actor="system:defaults", action="agreement.seed", target=f"agreement:{kind}",
                     details={"version": DEFAULT_VERSION})


def current_versions(s: Session, now: dt.datetime, audit: AuditLog | None = None) -> dict[str, AgreementVersion]:
    """The version of each document in force at ``now``; seeds the defaults first when ``audit`` is given."""
    if audit is not None:
        ensure_defaults(s, now, audit)
    out: dict[str, AgreementVersion] = {}
    for kind in KINDS:
        row = s.scalar(
            select(AgreementVersion)
            .where(AgreementVersion.kind == kind, AgreementVersion.effective_at <= now)
            .order_by(AgreementVersion.effective_at.desc(), AgreementVersion.id.desc())
            .limit(1)
        )
        if row is not None:
            out[kind] = row
    return out


def missing_acceptances(
    s: Session, account_id: int, now: dt.datetime, audit: AuditLog | None = None
) -> list[AgreementVersion]:
    """Current versions the account has not accepted yet."""
    current = current_versions(s, now, audit)
    if not current:
        return []
    accepted = set(
        s.scalars(
            select(AgreementAcceptance.version_id).where(
                AgreementAcceptance.account_id == account_id,
                AgreementAcceptance.version_id.in_([v.id for v in current.values()]),
            )
        )
    )
    return [v for v in current.values() if v.id not in accepted]


@dataclass(frozen=True)
class ClauseCoverage:
    id: str
    description: str
    applies_to: tuple[str, ...]
    covered_by: tuple[str, ...]  # "kind@version" of the texts in force that mark it

    @property
    def covered(self) -> bool:
        return bool(self.covered_by)


class AgreementService:
    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit

    def current(self, s: Session, now: dt.datetime) -> dict[str, AgreementVersion]:
        return current_versions(s, now, self.audit)

    def missing(self, s: Session, account_id: int, now: dt.datetime) -> list[AgreementVersion]:
        return missing_acceptances(s, account_id, now, self.audit)

    def versions(self, s: Session) -> list[AgreementVersion]:
        return list(s.scalars(select(AgreementVersion).order_by(AgreementVersion.kind,
                                                                AgreementVersion.effective_at.desc())))

    def get(self, s: Session, version_id: int) -> AgreementVersion:
        row = s.get(AgreementVersion, version_id)
        if row is None:
            raise AgreementNotFound()
        return row

    def accept(self, s: Session, account_id: int, version_ids: list[int], *, now: dt.datetime, ip: str,
               user_agent: str, actor: str) -> list[AgreementVersion]:
        """Record acceptance of current versions (idempotent); a version not in force is refused."""
        current = {v.id: v for v in self.current(s, now).values()}
        wanted = list(dict.fromkeys(version_ids))
        if not wanted:
            raise ValidationFailed("name the agreement versions you accept", field="version_ids")
        for vid in wanted:
            if vid not in current:
                raise AgreementNotCurrent(version_id=vid)
        done = set(s.scalars(select(AgreementAcceptance.version_id).where(
            AgreementAcceptance.account_id == account_id, AgreementAcceptance.version_id.in_(wanted))))
        accepted = []
        for vid in wanted:
            if vid in done:
                continue
            v = current[vid]
            s.add(AgreementAcceptance(account_id=account_id, version_id=vid, accepted_at=now, ip=ip[:64],
                                      user_agent=user_agent[:255]))
            accepted.append(v)
        s.flush()
        if accepted:
            self.audit.record(s, actor=actor, action="agreement.accept", target=f"account:{account_id}",
                              details={"versions": [f"{v.kind}@{v.version}" for v in accepted], "ip": ip})
        return accepted

    def publish(self, s: Session, *, kind: str, version: str, body: str, effective_at: dt.datetime,
                now: dt.datetime, policy: Policy, actor: str, title: str | None = None,
                allow_missing_clauses: bool = False) -> AgreementVersion:
        if kind not in KINDS:
            raise UnknownAgreementKind(allowed=list(KINDS))
        version = version.strip()
        if not _VERSION.fullmatch(version):
            raise ValidationFailed("a version is 1-32 letters, digits, '.', '_' or '-'", field="version")
        if not body.strip() or len(body) > MAX_BODY:
            raise ValidationFailed(f"the text must have 1-{MAX_BODY} characters", field="body")
        if effective_at.tzinfo is None:
            raise ValidationFailed("effective_at needs a time zone", field="effective_at")
        self.current(s, now)  # seed defaults so the new version is not silently first
        if s.scalar(select(AgreementVersion.id).where(AgreementVersion.kind == kind,
                                                      AgreementVersion.version == version)):
            raise AgreementVersionExists(kind=kind, version=version)
        at = max(effective_at, now)
        in_force = {k: v for k, v in current_versions(s, at).items() if k != kind}
        marks = clause_ids(body).union(*(clause_ids(v.body) for v in in_force.values()))
        missing = [c.id for c in policy.agreement_clauses if c.id not in marks]
        if missing and not allow_missing_clauses:
            raise AgreementClausesMissing(
                "With this version in force, the texts would not cover every clause the policy requires.",
                missing=missing,
            )
        row = AgreementVersion(kind=kind, version=version, title=(title or _title_of(body, kind))[:200], body=body,
                               effective_at=at, published_at=now, published_by=actor)
        s.add(row)
        s.flush()
        self.audit.record(s, actor=actor, action="agreement.publish", target=f"agreement:{kind}",
                          details={"version": version, "effective_at": at.isoformat(), "missing_clauses": missing})
        return row

    def coverage(self, s: Session, policy: Policy, now: dt.datetime) -> list[ClauseCoverage]:
        current = self.current(s, now)
        out = []
        for clause in policy.agreement_clauses:
            by = tuple(f"{v.kind}@{v.version}" for v in current.values() if clause.id in clause_ids(v.body))
            out.append(ClauseCoverage(clause.id, clause.description, tuple(clause.applies_to), by))
        return out
