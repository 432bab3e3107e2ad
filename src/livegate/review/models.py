"""Tables of the review domain: cases and their evidence, the hash bank, duty shifts and
patrol looks, live thumbnails, emergency switches and incidents, news plans, image-text
posts, profile changes awaiting review, and warnings shown to publishers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from livegate.core.db import Base


class ReviewCase(Base):
    """One thing under review (a room, an account, a message or a post). Signals about the
    same open target merge into one case.

    ``status``: ``open`` (queued), ``claimed``, ``escalated``, ``decided``, ``ignored``
    (below the queue threshold), ``auto_actioned`` (the machine acted; a person may review).
    """

    __tablename__ = "review_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_type: Mapped[str] = mapped_column(String(16), index=True)
    target_id: Mapped[str] = mapped_column(String(64), index=True)
    room_id: Mapped[str | None] = mapped_column(ForeignKey("rooms.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    priority: Mapped[float] = mapped_column(Float, default=0.0, index=True)
    audience: Mapped[int] = mapped_column(Integer, default=0)
    credit_level: Mapped[str] = mapped_column(String(16), default="")
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    signal_count: Mapped[int] = mapped_column(Integer, default=0)
    auto_action: Mapped[str] = mapped_column(String(32), default="")
    claimed_by: Mapped[str] = mapped_column(String(128), default="")
    claimed_at: Mapped[dt.datetime | None]
    escalated_to: Mapped[str] = mapped_column(String(32), default="")
    decision: Mapped[str] = mapped_column(String(32), default="")
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(128), default="")
    decided_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(index=True)
    updated_at: Mapped[dt.datetime]


class ReviewEvidence(Base):
    __tablename__ = "review_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("review_cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    jpeg: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime]


class BankedHash(Base):
    __tablename__ = "review_hashes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash_hex: Mapped[str] = mapped_column(String(64), index=True)
    quality: Mapped[int] = mapped_column(Integer, default=100)
    label: Mapped[str] = mapped_column(String(200), default="")
    evidence_id: Mapped[int | None] = mapped_column(Integer)
    added_by: Mapped[str] = mapped_column(String(128))
    added_at: Mapped[dt.datetime]
    removed: Mapped[bool] = mapped_column(Boolean, default=False)


class DutyShift(Base):
    __tablename__ = "review_shifts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    duty: Mapped[str] = mapped_column(String(32))  # reviewer | patrol | chief_editor
    starts_at: Mapped[dt.datetime] = mapped_column(index=True)
    ends_at: Mapped[dt.datetime] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(128))


class PatrolLook(Base):
    """Evidence that a person on duty looked: every wall view, watch and cut from the wall."""

    __tablename__ = "review_patrol_looks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    room_id: Mapped[str | None] = mapped_column(String(16), index=True)
    action: Mapped[str] = mapped_column(String(16))  # wall | watch | cutoff
    at: Mapped[dt.datetime] = mapped_column(index=True)


class LiveThumbnail(Base):
    __tablename__ = "review_thumbnails"

    room_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    session: Mapped[str] = mapped_column(String(32), default="")
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)
    captured_at: Mapped[dt.datetime]


class EmergencySwitch(Base):
    """``key``: ``pause_streams`` (param ``category``: all or one), ``premoderate_comments``,
    ``raise_sampling`` (param ``seconds``). One row per key and scope."""

    __tablename__ = "review_switches"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    incident_id: Mapped[int | None] = mapped_column(Integer)
    changed_by: Mapped[str] = mapped_column(String(128), default="")
    changed_at: Mapped[dt.datetime]


class Incident(Base):
    __tablename__ = "review_incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")
    opened_by: Mapped[str] = mapped_column(String(128))
    opened_at: Mapped[dt.datetime]
    closed_at: Mapped[dt.datetime | None]


class IncidentEvent(Base):
    __tablename__ = "review_incident_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("review_incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class NewsPlan(Base):
    """A news livestream's plan; the gate admits a news room only with an approved plan."""

    __tablename__ = "review_news_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    reprint_source: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | approved | rejected | withdrawn
    submitted_by: Mapped[str] = mapped_column(String(128))
    submitted_at: Mapped[dt.datetime]
    decided_by: Mapped[str] = mapped_column(String(128), default="")
    decided_at: Mapped[dt.datetime | None]
    decision_reason: Mapped[str] = mapped_column(Text, default="")


class ImageTextPost(Base):
    __tablename__ = "review_posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    text: Mapped[str] = mapped_column(Text, default="")
    image_jpeg: Mapped[bytes | None] = mapped_column(LargeBinary)
    source_label: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16), index=True)  # published | pending | rejected
    case_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime]
    decided_by: Mapped[str] = mapped_column(String(128), default="")
    decided_at: Mapped[dt.datetime | None]


class ProfileChange(Base):
    """A change to public profile content (room title or cover, nickname or avatar), shown
    only once reviewed."""

    __tablename__ = "review_profile_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    field: Mapped[str] = mapped_column(String(16))  # room_title | nickname | room_cover | avatar
    target_id: Mapped[str] = mapped_column(String(64))
    new_text: Mapped[str] = mapped_column(Text, default="")
    new_image: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), index=True)  # applied | pending | rejected
    case_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime]
    decided_by: Mapped[str] = mapped_column(String(128), default="")
    decided_at: Mapped[dt.datetime | None]


class PublisherWarning(Base):
    __tablename__ = "review_warnings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    room_id: Mapped[str | None] = mapped_column(String(16))
    case_id: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime]
    acknowledged_at: Mapped[dt.datetime | None]
