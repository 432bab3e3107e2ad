"""Rooms: creation, stream keys, blocks, cut-off orders, and the PublishGate."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from livegate.core.audit import AuditLog
from livegate.core.clock import Clock
from livegate.core.errors import Conflict, NotFound, ValidationFailed
from livegate.core.models import Account, ControlOrder
from livegate.core.secretbox import SecretBox
from livegate.media.models import PublishAttempt, Room, StreamSession

STREAM_KEY_BYTES = 24  # 192 bits


def key_hash(stream_key: str) -> str:
    return hashlib.sha256(stream_key.encode()).hexdigest()


def key_fingerprint(stream_key: str) -> str:
    """A short, non-reversible label for logs; the key itself is never logged."""
    return key_hash(stream_key)[:8]


@dataclass(frozen=True)
class Refusal:
    rule: str
    article: str
    message: str

    def text(self) -> str:
        return f"{self.message} [rule {self.rule}, {self.article}]"


@dataclass
class GateContext:
    session: Session
    room: Room
    owner: Account
    now: dt.datetime
    peer: str
    extra: dict[str, object] = field(default_factory=dict)


class GateCheck(Protocol):
    name: str

    def check(self, ctx: GateContext) -> Refusal | None: ...


class RoomNotBlocked:
    name = "room_not_blocked"

    def check(self, ctx: GateContext) -> Refusal | None:
        room = ctx.room
        if not room.blocked:
            return None
        if room.blocked_until is not None and room.blocked_until <= ctx.now:
            return None  # the block has run out; the gate clears it below
        until = f" until {room.blocked_until.isoformat(timespec='seconds')}" if room.blocked_until else ""
        why = f": {room.block_reason}" if room.block_reason else ""
        return Refusal("room.blocked", "Art. 8, 14", f"this room is blocked{until}{why}")


class AccountActive:
    name = "account_active"

    def check(self, ctx: GateContext) -> Refusal | None:
        if ctx.owner.status != "active":
            return Refusal("account.closed", "Art. 14", "the publisher's account is closed")
        return None


class NotAlreadyLive:
    name = "not_already_live"

    def check(self, ctx: GateContext) -> Refusal | None:
        if ctx.room.status == "live":
            return Refusal("room.already_live", "Art. 8", "this room is already live from another connection")
        return None


class PublishGate:
    """Runs every check in order; the first refusal wins. Later issues append checks
    (identity, agreements, credentials, sanctions, credit, news approval)."""

    def __init__(self, checks: Sequence[GateCheck] = ()) -> None:
        self.checks: list[GateCheck] = list(checks) or [AccountActive(), RoomNotBlocked(), NotAlreadyLive()]

    def add(self, check: GateCheck) -> None:
        if any(c.name == check.name for c in self.checks):
            raise ValueError(f"gate check {check.name!r} already registered")
        self.checks.append(check)

    def evaluate(self, ctx: GateContext) -> Refusal | None:
        for check in self.checks:
            refusal = check.check(ctx)
            if refusal is not None:
                return refusal
        return None


class RoomService:
    def __init__(self, audit: AuditLog, clock: Clock, box: SecretBox) -> None:
        self.audit = audit
        self.clock = clock
        self.box = box

    def create(self, s: Session, owner: Account, *, title: str, category: str, actor: str,
               room_id: str | None = None) -> tuple[Room, str]:
        title = title.strip()
        if not title or len(title) > 120:
            raise ValidationFailed("a title of 1-120 characters is required", field="title")
        if room_id is None:
            base = 100000 + (s.scalar(select(func.count(Room.id))) or 0)
            room_id = str(base + secrets.randbelow(900))
            while s.get(Room, room_id) is not None:
                room_id = str(int(room_id) + 1 + secrets.randbelow(50))
        elif s.get(Room, room_id) is not None:
            raise Conflict("that room number is taken")
        key = secrets.token_urlsafe(STREAM_KEY_BYTES)
        now = self.clock.now()
        room = Room(
            id=room_id, owner_id=owner.id, title=title, category=category, stream_key_hash=key_hash(key),
            stream_key_sealed=self.box.seal(key, room_id), key_rotated_at=now, created_at=now,
            status="offline", blocked=False, block_reason="", last_refusal="", viewers=0,
        )
        s.add(room)
        s.flush()
        self.audit.record(s, actor=actor, action="room.create", target=f"room:{room_id}",
                          details={"owner": owner.id, "category": category})
        return room, key

    def get(self, s: Session, room_id: str) -> Room:
        room = s.get(Room, room_id)
        if room is None:
            raise NotFound("no such room")
        return room

    def rooms_of(self, s: Session, owner_id: int) -> list[Room]:
        return list(s.scalars(select(Room).where(Room.owner_id == owner_id).order_by(Room.created_at)))

    def stream_key(self, room: Room) -> str:
        return self.box.open(room.stream_key_sealed, room.id)

    def rotate_key(self, s: Session, room: Room, actor: str) -> str:
        key = secrets.token_urlsafe(STREAM_KEY_BYTES)
        room.stream_key_hash = key_hash(key)
        room.stream_key_sealed = self.box.seal(key, room.id)
        room.key_rotated_at = self.clock.now()
        self.audit.record(s, actor=actor, action="room.key_rotate", target=f"room:{room.id}")
        return key

    def by_key(self, s: Session, stream_key: str) -> Room | None:
        return s.scalar(select(Room).where(Room.stream_key_hash == key_hash(stream_key)))

    def record_attempt(self, s: Session, room: Room | None, peer: str, refusal: Refusal | None,
                       key_fp: str) -> None:
        now = self.clock.now()
        s.add(PublishAttempt(room_id=room.id if room else None, at=now, peer=peer[:64], accepted=refusal is None,
                             reason=refusal.text() if refusal else "", rule=refusal.rule if refusal else ""))
        if room is not None and refusal is not None:
            room.last_refusal = refusal.text()
            room.last_refusal_at = now
        self.audit.record(
            s, actor=f"rtmp:{peer}", action="publish.accepted" if refusal is None else "publish.refused",
            target=f"room:{room.id}" if room else f"key:{key_fp}",
            reason=refusal.text() if refusal else "",
            details={"rule": refusal.rule if refusal else "", "key": key_fp},
        )

    def start_session(self, s: Session, room: Room, node: str, mark_mode: str, delay: int) -> StreamSession:
        ss = StreamSession(room_id=room.id, node=node, started_at=self.clock.now(), mark_mode=mark_mode,
                           delay_seconds=delay, end_reason="", cut_off=False, recording_path="")
        s.add(ss)
        s.flush()
        room.status = "live"
        room.live_session_id = ss.id
        return ss

    def end_session(self, s: Session, session_id: int, reason: str) -> None:
        ss = s.get(StreamSession, session_id)
        if ss is None or ss.ended_at is not None:
            return
        ss.ended_at = self.clock.now()
        ss.end_reason = reason[:500]
        room = s.get(Room, ss.room_id)
        if room is not None and room.live_session_id == session_id:
            room.status = "offline"
            room.viewers = 0
        self.audit.record(s, actor="system:ingest", action="stream.end", target=f"room:{ss.room_id}",
                          reason=reason, details={"session": session_id})

    def cutoff(self, s: Session, room: Room, *, actor: str, reason: str,
               block_minutes: int | None = None) -> ControlOrder:
        """Order every node to cut the room off now, and block it until staff lift it."""
        if not reason.strip():
            raise ValidationFailed("a cut-off needs a reason", field="reason")
        now = self.clock.now()
        room.blocked = True
        room.block_reason = reason.strip()[:500]
        room.blocked_until = now + dt.timedelta(minutes=block_minutes) if block_minutes else None
        order = ControlOrder(kind="cutoff", target=room.id, created_at=now, created_by=actor,
                             payload={"reason": room.block_reason, "session": room.live_session_id})
        s.add(order)
        if room.live_session_id is not None:
            ss = s.get(StreamSession, room.live_session_id)
            if ss is not None and ss.ended_at is None:
                ss.cut_off = True
        s.flush()
        self.audit.record(s, actor=actor, action="stream.cutoff", target=f"room:{room.id}", reason=room.block_reason,
                          details={"order": order.id, "session": room.live_session_id,
                                   "blocked_until": room.blocked_until.isoformat() if room.blocked_until else None})
        return order

    def unblock(self, s: Session, room: Room, *, actor: str, reason: str) -> None:
        room.blocked = False
        room.blocked_until = None
        self.audit.record(s, actor=actor, action="room.unblock", target=f"room:{room.id}", reason=reason)
