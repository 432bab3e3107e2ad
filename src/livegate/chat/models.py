"""Chat tables: every comment with its decision (Article 16), room modes, mutes, lexicon
versions and platform-wide chat switches."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from livegate.core.db import Base

#: Statuses of a stored comment. ``refused`` never reached moderation (gate), ``blocked`` was
#: stopped by moderation, ``self_only`` is shown to its sender alone, ``held`` waits for review.
STATUSES = ("published", "held", "blocked", "self_only", "refused", "removed", "rejected")


class ChatMessage(Base):
    """One comment or danmaku as received, with what was decided about it and who sent it."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        Index("ix_chat_messages_room_id_id", "room_id", "id"),
        Index("ix_chat_messages_room_status", "room_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    nickname: Mapped[str] = mapped_column(String(64), default="")
    body: Mapped[str] = mapped_column(Text)  # as sent
    shown: Mapped[str] = mapped_column(Text, default="")  # as shown (masked when the lexicon masks)
    position: Mapped[str] = mapped_column(String(8), default="scroll")
    color: Mapped[str] = mapped_column(String(7), default="#ffffff")
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")  # why refused/blocked/held, for the sender
    decision: Mapped[dict] = mapped_column(JSON, default=dict)  # type: ignore[type-arg]
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    ip: Mapped[str] = mapped_column(String(64), default="")
    client: Mapped[str] = mapped_column(String(255), default="")
    client_ref: Mapped[str] = mapped_column(String(64), default="")
    node: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime]
    reviewed_at: Mapped[dt.datetime | None]
    reviewed_by: Mapped[str] = mapped_column(String(128), default="")
    removed_at: Mapped[dt.datetime | None]
    removed_by: Mapped[str] = mapped_column(String(128), default="")
    removal_reason: Mapped[str] = mapped_column(Text, default="")


class ChatRoomMode(Base):
    """A room's own switches on top of what the policy implies for its category."""

    __tablename__ = "chat_room_modes"

    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id"), primary_key=True)
    slow_seconds: Mapped[int] = mapped_column(Integer, default=0)
    premoderation: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime]
    updated_by: Mapped[str] = mapped_column(String(128), default="")


class ChatMute(Base):
    """An account silenced in one room until ``until`` (or until lifted)."""

    __tablename__ = "chat_mutes"
    __table_args__ = (Index("ix_chat_mutes_room_account", "room_id", "account_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    until: Mapped[dt.datetime]
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    lifted_at: Mapped[dt.datetime | None]
    lifted_by: Mapped[str] = mapped_column(String(128), default="")


class LexiconVersion(Base):
    """Every lexicon ever put in service; the newest row is the one every node uses."""

    __tablename__ = "chat_lexicon_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(255), default="")
    entries: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(128))


class ChatSwitch(Base):
    """Platform-wide chat settings (emergency pre-moderation, what a blocked comment becomes...)."""

    __tablename__ = "chat_switches"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime]
    updated_by: Mapped[str] = mapped_column(String(128), default="")
