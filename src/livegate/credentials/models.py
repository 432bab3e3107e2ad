"""Licences of the platform and credentials of publishers (Arts. 5, 6), and expiry alerts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from livegate.core.db import Base


class Credential(Base):
    """``holder`` is ``platform`` (``account_id`` NULL) or ``publisher``.

    ``status``: ``pending`` (a publisher's, awaiting staff), ``active``, ``rejected``, ``revoked``.
    """

    __tablename__ = "credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str] = mapped_column(String(16), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(Text, default="")
    issuer: Mapped[str] = mapped_column(String(200), default="")
    expires_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    decided_by: Mapped[str] = mapped_column(String(128), default="")
    decided_at: Mapped[dt.datetime | None]


class CredentialAlert(Base):
    """Raised once per credential and kind (``expiring``: within 30 days; ``expired``)."""

    __tablename__ = "credential_alerts"
    __table_args__ = (UniqueConstraint("credential_id", "kind", name="uq_credential_alerts_credential_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credential_id: Mapped[int] = mapped_column(ForeignKey("credentials.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    expires_on: Mapped[dt.date]
    raised_at: Mapped[dt.datetime]
    acknowledged_by: Mapped[str] = mapped_column(String(128), default="")
    acknowledged_at: Mapped[dt.datetime | None]
