"""News reviewed before publication (Articles 7, 10), image-text livestreams (Article 2) and
changes to public profile content.

- A news room goes live only with a plan (title, summary, sources) the chief editor approved;
  a reprint names its source, which the viewer page and the room's metadata show.
- Image-text posts carry the platform's mark (burned in with Pillow) and the platform
  source; they go through the signals; in news rooms every post waits for approval.
- Titles and nicknames go through the text signal before they are shown.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from livegate.core.errors import NotFound, PermissionDenied, ValidationFailed
from livegate.core.models import Account
from livegate.media.models import Room
from livegate.media.rooms import GateContext, Refusal
from livegate.media.watermark import render_mark
from livegate.review.models import ImageTextPost, NewsPlan, ProfileChange

if TYPE_CHECKING:
    from livegate.app import Platform

MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_IMAGE_SIDE = 2048


def needs_editorial(platform: Platform, category: str) -> bool:
    try:
        return bool(platform.policy.get().category(category).requires_editorial_approval)
    except Exception:  # noqa: BLE001
        return False


def mark_image(data: bytes, mark_text: str, room: str) -> tuple[bytes, int, int]:
    """Decode, bound, and burn the platform's mark top-right; returns JPEG bytes and size."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ValidationFailed("the image is larger than 8 MiB", field="image")
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            pic = im.convert("RGB")
    except Exception as exc:  # noqa: BLE001 - any decoder error is the user's file
        raise ValidationFailed("the image could not be read", field="image") from exc
    pic.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
    mark = render_mark(mark_text, room, video_height=max(240, pic.height))
    margin = max(4, pic.height // 50)
    pic.paste(mark, (max(0, pic.width - mark.width - margin), margin), mark)
    out = io.BytesIO()
    pic.save(out, format="JPEG", quality=88)
    return out.getvalue(), pic.width, pic.height


class EditorialService:
    def __init__(self, platform: Platform) -> None:
        self.p = platform

    # -- news plans ---------------------------------------------------------------------
    def submit_plan(self, s: Session, room: Room, *, title: str, summary: str, sources: list[str],
                    reprint_source: str, actor: str) -> NewsPlan:
        if not title.strip() or not summary.strip():
            raise ValidationFailed("a news plan needs a title and a summary", field="title")
        if not [x for x in sources if x.strip()]:
            raise ValidationFailed("a news plan names its sources (Article 10)", field="sources")
        for old in s.scalars(select(NewsPlan).where(NewsPlan.room_id == room.id, NewsPlan.status == "pending")):
            old.status = "withdrawn"
        plan = NewsPlan(room_id=room.id, title=title.strip()[:200], summary=summary.strip()[:5000],
                        sources=[x.strip()[:300] for x in sources if x.strip()][:20],
                        reprint_source=reprint_source.strip()[:300], status="pending", submitted_by=actor,
                        submitted_at=self.p.clock.now())
        s.add(plan)
        s.flush()
        self.p.audit.record(s, actor=actor, action="news.plan_submit", target=f"room:{room.id}",
                            details={"plan": plan.id, "title": plan.title})
        return plan

    def decide_plan(self, s: Session, plan_id: int, *, approve: bool, reason: str, actor: str) -> NewsPlan:
        plan = s.get(NewsPlan, plan_id)
        if plan is None:
            raise NotFound("no such news plan")
        if plan.status != "pending":
            raise ValidationFailed(f"this plan is {plan.status}", field="plan")
        if not reason.strip():
            raise ValidationFailed("a decision needs a reason", field="reason")
        if approve:
            for old in s.scalars(select(NewsPlan).where(NewsPlan.room_id == plan.room_id,
                                                        NewsPlan.status == "approved")):
                old.status = "withdrawn"
        plan.status = "approved" if approve else "rejected"
        plan.decided_by, plan.decided_at, plan.decision_reason = actor, self.p.clock.now(), reason.strip()[:2000]
        self.p.audit.record(s, actor=actor, action=f"news.plan_{plan.status}", target=f"room:{plan.room_id}",
                            reason=plan.decision_reason, details={"plan": plan.id})
        return plan

    def approved_plan(self, s: Session, room_id: str) -> NewsPlan | None:
        return s.scalar(select(NewsPlan).where(NewsPlan.room_id == room_id, NewsPlan.status == "approved")
                        .order_by(NewsPlan.id.desc()).limit(1))

    def plans(self, s: Session, status: str | None = None) -> list[NewsPlan]:
        q = select(NewsPlan)
        if status:
            q = q.where(NewsPlan.status == status)
        return list(s.scalars(q.order_by(NewsPlan.id.desc()).limit(200)))

    @staticmethod
    def plan_view(plan: NewsPlan) -> dict[str, Any]:
        return {"id": plan.id, "room_id": plan.room_id, "title": plan.title, "summary": plan.summary,
                "sources": plan.sources, "reprint_source": plan.reprint_source, "status": plan.status,
                "submitted_by": plan.submitted_by, "decided_by": plan.decided_by,
                "decision_reason": plan.decision_reason}

    # -- image-text posts ---------------------------------------------------------------
    def post_view(self, post: ImageTextPost) -> dict[str, Any]:
        return {"id": post.id, "room_id": post.room_id, "text": post.text, "source": post.source_label,
                "image": f"/api/v1/rooms/{post.room_id}/posts/{post.id}/image" if post.image_jpeg else None,
                "status": post.status, "at": post.created_at.isoformat()}

    def posts(self, s: Session, room_id: str, *, include_pending: bool = False) -> list[ImageTextPost]:
        q = select(ImageTextPost).where(ImageTextPost.room_id == room_id)
        if not include_pending:
            q = q.where(ImageTextPost.status == "published")
        return list(s.scalars(q.order_by(ImageTextPost.id.desc()).limit(200)))

    # -- profile changes ----------------------------------------------------------------
    def apply_profile_change(self, s: Session, change: ProfileChange, *, actor: str) -> None:
        if change.field == "room_title":
            room = s.get(Room, change.target_id)
            if room is None:
                raise NotFound("no such room")
            room.title = change.new_text[:120]
        elif change.field == "nickname":
            acc = s.get(Account, int(change.target_id))
            if acc is None:
                raise NotFound("no such account")
            acc.nickname = change.new_text[:64]
        elif change.field not in ("room_cover", "avatar"):  # images are served from the change row itself
            raise ValidationFailed("unknown profile field", field="field")
        change.status = "applied"
        change.decided_by, change.decided_at = actor, self.p.clock.now()
        self.p.audit.record(s, actor=actor, action="profile.change_applied",
                            target=f"{change.field}:{change.target_id}", details={"change": change.id})

    def owned_room(self, s: Session, room_id: str, account_id: int) -> Room:
        room = s.get(Room, room_id)
        if room is None:
            raise NotFound("no such room")
        if room.owner_id != account_id:
            raise PermissionDenied("this is not your room")
        return room


class NewsPlanApproved:
    """Gate check: a room in a category that needs editorial approval goes live only with an
    approved news plan (Article 7: the chief editor reviews before publication)."""

    name = "news_plan_approved"

    def __init__(self, platform: Platform) -> None:
        self.p = platform

    def check(self, ctx: GateContext) -> Refusal | None:
        if not needs_editorial(self.p, ctx.room.category):
            return None
        plan = ctx.session.scalar(select(NewsPlan.id).where(NewsPlan.room_id == ctx.room.id,
                                                            NewsPlan.status == "approved").limit(1))
        if plan is None:
            return Refusal("news.plan_required", "Art. 7, 10",
                           "a news livestream needs a plan approved by the chief editor; submit one in the studio")
        return None
