"""Complaint cases, the reports (tickets) that make them, evidence, and spent challenges."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from livegate.core.db import Base


class ComplaintCase(Base):
    """Every report on one target while the case is open; ``merge_key`` is unique while
    open (``target_type:target_id``) and cleared once decided, so the next report opens a
    new case. ``status``: ``open`` -> ``acknowledged`` -> ``decided``.
    ``escalation``: 0 none, 1 acknowledgement overdue, 2 decision overdue."""

    __tablename__ = "complaint_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    merge_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(128))
    room_id: Mapped[str | None] = mapped_column(String(16), index=True)
    account_id: Mapped[int | None] = mapped_column(Integer, index=True)  # the reported account, if known
    category: Mapped[str] = mapped_column(String(48))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0, index=True)
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[dt.datetime]
    ack_due_at: Mapped[dt.datetime]
    decide_due_at: Mapped[dt.datetime]
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[str] = mapped_column(String(128), default="")
    decided_at: Mapped[dt.datetime | None]
    decided_by: Mapped[str] = mapped_column(String(128), default="")
    outcome: Mapped[str] = mapped_column(String(32), default="")
    outcome_note: Mapped[str] = mapped_column(Text, default="")  # shown to reporters
    escalation: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[dt.datetime | None]
    surge_at: Mapped[dt.datetime | None]
    review_case_id: Mapped[int | None] = mapped_column(Integer)
    appeal_ref: Mapped[str] = mapped_column(String(64), default="")
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class ComplaintReport(Base):
    """One report: the reporter's ticket. The contact is sealed in the identity vault; the
    reporter's IP is kept only as a keyed hash (for abuse analysis)."""

    __tablename__ = "complaint_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("complaint_cases.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(48), index=True)
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(128))
    room_id: Mapped[str | None] = mapped_column(String(16), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    contact_sealed: Mapped[str] = mapped_column(Text, default="")
    reporter_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    ip_hash: Mapped[str] = mapped_column(String(64), default="")
    received_at: Mapped[dt.datetime] = mapped_column(index=True)


class ComplaintEvidence(Base):
    """What was captured at the moment of a report. ``kind``: ``frame`` (JPEG in ``blob``),
    ``message`` (the comment with its context), ``segments`` (a reference to the recording and
    the segments around the moment). ``held`` is the evidence's own legal-hold mark;
    ``hold_id`` the retention module's hold when it exists."""

    __tablename__ = "complaint_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("complaint_reports.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    blob: Mapped[bytes | None] = mapped_column(LargeBinary)
    captured_at: Mapped[dt.datetime]
    held: Mapped[bool] = mapped_column(Boolean, default=True)
    hold_id: Mapped[int | None] = mapped_column(Integer)


class ComplaintChallengeSpent(Base):
    """A proof-of-work challenge that has bought its one report (kept until it expires)."""

    __tablename__ = "complaint_challenges_spent"

    challenge_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
