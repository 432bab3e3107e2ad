"""Identity tables. Real names, document and phone numbers and document photos are stored
only sealed by the vault (``*_sealed``), found by blind index (``*_index``) and shown masked
(``*_masked``); no column holds one of them in plain text."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from livegate.core.db import Base


class OtpChallengeRow(Base):
    """One issued SMS code (hashes and times only); one current row per subject."""

    __tablename__ = "otp_challenges"

    challenge_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), unique=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[dt.datetime | None]


class PhoneVerification(Base):
    """An account's verified mobile number (Art. 12: audiences verified by phone)."""

    __tablename__ = "phone_verifications"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    phone_sealed: Mapped[str] = mapped_column(Text, default="")
    phone_index: Mapped[str] = mapped_column(String(64), index=True, unique=True)  # one account per number
    phone_masked: Mapped[str] = mapped_column(String(32))
    verified_at: Mapped[dt.datetime]


class IdentityRecord(Base):
    """A publisher's identity submission and its review (Art. 12).

    ``status``: ``pending`` (checks passed, awaiting staff), ``manual_review`` (a check failed
    or could not be made; staff decide with the reason in ``check_reason``), ``approved``,
    ``rejected``.
    """

    __tablename__ = "identity_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # individual | organisation
    doc_type: Mapped[str] = mapped_column(String(40))
    doc_index: Mapped[str] = mapped_column(String(64), index=True)
    doc_sealed: Mapped[str] = mapped_column(Text, default="")
    doc_masked: Mapped[str] = mapped_column(String(64))
    name_index: Mapped[str] = mapped_column(String(64))
    name_sealed: Mapped[str] = mapped_column(Text, default="")
    name_masked: Mapped[str] = mapped_column(String(128))
    province: Mapped[str] = mapped_column(String(2), default="", index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    check_rule: Mapped[str] = mapped_column(String(64), default="")
    check_reason: Mapped[str] = mapped_column(Text, default="")
    external_check: Mapped[str] = mapped_column(String(32), default="not_checked")
    guardian_consent_required: Mapped[bool] = mapped_column(Boolean, default=False)
    guardian_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_at: Mapped[dt.datetime]
    decided_at: Mapped[dt.datetime | None]
    decided_by: Mapped[str] = mapped_column(String(128), default="")
    decision_reason: Mapped[str] = mapped_column(Text, default="")


class DocumentPhoto(Base):
    """A photo of an identity document: re-encoded without metadata, then sealed by the vault."""

    __tablename__ = "identity_document_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identity_records.id", ondelete="CASCADE"), index=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    uploaded_at: Mapped[dt.datetime]


class LawfulRequest(Base):
    """A request from an authority for identity data (Art. 12), approved by a second officer."""

    __tablename__ = "lawful_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    authority: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(Text)
    reference: Mapped[str] = mapped_column(String(120))
    scope: Mapped[list] = mapped_column(JSON, default=list)  # type: ignore[type-arg]  # account ids
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | approved | rejected
    requested_by: Mapped[str] = mapped_column(String(128))
    requested_at: Mapped[dt.datetime]
    decided_by: Mapped[str] = mapped_column(String(128), default="")
    decided_at: Mapped[dt.datetime | None]
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    exports: Mapped[int] = mapped_column(Integer, default=0)
    last_export_at: Mapped[dt.datetime | None]
