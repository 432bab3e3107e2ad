"""Chat routes: posting over HTTP, the room managers' actions, the held queue, room modes,
studio managers, the lexicon and the platform switches; console and studio pages."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from livegate.chat.protocol import COLORS, POSITIONS
from livegate.chat.service import Sender
from livegate.core.permissions import Permission
from livegate.identity.accounts import Principal
from livegate.web.deps import client_ip, platform_of, requires

router = APIRouter()

MODERATE = requires(Permission.COMMENTS_MODERATE, room_param="room_id")


class CommentBody(BaseModel):
    text: str = Field(max_length=10_000)
    ref: str = Field(default="", max_length=64)
    position: str = Field(default="scroll", pattern="^(scroll|top|bottom)$")
    color: str = Field(default="#ffffff", max_length=7)


class ReasonBody(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class OptionalReason(BaseModel):
    reason: str = Field(default="", max_length=500)


class MuteBody(BaseModel):
    account_id: int
    minutes: int = Field(ge=1, le=60 * 24 * 30)
    reason: str = Field(min_length=1, max_length=500)


class ModesBody(BaseModel):
    slow_seconds: int | None = Field(default=None, ge=0, le=3600)
    premoderation: bool | None = None
    reason: str = Field(min_length=1, max_length=500)


class ManagerBody(BaseModel):
    username: str = Field(min_length=1, max_length=64)


class SwitchBody(BaseModel):
    on: bool
    reason: str = Field(min_length=1, max_length=500)


class OutcomeBody(BaseModel):
    blocked_outcome: str = Field(pattern="^(refuse|self_only)$")
    reason: str = Field(min_length=1, max_length=500)


class LexiconBody(BaseModel):
    tsv: str = Field(min_length=1, max_length=20_000_000)
    source: str = Field(default="console upload", max_length=200)
    merge: bool = False


# Posting (the same flow as the WebSocket) -----------------------------------------------------
@router.post("/api/v1/rooms/{room_id}/comments")
async def post_comment(request: Request, room_id: str, body: CommentBody,
                       principal: Principal = requires(Permission.ACCOUNT_SELF)) -> dict[str, Any]:
    p = platform_of(request)
    color = body.color.lower() if body.color.lower() in COLORS else COLORS[0]
    position = body.position if body.position in POSITIONS else POSITIONS[0]
    sender = Sender(principal, client_ip(request), request.headers.get("user-agent", "")[:255])
    result = await p.chat.post_comment(room_id, sender, body.text, ref=body.ref, position=position, color=color)
    return result.frame()


# Managing a room's comments (room managers and staff) ---------------------------------------
@router.get("/api/v1/rooms/{room_id}/comments/records")
def comment_records(request: Request, room_id: str, status: str | None = None,
                    principal: Principal = MODERATE) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        room = p.rooms.get(s, room_id)
        return {"room": room_id, "records": p.chat.records(s, room_id, status=status),
                "modes": p.chat.modes(s, room).to_json()}


@router.post("/api/v1/rooms/{room_id}/comments/{message_id}/remove")
async def remove_comment(request: Request, room_id: str, message_id: int, body: ReasonBody,
                         principal: Principal = MODERATE) -> dict[str, Any]:
    p = platform_of(request)
    return await p.chat.remove_message(message_id, actor=principal.actor, reason=body.reason, room_id=room_id)


@router.post("/api/v1/rooms/{room_id}/comments/{message_id}/approve")
async def approve_comment(request: Request, room_id: str, message_id: int, body: OptionalReason,
                          principal: Principal = MODERATE) -> dict[str, Any]:
    p = platform_of(request)
    return await p.chat.review_held(room_id, message_id, approve=True, actor=principal.actor, reason=body.reason)


@router.post("/api/v1/rooms/{room_id}/comments/{message_id}/reject")
async def reject_comment(request: Request, room_id: str, message_id: int, body: OptionalReason,
                         principal: Principal = MODERATE) -> dict[str, Any]:
    p = platform_of(request)
    return await p.chat.review_held(room_id, message_id, approve=False, actor=principal.actor, reason=body.reason)


@router.post("/api/v1/rooms/{room_id}/mutes")
async def mute(request: Request, room_id: str, body: MuteBody, principal: Principal = MODERATE) -> dict[str, Any]:
    p = platform_of(request)
    return await p.chat.mute(room_id, body.account_id, minutes=body.minutes, actor=principal.actor,
                             reason=body.reason)


@router.post("/api/v1/rooms/{room_id}/mutes/{account_id}/lift")
async def unmute(request: Request, room_id: str, account_id: int, body: ReasonBody,
                 principal: Principal = MODERATE) -> dict[str, Any]:
    p = platform_of(request)
    lifted = await p.chat.unmute(room_id, account_id, actor=principal.actor, reason=body.reason)
    return {"room": room_id, "account": account_id, "lifted": lifted}


@router.put("/api/v1/rooms/{room_id}/chat-modes")
async def set_modes(request: Request, room_id: str, body: ModesBody, principal: Principal = MODERATE) -> dict[str, Any]:
    p = platform_of(request)
    modes = await p.chat.set_room_modes(room_id, actor=principal.actor, reason=body.reason,
                                        slow_seconds=body.slow_seconds, premoderation=body.premoderation)
    return {"room": room_id, **modes.to_json()}


# Studio: the publisher's room managers (Art. 11) -------------------------------------------
@router.get("/api/v1/studio/rooms/{room_id}/managers")
def list_managers(request: Request, room_id: str,
                  principal: Principal = requires(Permission.ROOM_MANAGE_OWN)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        p.chat._own_room(s, room_id, principal)
        return {"room": room_id, "managers": p.chat.managers(s, room_id)}


@router.post("/api/v1/studio/rooms/{room_id}/managers", status_code=201)
def appoint_manager(request: Request, room_id: str, body: ManagerBody,
                    principal: Principal = requires(Permission.ROOM_MANAGE_OWN)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"room": room_id, **p.chat.appoint_manager(s, room_id, body.username, principal=principal)}


@router.post("/api/v1/studio/rooms/{room_id}/managers/{account_id}/remove")
def remove_manager(request: Request, room_id: str, account_id: int,
                   principal: Principal = requires(Permission.ROOM_MANAGE_OWN)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        removed = p.chat.remove_manager(s, room_id, account_id, principal=principal)
    return {"room": room_id, "account": account_id, "removed": removed}


# Platform-wide: emergency pre-moderation, blocked outcome, lexicon -------------------------
@router.post("/api/v1/chat/premoderation")
async def platform_premoderation(request: Request, body: SwitchBody,
                                 principal: Principal = requires(Permission.POLICY_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    await p.chat.set_platform_premoderation(body.on, actor=principal.actor, reason=body.reason)
    return {"premoderation": body.on}


@router.post("/api/v1/chat/settings")
def chat_settings(request: Request, body: OutcomeBody,
                  principal: Principal = requires(Permission.POLICY_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        p.chat.set_blocked_outcome(s, body.blocked_outcome, actor=principal.actor, reason=body.reason)
    return {"blocked_outcome": body.blocked_outcome}


@router.get("/api/v1/chat/lexicon")
def lexicon_versions(request: Request, principal: Principal = requires(Permission.POLICY_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"in_service": p.chat.lexicon_version, "versions": p.chat.lexicon_versions(s)}


@router.post("/api/v1/chat/lexicon", status_code=201)
async def lexicon_import(request: Request, body: LexiconBody,
                         principal: Principal = requires(Permission.POLICY_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    info = await asyncio.to_thread(p.chat.import_lexicon, body.tsv, source=body.source, actor=principal.actor,
                                   merge=body.merge)
    await p.chat.announce_lexicon()
    return info


# Pages ---------------------------------------------------------------------------------------
@router.get("/console/rooms/{room_id}/comments")
def console_comments(request: Request, room_id: str, principal: Principal = MODERATE) -> Response:
    from livegate.web.pages import render

    p = platform_of(request)
    with p.db.session() as s:
        room = p.rooms.get(s, room_id)
        modes = p.chat.modes(s, room)
        held = p.chat.records(s, room_id, status="held")
        records = p.chat.records(s, room_id, limit=100)
        title = room.title
    return render(request, "chat/console_comments.html", room_id=room_id, room_title=title, modes=modes,
                  held=held, records=records)


@router.get("/studio/rooms/{room_id}/managers")
def studio_managers(request: Request, room_id: str,
                    principal: Principal = requires(Permission.ROOM_MANAGE_OWN)) -> Response:
    from livegate.web.pages import render

    p = platform_of(request)
    with p.db.session() as s:
        room = p.chat._own_room(s, room_id, principal)
        managers = p.chat.managers(s, room_id)
        title = room.title
    return render(request, "chat/studio_managers.html", room_id=room_id, room_title=title, managers=managers)


@router.get("/console/chat/lexicon")
def console_lexicon(request: Request, principal: Principal = requires(Permission.POLICY_MANAGE)) -> Response:
    from livegate.web.pages import render

    p = platform_of(request)
    with p.db.session() as s:
        versions = p.chat.lexicon_versions(s)
        premoderation = p.chat.platform_premoderation(s)
        outcome = p.chat.blocked_outcome(s)
    return render(request, "chat/console_lexicon.html", versions=versions, in_service=p.chat.lexicon_version,
                  premoderation=premoderation, blocked_outcome=outcome)
