"""Rooms, their live sessions, every publish attempt, and the nodes that serve them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from livegate.core.db import Base


class Room(Base):
    __tablename__ = "rooms"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # public room number
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    title: Mapped[str] = mapped_column(String(120), default="")
    category: Mapped[str] = mapped_column(String(32), default="other")
    kind: Mapped[str] = mapped_column(String(16), default="video")  # video | image_text
    stream_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    stream_key_sealed: Mapped[str] = mapped_column(Text)  # encrypted under the platform secret
    key_rotated_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16), default="offline")  # offline | live
    live_session_id: Mapped[int | None] = mapped_column(Integer)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked_until: Mapped[dt.datetime | None]
    block_reason: Mapped[str] = mapped_column(Text, default="")
    last_refusal: Mapped[str] = mapped_column(Text, default="")
    last_refusal_at: Mapped[dt.datetime | None]
    delay_override_seconds: Mapped[int | None] = mapped_column(Integer)
    viewers: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime]


class StreamSession(Base):
    """One accepted publish, from start to end (or cut-off)."""

    __tablename__ = "stream_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id"), index=True)
    node: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    end_reason: Mapped[str] = mapped_column(Text, default="")
    cut_off: Mapped[bool] = mapped_column(Boolean, default=False)
    mark_mode: Mapped[str] = mapped_column(String(16), default="overlay")
    delay_seconds: Mapped[int] = mapped_column(Integer, default=0)
    recording_path: Mapped[str] = mapped_column(Text, default="")
    replay_available: Mapped[bool] = mapped_column(Boolean, default=False)
    replay_withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)


class PublishAttempt(Base):
    __tablename__ = "publish_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str | None] = mapped_column(String(16), index=True)
    at: Mapped[dt.datetime]
    peer: Mapped[str] = mapped_column(String(64))
    accepted: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text, default="")
    rule: Mapped[str] = mapped_column(String(64), default="")


class Node(Base):
    """A running node and when it last said so; streams of a node silent for long are lost."""

    __tablename__ = "nodes"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[dt.datetime]
    seen_at: Mapped[dt.datetime]


class RoomPresence(Base):
    """How many viewers of a room one node holds; the room's audience is the sum of fresh rows."""

    __tablename__ = "room_presence"

    room_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    viewers: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime]
