"""Enforcement tables: sanctions and their appeals, the credit book, the blacklist, evidence
references and incident reports (Articles 14, 15).

The blacklist holds blind indexes only (``value_index``: the vault's keyed HMAC of the
normalised phone or document number) and a masked hint; no column holds a plain identity.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from livegate.core.db import Base


class Sanction(Base):
    """A warning, a suspension (of publishing and/or commenting) or a closure (Art. 14).

    ``status``: ``active`` (in force; a warning stays active until acknowledged and then is
    ``acknowledged``), ``expired`` (a suspension whose time ran out), ``lifted`` (on appeal).
    """

    __tablename__ = "sanctions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # warning | suspension | closure
    scopes: Mapped[list] = mapped_column(JSON, default=list)  # type: ignore[type-arg]  # publish, comment
    reason_code: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(64))
    article: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    room_id: Mapped[str | None] = mapped_column(String(16))
    requested_kind: Mapped[str] = mapped_column(String(16), default="")
    ladder_step: Mapped[int] = mapped_column(Integer, default=0)
    prior_violations: Mapped[int] = mapped_column(Integer, default=0)
    escalation: Mapped[str] = mapped_column(Text, default="")
    credit_deducted: Mapped[int] = mapped_column(Integer, default=0)
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(String(16), index=True)
    acknowledged_at: Mapped[dt.datetime | None]
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime]
    effects_done: Mapped[bool] = mapped_column(Boolean, default=False)
    effects: Mapped[dict] = mapped_column(JSON, default=dict)  # type: ignore[type-arg]
    lifted_at: Mapped[dt.datetime | None]
    lifted_by: Mapped[str] = mapped_column(String(128), default="")
    lift_reason: Mapped[str] = mapped_column(Text, default="")


class Appeal(Base):
    """The account's one appeal against one sanction, decided by a different staff member."""

    __tablename__ = "sanction_appeals"
    __table_args__ = (UniqueConstraint("sanction_id", name="uq_sanction_appeals_sanction_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sanction_id: Mapped[int] = mapped_column(ForeignKey("sanctions.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    statement: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[dt.datetime]
    submitted_by: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | upheld | lifted
    decided_by: Mapped[str] = mapped_column(String(128), default="")
    decided_at: Mapped[dt.datetime | None]
    decision_reason: Mapped[str] = mapped_column(Text, default="")


class CreditScore(Base):
    """A publisher's credit score now (Art. 15); the history is in ``credit_events``."""

    __tablename__ = "credit_scores"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    score: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(8), index=True)
    updated_at: Mapped[dt.datetime]
    #: Recovery counts whole periods from the later of these two.
    last_violation_at: Mapped[dt.datetime | None]
    last_recovery_at: Mapped[dt.datetime | None]


class CreditEvent(Base):
    __tablename__ = "credit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(String(16))  # deduction | recovery | restore | adjust
    delta: Mapped[int] = mapped_column(Integer)
    score_after: Mapped[int] = mapped_column(Integer)
    level_before: Mapped[str] = mapped_column(String(8))
    level_after: Mapped[str] = mapped_column(String(8))
    sanction_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(128))


class BlacklistEntry(Base):
    """One blacklisted identity, by blind index (Art. 15).

    ``status``: ``proposed`` (one staff member asked), ``active`` (a second one confirmed),
    ``rejected`` (the second one refused), ``removed`` (taken off, e.g. on appeal).
    """

    __tablename__ = "blacklist_entries"
    __table_args__ = (UniqueConstraint("kind", "value_index", name="uq_blacklist_entries_kind_value_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # phone | document | device
    value_index: Mapped[str] = mapped_column(String(64), index=True)
    masked: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), index=True)
    account_id: Mapped[int | None] = mapped_column(Integer)
    sanction_id: Mapped[int | None] = mapped_column(Integer)
    import_batch: Mapped[str] = mapped_column(String(40), default="", index=True)
    proposed_by: Mapped[str] = mapped_column(String(128))
    proposed_at: Mapped[dt.datetime]
    confirmed_by: Mapped[str] = mapped_column(String(128), default="")
    confirmed_at: Mapped[dt.datetime | None]
    removed_by: Mapped[str] = mapped_column(String(128), default="")
    removed_at: Mapped[dt.datetime | None]
    removal_reason: Mapped[str] = mapped_column(Text, default="")
    reported_at: Mapped[dt.datetime | None]
    report_batch: Mapped[str] = mapped_column(String(40), default="")


class EvidenceRef(Base):
    """What was preserved for a sanction: recordings, segments, frames, comments, logs.

    Kept here whether or not the retention module placed a legal hold, so the incident
    report can always list its evidence.
    """

    __tablename__ = "enforcement_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sanction_id: Mapped[int] = mapped_column(ForeignKey("sanctions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # recording | session | publish_attempts | audit | hold | ...
    ref: Mapped[str] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSON, default=dict)  # type: ignore[type-arg]
    recorded_at: Mapped[dt.datetime]


class IncidentReport(Base):
    """The draft report of one incident to the competent department (Art. 14)."""

    __tablename__ = "incident_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sanction_id: Mapped[int] = mapped_column(ForeignKey("sanctions.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # draft | exported
    created_at: Mapped[dt.datetime]
    exported_at: Mapped[dt.datetime | None]
    exported_by: Mapped[str] = mapped_column(String(128), default="")
    exports: Mapped[int] = mapped_column(Integer, default=0)
