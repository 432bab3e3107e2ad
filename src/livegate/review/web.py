"""Routes of the review domain: the queue and cases, the hash bank, the duty roster and the
patrol wall, emergency switches and incidents, news plans, image-text posts, profile
changes, and warnings shown to publishers. Routes stay thin: validate, call the module."""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, File, Request, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import select

from livegate.core.errors import NotFound, ValidationFailed
from livegate.core.permissions import Permission
from livegate.identity.accounts import Principal
from livegate.media.models import Room
from livegate.review.models import ImageTextPost, LiveThumbnail, PublisherWarning, ReviewEvidence
from livegate.web.deps import PUBLIC, platform_of, requires
from livegate.web.pages import render

router = APIRouter()
API = "/api/v1"


def _b64(data: str | None, field: str) -> bytes | None:
    if not data:
        return None
    try:
        return base64.b64decode(data.split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationFailed("not valid base64", field=field) from exc


# ---------------------------------------------------------------- queue and cases

@router.get(f"{API}/review/queue")
def queue(request: Request, escalated_to: str | None = None,
          principal: Principal = requires(Permission.REVIEW_WORK)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"cases": [p.review.cases.view(s, c) for c in p.review.cases.queue(s, escalated_to=escalated_to)]}


@router.get(f"{API}/review/cases/{{case_id}}")
def case_detail(request: Request, case_id: int,
            principal: Principal = requires(Permission.REVIEW_WORK)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return p.review.cases.view(s, p.review.cases.get(s, case_id), with_evidence=True)


@router.post(f"{API}/review/cases/{{case_id}}/claim")
def claim(request: Request, case_id: int,
            principal: Principal = requires(Permission.REVIEW_WORK)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return p.review.cases.view(s, p.review.cases.claim(s, case_id, actor=principal.actor))


class DecisionBody(BaseModel):
    decision: Literal["dismiss", "warn", "cutoff", "escalate", "enforce"]
    reason: str = Field(min_length=1, max_length=2000)
    escalate_to: Literal["chief_editor", "compliance"] | None = None
    sanction_kind: Literal["warning", "suspension", "closure"] = "warning"
    days: int | None = Field(default=None, ge=1, le=3650)


@router.post(f"{API}/review/cases/{{case_id}}/decision")
async def decide(request: Request, case_id: int, body: DecisionBody,
                 principal: Principal = requires(Permission.REVIEW_WORK)) -> dict[str, Any]:
    p = platform_of(request)
    return await p.review.decide(case_id, decision=body.decision, reason=body.reason, actor=principal.actor,
                                 escalate_to=body.escalate_to, sanction_kind=body.sanction_kind, days=body.days)


@router.get(f"{API}/review/evidence/{{evidence_id}}/image")
def evidence_image(request: Request, evidence_id: int,
            principal: Principal = requires(Permission.REVIEW_WORK)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        ev = s.get(ReviewEvidence, evidence_id)
        if ev is None or ev.jpeg is None:
            raise NotFound("no picture for this evidence")
        return Response(ev.jpeg, media_type="image/jpeg", headers={"cache-control": "private, no-store"})


class BankBody(BaseModel):
    label: str = Field(default="", max_length=200)


@router.post(f"{API}/review/evidence/{{evidence_id}}/bank", status_code=201)
async def bank_evidence(request: Request, evidence_id: int, body: BankBody,
                        principal: Principal = requires(Permission.REVIEW_WORK)) -> dict[str, Any]:
    """One click: the frame or image of this evidence joins the hash bank on every node."""
    p = platform_of(request)

    def write() -> tuple[int, str]:
        with p.db.session() as s:
            ev = s.get(ReviewEvidence, evidence_id)
            if ev is None or ev.jpeg is None:
                raise NotFound("no picture for this evidence")
            row = p.review.add_hash(s, actor=principal.actor, label=body.label or f"case {ev.case_id}",
                                    image=ev.jpeg, evidence_id=ev.id)
            return row.id, row.hash_hex

    row_id, hx = await asyncio.to_thread(write)
    await p.review.announce_hash(row_id)
    return {"id": row_id, "hash": hx}


class HashBody(BaseModel):
    label: str = Field(min_length=1, max_length=200)
    hash: str | None = Field(default=None, min_length=64, max_length=64)
    image_b64: str | None = Field(default=None, max_length=12_000_000)


@router.post(f"{API}/review/hashes", status_code=201)
async def add_hash(request: Request, body: HashBody,
                   principal: Principal = requires(Permission.REVIEW_WORK)) -> dict[str, Any]:
    p = platform_of(request)
    image = _b64(body.image_b64, "image_b64")

    def write() -> tuple[int, str]:
        with p.db.session() as s:
            row = p.review.add_hash(s, actor=principal.actor, label=body.label, hash_hex=body.hash, image=image)
            return row.id, row.hash_hex

    row_id, hx = await asyncio.to_thread(write)
    await p.review.announce_hash(row_id)
    return {"id": row_id, "hash": hx}


@router.get(f"{API}/review/metrics")
def metrics(request: Request, principal: Principal = requires(Permission.REVIEW_WORK)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        out = p.review.cases.metrics(s)
        live = s.scalar(select(Room.id).where(Room.status == "live").limit(1)) is not None
        live_rooms = len(list(s.scalars(select(Room.id).where(Room.status == "live")))) if live else 0
        on_duty = p.review.patrol.on_duty(s)
        out["live_rooms"] = live_rooms
        out["on_duty"] = len(on_duty)
        out["on_duty_per_live_room"] = round(len(on_duty) / live_rooms, 3) if live_rooms else None
        out["signals"] = p.review.signals.describe()
        return out


# ---------------------------------------------------------------- roster and patrol

@router.get(f"{API}/review/roster")
def roster(request: Request, principal: Principal = requires(Permission.CONSOLE_VIEW)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"shifts": p.review.patrol.roster(s), "on_duty": p.review.patrol.on_duty(s)}


class ShiftBody(BaseModel):
    account_id: int
    duty: Literal["reviewer", "patrol", "chief_editor"]
    starts_at: dt.datetime
    ends_at: dt.datetime


@router.post(f"{API}/review/roster", status_code=201)
def add_shift(request: Request, body: ShiftBody,
            principal: Principal = requires(Permission.DUTY_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        sh = p.review.patrol.add_shift(s, account_id=body.account_id, duty=body.duty, starts_at=body.starts_at,
                                       ends_at=body.ends_at, actor=principal.actor)
        return {"id": sh.id}


@router.get(f"{API}/patrol/wall")
def wall(request: Request, principal: Principal = requires(Permission.PATROL_WATCH)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        p.review.patrol.log_look(s, actor=principal.actor, action="wall")
        return {"rooms": p.review.patrol.wall(s)}


@router.get(f"{API}/patrol/rooms/{{room_id}}/thumbnail")
def room_thumbnail(request: Request, room_id: str,
            principal: Principal = requires(Permission.PATROL_WATCH)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        row = s.get(LiveThumbnail, room_id)
        if row is None:
            raise NotFound("no thumbnail yet")
        return Response(row.jpeg, media_type="image/jpeg", headers={"cache-control": "no-store"})


@router.post(f"{API}/patrol/rooms/{{room_id}}/watch")
def watch(request: Request, room_id: str,
            principal: Principal = requires(Permission.PATROL_WATCH)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        p.rooms.get(s, room_id)
        p.review.patrol.log_look(s, actor=principal.actor, action="watch", room_id=room_id)
    return {"ok": True, "watch": f"/r/{room_id}"}


class CutBody(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.post(f"{API}/patrol/rooms/{{room_id}}/cutoff")
async def patrol_cutoff(request: Request, room_id: str, body: CutBody,
                        principal: Principal = requires(Permission.STREAM_CUTOFF)) -> dict[str, Any]:
    p = platform_of(request)

    def log() -> None:
        with p.db.session() as s:
            p.rooms.get(s, room_id)
            p.review.patrol.log_look(s, actor=principal.actor, action="cutoff", room_id=room_id)

    await asyncio.to_thread(log)
    result = await p.media.cutoff(room_id, actor=principal.actor, reason=body.reason)
    return {"order": result.order, "stream_cut_here": result.stream_cut}


@router.get(f"{API}/patrol/looks")
def looks(request: Request, room_id: str | None = None,
          principal: Principal = requires(Permission.PATROL_WATCH)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"looks": p.review.patrol.looks(s, room_id=room_id)}


# ---------------------------------------------------------------- emergencies

@router.get(f"{API}/emergency")
def emergency_state(request: Request, principal: Principal = requires(Permission.EMERGENCY_OPERATE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"active": p.review.emergency.active(s), "incidents": p.review.emergency.incidents(s)}


class SwitchBody(BaseModel):
    name: Literal["pause_streams", "premoderate_comments", "raise_sampling"]
    on: bool
    reason: str = Field(min_length=1, max_length=1000)
    category: str | None = Field(default=None, max_length=32)
    seconds: float | None = Field(default=None, gt=0, le=60)
    incident_id: int | None = None


@router.post(f"{API}/emergency/switches")
async def flip(request: Request, body: SwitchBody,
               principal: Principal = requires(Permission.EMERGENCY_OPERATE)) -> dict[str, Any]:
    p = platform_of(request)
    active = await p.review.set_switch(body.name, body.on, actor=principal.actor, reason=body.reason,
                                       incident_id=body.incident_id, category=body.category, seconds=body.seconds)
    return {"active": active}


class CategoryCutBody(BaseModel):
    category: str = Field(min_length=1, max_length=32)
    reason: str = Field(min_length=1, max_length=500)
    incident_id: int | None = None


@router.post(f"{API}/emergency/category-cutoff")
async def category_cutoff(request: Request, body: CategoryCutBody,
                          principal: Principal = requires(Permission.EMERGENCY_OPERATE)) -> dict[str, Any]:
    p = platform_of(request)
    rooms = await p.review.cut_off_category(body.category, actor=principal.actor, reason=body.reason,
                                            incident_id=body.incident_id)
    return {"rooms": rooms}


class IncidentBody(BaseModel):
    title: str = Field(min_length=1, max_length=200)


@router.post(f"{API}/emergency/incidents", status_code=201)
def open_incident(request: Request, body: IncidentBody,
                  principal: Principal = requires(Permission.EMERGENCY_OPERATE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"id": p.review.emergency.open_incident(s, title=body.title, actor=principal.actor).id}


@router.post(f"{API}/emergency/incidents/{{incident_id}}/close")
def close_incident(request: Request, incident_id: int, body: CutBody,
                   principal: Principal = requires(Permission.EMERGENCY_OPERATE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        inc = p.review.emergency.close_incident(s, incident_id, actor=principal.actor, reason=body.reason)
        return {"id": inc.id, "status": inc.status}


# ---------------------------------------------------------------- news and posts

class PlanBody(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    summary: str = Field(min_length=1, max_length=5000)
    sources: list[str] = Field(min_length=1, max_length=20)
    reprint_source: str = Field(default="", max_length=300)


@router.post(f"{API}/studio/rooms/{{room_id}}/news-plan", status_code=201)
def submit_plan(request: Request, room_id: str, body: PlanBody,
                principal: Principal = requires(Permission.STUDIO_USE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        room = p.review.editorial.owned_room(s, room_id, principal.account_id)
        plan = p.review.editorial.submit_plan(s, room, title=body.title, summary=body.summary, sources=body.sources,
                                              reprint_source=body.reprint_source, actor=principal.actor)
        return p.review.editorial.plan_view(plan)


@router.get(f"{API}/editorial/plans")
def list_plans(request: Request, status: str | None = None,
               principal: Principal = requires(Permission.EDITORIAL_APPROVE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"plans": [p.review.editorial.plan_view(x) for x in p.review.editorial.plans(s, status)]}


class ApproveBody(BaseModel):
    approve: bool
    reason: str = Field(min_length=1, max_length=2000)


@router.post(f"{API}/editorial/plans/{{plan_id}}/decision")
def decide_plan(request: Request, plan_id: int, body: ApproveBody,
                principal: Principal = requires(Permission.EDITORIAL_APPROVE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        plan = p.review.editorial.decide_plan(s, plan_id, approve=body.approve, reason=body.reason,
                                              actor=principal.actor)
        return p.review.editorial.plan_view(plan)


@router.get(f"{API}/rooms/{{room_id}}/news", dependencies=[PUBLIC])
def room_news(request: Request, room_id: str) -> dict[str, Any]:
    """The room's news metadata for the viewer page: the approved plan and any reprint source."""
    p = platform_of(request)
    with p.db.session() as s:
        plan = p.review.editorial.approved_plan(s, room_id)
        if plan is None:
            return {"news": False}
        return {"news": True, "title": plan.title, "sources": plan.sources, "reprint_source": plan.reprint_source,
                "approved_by_chief_editor": True}


class KindBody(BaseModel):
    kind: Literal["video", "image_text"]


@router.post(f"{API}/studio/rooms/{{room_id}}/kind")
def set_kind(request: Request, room_id: str, body: KindBody,
             principal: Principal = requires(Permission.STUDIO_USE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        room = p.review.editorial.owned_room(s, room_id, principal.account_id)
        if room.status == "live":
            raise ValidationFailed("change the kind while the room is offline", field="kind")
        room.kind = body.kind
        p.audit.record(s, actor=principal.actor, action="room.kind", target=f"room:{room.id}",
                       details={"kind": body.kind})
        return {"room_id": room.id, "kind": room.kind}


class PostBody(BaseModel):
    text: str = Field(default="", max_length=5000)
    image_b64: str | None = Field(default=None, max_length=12_000_000)


@router.post(f"{API}/studio/rooms/{{room_id}}/posts", status_code=201)
async def create_post(request: Request, room_id: str, body: PostBody,
                      principal: Principal = requires(Permission.STUDIO_USE)) -> dict[str, Any]:
    p = platform_of(request)
    return await p.review.post(room_id, account_id=principal.account_id, text=body.text,
                               image=_b64(body.image_b64, "image_b64"), actor=principal.actor)


@router.get(f"{API}/rooms/{{room_id}}/posts", dependencies=[PUBLIC])
def room_posts(request: Request, room_id: str) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"posts": [p.review.editorial.post_view(x) for x in p.review.editorial.posts(s, room_id)]}


@router.get(f"{API}/rooms/{{room_id}}/posts/{{post_id}}/image", dependencies=[PUBLIC])
def post_image(request: Request, room_id: str, post_id: int) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        post = s.get(ImageTextPost, post_id)
        if post is None or post.room_id != room_id or post.status != "published" or post.image_jpeg is None:
            raise NotFound("no such picture")
        return Response(post.image_jpeg, media_type="image/jpeg")


@router.get(f"{API}/editorial/posts")
def pending_posts(request: Request, principal: Principal = requires(Permission.EDITORIAL_APPROVE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        rows = s.scalars(select(ImageTextPost).where(ImageTextPost.status == "pending").order_by(ImageTextPost.id))
        return {"posts": [p.review.editorial.post_view(x) for x in rows]}


@router.post(f"{API}/editorial/posts/{{post_id}}/decision")
async def decide_post(request: Request, post_id: int, body: ApproveBody,
                      principal: Principal = requires(Permission.EDITORIAL_APPROVE)) -> dict[str, Any]:
    p = platform_of(request)
    return await p.review.decide_post(post_id, approve=body.approve, actor=principal.actor, reason=body.reason)


# ---------------------------------------------------------------- profile and warnings

class ProfileBody(BaseModel):
    field: Literal["room_title", "nickname"]
    target_id: str = Field(default="", max_length=64)
    text: str = Field(min_length=1, max_length=200)


@router.post(f"{API}/me/profile-changes", status_code=201)
def profile_change(request: Request, body: ProfileBody,
                   principal: Principal = requires(Permission.ACCOUNT_SELF)) -> dict[str, Any]:
    p = platform_of(request)
    target = str(principal.account_id) if body.field == "nickname" else body.target_id
    with p.db.session() as s:
        ch = p.review.request_profile_change(s, account_id=principal.account_id, field=body.field,
                                             target_id=target, text=body.text, actor=principal.actor)
        return {"id": ch.id, "status": ch.status, "case_id": ch.case_id}


@router.get(f"{API}/me/warnings")
def my_warnings(request: Request, principal: Principal = requires(Permission.STUDIO_USE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        rows = s.scalars(select(PublisherWarning).where(PublisherWarning.account_id == principal.account_id)
                         .order_by(PublisherWarning.id.desc()).limit(100))
        return {"warnings": [{"id": w.id, "room_id": w.room_id, "message": w.message, "at": w.created_at.isoformat(),
                              "acknowledged": w.acknowledged_at is not None} for w in rows]}


# ---------------------------------------------------------------- pages

@router.get("/console/review")
def review_page(request: Request, principal: Principal = requires(Permission.REVIEW_WORK)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        cases = [p.review.cases.view(s, c) for c in p.review.cases.queue(s)]
        m = p.review.cases.metrics(s)
    return render(request, "review/queue.html", cases=cases, metrics=m)


@router.get("/console/review/cases/{case_id}")
def case_page(request: Request, case_id: int,
            principal: Principal = requires(Permission.REVIEW_WORK)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        case = p.review.cases.view(s, p.review.cases.get(s, case_id), with_evidence=True)
    return render(request, "review/case.html", case=case)


@router.get("/console/patrol")
def patrol_page(request: Request, principal: Principal = requires(Permission.PATROL_WATCH)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        p.review.patrol.log_look(s, actor=principal.actor, action="wall")
        rooms = p.review.patrol.wall(s)
        on_duty = p.review.patrol.on_duty(s)
    return render(request, "review/patrol.html", rooms=rooms, on_duty=on_duty)


@router.get("/console/emergency")
def emergency_page(request: Request, principal: Principal = requires(Permission.EMERGENCY_OPERATE)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        active = p.review.emergency.active(s)
        incidents = p.review.emergency.incidents(s)
    return render(request, "review/emergency.html", active=active, incidents=incidents,
                  categories=list(p.policy.get().categories))


@router.get("/console/editorial")
def editorial_page(request: Request, principal: Principal = requires(Permission.EDITORIAL_APPROVE)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        plans = [p.review.editorial.plan_view(x) for x in p.review.editorial.plans(s, "pending")]
        posts = [p.review.editorial.post_view(x) for x in
                 s.scalars(select(ImageTextPost).where(ImageTextPost.status == "pending"))]
    return render(request, "review/editorial.html", plans=plans, posts=posts)


@router.get("/console/tiers")
def tiers_page(request: Request, principal: Principal = requires(Permission.CONSOLE_VIEW)) -> Response:
    """Each live room's audience tier, sampling, delay and patrol requirement, and why."""
    p = platform_of(request)
    with p.db.session() as s:
        rooms = p.review.patrol.wall(s)
    return render(request, "review/tiers.html", rooms=rooms, policy_version=p.policy.label)


@router.get("/studio/review")
def studio_review(request: Request, principal: Principal = requires(Permission.STUDIO_USE)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        warnings = list(s.scalars(select(PublisherWarning).where(PublisherWarning.account_id == principal.account_id)
                                  .order_by(PublisherWarning.id.desc()).limit(50)))
        rooms = p.rooms.rooms_of(s, principal.account_id)
        return render(request, "review/studio.html", warnings=warnings, rooms=rooms)


# --- covers and avatars, reviewed before they are shown (Art. 7) -------------------------------
_MAX_PROFILE_IMAGE = 5 * 1024 * 1024 + 1


@router.post(f"{API}/me/avatar", status_code=201)
async def upload_avatar(request: Request, file: UploadFile = File(...),
                        principal: Principal = requires(Permission.ACCOUNT_SELF)) -> dict[str, Any]:
    p = platform_of(request)
    data = await file.read(_MAX_PROFILE_IMAGE)

    def write() -> dict[str, Any]:
        with p.db.session() as s:
            change = p.review.request_profile_image(
                s, account_id=principal.account_id, field="avatar", target_id=str(principal.account_id), data=data,
                content_type=file.content_type or "", actor=principal.actor)
            return {"change": change.id, "status": change.status}

    return await asyncio.to_thread(write)


@router.post(f"{API}/studio/rooms/{{room_id}}/cover", status_code=201)
async def upload_cover(request: Request, room_id: str, file: UploadFile = File(...),
                       principal: Principal = requires(Permission.STUDIO_USE)) -> dict[str, Any]:
    p = platform_of(request)
    data = await file.read(_MAX_PROFILE_IMAGE)

    def write() -> dict[str, Any]:
        with p.db.session() as s:
            change = p.review.request_profile_image(
                s, account_id=principal.account_id, field="room_cover", target_id=room_id, data=data,
                content_type=file.content_type or "", actor=principal.actor)
            return {"change": change.id, "status": change.status}

    return await asyncio.to_thread(write)


def _image_response(p: Any, field: str, target_id: str) -> Response:
    with p.db.session() as s:
        image = p.review.current_image(s, field, target_id)
    if image is None:
        raise NotFound("no reviewed image")
    return Response(image, media_type="image/jpeg", headers={"cache-control": "public, max-age=60"})


@router.get(f"{API}/accounts/{{account_id}}/avatar", dependencies=[PUBLIC])
def avatar(request: Request, account_id: int) -> Response:
    return _image_response(platform_of(request), "avatar", str(account_id))


@router.get(f"{API}/rooms/{{room_id}}/cover", dependencies=[PUBLIC])
def cover(request: Request, room_id: str) -> Response:
    return _image_response(platform_of(request), "room_cover", room_id)
