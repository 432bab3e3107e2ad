"""Duty roster and the patrol wall: who is on duty now, thumbnails of every live room sorted
by risk and audience, and a log of every look so that patrols leave evidence."""

from __future__ import annotations

import datetime as dt
import io
from typing import TYPE_CHECKING, Any

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from livegate.core.errors import ValidationFailed
from livegate.core.models import Account
from livegate.media.models import Room
from livegate.review.models import DutyShift, LiveThumbnail, PatrolLook, ReviewCase

if TYPE_CHECKING:
    from livegate.app import Platform

DUTIES = ("reviewer", "patrol", "chief_editor")
THUMB_WIDTH = 240


def thumbnail(jpeg: bytes, width: int = THUMB_WIDTH) -> bytes:
    with Image.open(io.BytesIO(jpeg)) as src:
        pic = src.convert("RGB")
    if pic.width > width:
        pic = pic.resize((width, max(1, pic.height * width // pic.width)))
    out = io.BytesIO()
    pic.save(out, format="JPEG", quality=70)
    return out.getvalue()


class PatrolService:
    def __init__(self, platform: Platform) -> None:
        self.p = platform

    # -- roster -------------------------------------------------------------------------
    def add_shift(self, s: Session, *, account_id: int, duty: str, starts_at: dt.datetime, ends_at: dt.datetime,
                  actor: str) -> DutyShift:
        if duty not in DUTIES:
            raise ValidationFailed(f"duty must be one of {', '.join(DUTIES)}", field="duty")
        if ends_at <= starts_at:
            raise ValidationFailed("a shift ends after it starts", field="ends_at")
        if s.get(Account, account_id) is None:
            raise ValidationFailed("no such account", field="account_id")
        shift = DutyShift(account_id=account_id, duty=duty, starts_at=starts_at, ends_at=ends_at, created_by=actor)
        s.add(shift)
        s.flush()
        self.p.audit.record(s, actor=actor, action="review.shift_add", target=f"account:{account_id}",
                            details={"duty": duty, "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()})
        return shift

    def on_duty(self, s: Session, duty: str | None = None) -> list[dict[str, Any]]:
        now = self.p.clock.now()
        q = select(DutyShift, Account.username).join(Account, Account.id == DutyShift.account_id).where(
            DutyShift.starts_at <= now, DutyShift.ends_at > now)
        if duty:
            q = q.where(DutyShift.duty == duty)
        return [{"account_id": sh.account_id, "username": name, "duty": sh.duty,
                 "ends_at": sh.ends_at.isoformat()} for sh, name in s.execute(q.order_by(DutyShift.starts_at))]

    def roster(self, s: Session) -> list[dict[str, Any]]:
        now = self.p.clock.now()
        rows = s.execute(select(DutyShift, Account.username).join(Account, Account.id == DutyShift.account_id)
                         .where(DutyShift.ends_at > now - dt.timedelta(days=1)).order_by(DutyShift.starts_at))
        return [{"id": sh.id, "account_id": sh.account_id, "username": name, "duty": sh.duty,
                 "starts_at": sh.starts_at.isoformat(), "ends_at": sh.ends_at.isoformat(),
                 "now": sh.starts_at <= now < sh.ends_at} for sh, name in rows]

    # -- looks --------------------------------------------------------------------------
    def log_look(self, s: Session, *, actor: str, action: str, room_id: str | None = None) -> None:
        s.add(PatrolLook(actor=actor, room_id=room_id, action=action, at=self.p.clock.now()))
        self.p.audit.record(s, actor=actor, action=f"patrol.{action}", target=f"room:{room_id}" if room_id else "wall")

    def looks(self, s: Session, *, limit: int = 200, room_id: str | None = None) -> list[dict[str, Any]]:
        q = select(PatrolLook)
        if room_id:
            q = q.where(PatrolLook.room_id == room_id)
        return [{"actor": lk.actor, "room_id": lk.room_id, "action": lk.action, "at": lk.at.isoformat()}
                for lk in s.scalars(q.order_by(PatrolLook.id.desc()).limit(limit))]

    # -- thumbnails and the wall ----------------------------------------------------------
    def store_thumbnail(self, s: Session, room_id: str, session: str, jpeg: bytes) -> None:
        row = s.get(LiveThumbnail, room_id)
        small = thumbnail(jpeg)
        now = self.p.clock.now()
        if row is None:
            s.add(LiveThumbnail(room_id=room_id, session=session, jpeg=small, captured_at=now))
        else:
            row.jpeg, row.session, row.captured_at = small, session, now

    def wall(self, s: Session) -> list[dict[str, Any]]:
        """Every live room, riskiest first (open case score), then by audience."""
        policy = self.p.policy.get()
        rooms = list(s.scalars(select(Room).where(Room.status == "live")))
        risk = dict(s.execute(select(ReviewCase.room_id, func.max(ReviewCase.score)).where(
            ReviewCase.status.in_(("open", "claimed", "escalated", "auto_actioned")),
            ReviewCase.room_id.is_not(None)).group_by(ReviewCase.room_id)).all())
        thumbs = {r: at for r, at in s.execute(select(LiveThumbnail.room_id, LiveThumbnail.captured_at))}
        since = self.p.clock.now() - dt.timedelta(minutes=10)
        watched = dict(s.execute(select(PatrolLook.room_id, func.count()).where(
            PatrolLook.at >= since, PatrolLook.action == "watch").group_by(PatrolLook.room_id)).all())
        out: list[dict[str, Any]] = []
        for room in rooms:
            try:
                level = self.p.review.cases.credit_level(s, room.owner_id)
                expl = policy.explain(room.category, room.viewers or 0, level)
                tier, why, patrol_required = expl.tier.key, list(expl.reasons), expl.patrol_required
            except Exception:  # noqa: BLE001 - a room in a category the policy dropped
                tier, why, patrol_required = "?", ["category not in the policy"], True
            out.append({"room_id": room.id, "title": room.title, "category": room.category,
                        "viewers": room.viewers or 0, "risk": float(risk.get(room.id) or 0.0),
                        "tier": tier, "why": why, "patrol_required": patrol_required,
                        "thumbnail_at": thumbs[room.id].isoformat() if room.id in thumbs else None,
                        "watchers_10min": int(watched.get(room.id, 0))})
        out.sort(key=lambda r: (-float(r["risk"]), -int(r["viewers"]), str(r["room_id"])))
        return out
