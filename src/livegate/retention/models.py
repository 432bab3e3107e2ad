"""Retention tables: legal holds, account logs, the index of stored objects, inspection
exports and the daily audit-chain heads."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from livegate.core.db import Base


class LegalHold(Base):
    """Content of an account, room or case that must not be purged while the hold is active."""

    __tablename__ = "legal_holds"
    __table_args__ = (Index("ix_legal_holds_scope", "scope_type", "scope_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope_type: Mapped[str] = mapped_column(String(16))  # account | room | case
    scope_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(128))
    placed_at: Mapped[dt.datetime]
    lifted_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    lifted_by: Mapped[str] = mapped_column(String(128), default="")
    lift_reason: Mapped[str] = mapped_column(Text, default="")


class AccountLogEntry(Base):
    """Network log of an account (Cybersecurity Law, Art. 16 of the Measures): sign-ins, IPs,
    devices, verification events. No identity data: only the account id, IP and user agent."""

    __tablename__ = "account_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    event: Mapped[str] = mapped_column(String(32))  # sign_in | sign_in_failed | verification | ...
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    detail: Mapped[str] = mapped_column(String(255), default="")


class StoredObject(Base):
    """One object in ``p.storage`` (a recording, its index, a chain head...): what, whose, how big."""

    __tablename__ = "storage_objects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(512), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)  # recording | recording_index | audit_head
    backend: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    sha256: Mapped[str] = mapped_column(String(64), default="")
    room_id: Mapped[str | None] = mapped_column(String(16), index=True)
    account_id: Mapped[int | None] = mapped_column(Integer, index=True)
    session_id: Mapped[int | None] = mapped_column(Integer, index=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(index=True)  # when the content ended: the age clock
    stored_at: Mapped[dt.datetime]


class InspectionExport(Base):
    """An inspection bundle produced for an authority (Art. 16, second paragraph)."""

    __tablename__ = "inspection_exports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope_type: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[str] = mapped_column(String(64))
    period_from: Mapped[dt.datetime]
    period_to: Mapped[dt.datetime]
    requester: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime]
    directory: Mapped[str] = mapped_column(Text)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    files: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)


class AuditHead(Base):
    """The audit chain's head as written out (signed) on one day."""

    __tablename__ = "audit_heads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10), index=True)  # YYYY-MM-DD (UTC)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    entry_hash: Mapped[str] = mapped_column(String(64))
    verified: Mapped[bool]
    key: Mapped[str] = mapped_column(String(512))
    written_at: Mapped[dt.datetime]
