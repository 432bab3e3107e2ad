"""HLS, the room WebSocket, studio room management and cut-off."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from livegate.core.errors import Gone, NotFound, PermissionDenied
from livegate.core.permissions import Permission
from livegate.identity.accounts import Principal
from livegate.media.layout import PLAYLIST_NAME, gone
from livegate.web.deps import PUBLIC, platform_of, requires

router = APIRouter()
_HLS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}\.(m3u8|ts|png|m4s|mp4)$")
_ROOM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_MEDIA_TYPES = {"m3u8": "application/vnd.apple.mpegurl", "ts": "video/mp2t", "png": "image/png",
                "m4s": "video/iso.segment", "mp4": "video/mp4"}


# HLS ----------------------------------------------------------------------------------------
@router.get("/hls/{room_id}/{name}", dependencies=[PUBLIC])
def hls_file(request: Request, room_id: str, name: str) -> Response:
    if not _ROOM.match(room_id) or not _HLS_NAME.match(name):
        raise NotFound("no such file")
    p = platform_of(request)
    if name != PLAYLIST_NAME:
        why = gone(p.media.root, room_id, name)
        if why is not None:
            raise Gone("this stream was stopped by the platform" if why["kind"] == "cutoff"
                       else "this replay was withdrawn", kind=why["kind"])
    path = p.media.hls_path(room_id, name)
    if not path.is_file():
        raise NotFound("no such file")
    ext = name.rsplit(".", 1)[1]
    cache = "no-cache" if ext in ("m3u8", "ts", "m4s") else "public, max-age=60"
    return FileResponse(path, media_type=_MEDIA_TYPES[ext], headers={"cache-control": cache})


# The room WebSocket -------------------------------------------------------------------------
@router.websocket("/ws/rooms/{room_id}", dependencies=[PUBLIC])
async def room_socket(ws: WebSocket, room_id: str) -> None:
    """Comments, danmaku, moderation and control events of a room (docs/protocol.md)."""
    from livegate.chat.gateway import serve_room_socket

    await serve_room_socket(ws, room_id)


# Cut-off ------------------------------------------------------------------------------------
class CutoffBody(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    block_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 365)


@router.post("/api/v1/rooms/{room_id}/cutoff")
async def cutoff(request: Request, room_id: str, body: CutoffBody,
                 principal: Principal = requires(Permission.STREAM_CUTOFF)) -> dict[str, Any]:
    p = platform_of(request)
    result = await p.media.cutoff(room_id, actor=principal.actor, reason=body.reason,
                                  block_minutes=body.block_minutes)
    return {"order": result.order, "room": room_id, "stream_cut_here": result.stream_cut,
            "publisher_closed": result.publisher_closed, "viewers_notified_here": result.viewers_notified}


class ReasonBody(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.post("/api/v1/rooms/{room_id}/unblock")
def unblock(request: Request, room_id: str, body: ReasonBody,
            principal: Principal = requires(Permission.STREAM_UNBLOCK)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        p.rooms.unblock(s, p.rooms.get(s, room_id), actor=principal.actor, reason=body.reason)
    return {"room": room_id, "blocked": False}


@router.get("/api/v1/rooms/{room_id}", dependencies=[PUBLIC])
def room_info(request: Request, room_id: str) -> dict[str, Any]:
    p = platform_of(request)
    from livegate.core.models import Account

    with p.db.session() as s:
        room = p.rooms.get(s, room_id)
        owner = s.get(Account, room.owner_id)
        return {"id": room.id, "title": room.title, "category": room.category, "status": room.status,
                "blocked": room.blocked, "viewers": room.viewers, "publisher": owner.nickname if owner else "",
                "playlist": f"/hls/{room.id}/{PLAYLIST_NAME}"}


# Studio ------------------------------------------------------------------------------------
class RoomBody(BaseModel):
    title: str = Field(min_length=1, max_length=120)
    category: str = Field(min_length=1, max_length=32)


def _room_view(p: Any, room: Any, key: str | None = None) -> dict[str, Any]:
    out = {"id": room.id, "title": room.title, "category": room.category, "status": room.status,
           "blocked": room.blocked, "block_reason": room.block_reason, "last_refusal": room.last_refusal,
           "rtmp_url": p.settings.effective_rtmp_url}
    if key is not None:
        out["stream_key"] = key
    return out


@router.post("/api/v1/studio/rooms", status_code=201)
def studio_create_room(request: Request, body: RoomBody,
                       principal: Principal = requires(Permission.STUDIO_USE)) -> dict[str, Any]:
    p = platform_of(request)
    p.policy.get().category(body.category)  # unknown categories are refused with a typed error
    with p.db.session() as s:
        owner = p.accounts.get(s, principal.account_id)
        room, key = p.rooms.create(s, owner, title=body.title, category=body.category, actor=principal.actor)
        return _room_view(p, room, key)


@router.get("/api/v1/studio/rooms")
def studio_rooms(request: Request, principal: Principal = requires(Permission.STUDIO_USE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        return {"rooms": [_room_view(p, r, p.rooms.stream_key(r)) for r in p.rooms.rooms_of(s, principal.account_id)]}


@router.post("/api/v1/studio/rooms/{room_id}/rotate-key")
def studio_rotate_key(request: Request, room_id: str,
                      principal: Principal = requires(Permission.STUDIO_USE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        room = p.rooms.get(s, room_id)
        if room.owner_id != principal.account_id:
            raise PermissionDenied("this is not your room")
        key = p.rooms.rotate_key(s, room, principal.actor)
        return _room_view(p, room, key)




# Replays ------------------------------------------------------------------------------------
@router.get("/api/v1/rooms/{room_id}/replays", dependencies=[PUBLIC])
def room_replays(request: Request, room_id: str) -> dict[str, Any]:
    """Finished lives of the room still offered as replays (not withdrawn, not cut off)."""
    p = platform_of(request)
    from sqlalchemy import select

    from livegate.media.models import StreamSession

    with p.db.session() as s:
        p.rooms.get(s, room_id)
        rows = s.scalars(
            select(StreamSession).where(StreamSession.room_id == room_id, StreamSession.replay_available.is_(True),
                                        StreamSession.replay_withdrawn.is_(False), StreamSession.cut_off.is_(False))
            .order_by(StreamSession.started_at.desc()).limit(50)
        ).all()
        return {"replays": [{"session": f"s{r.id}", "started_at": r.started_at.isoformat(),
                             "ended_at": r.ended_at.isoformat() if r.ended_at else None,
                             "playlist": f"/hls/{room_id}/replay-s{r.id}.m3u8"} for r in rows]}


@router.post("/api/v1/studio/rooms/{room_id}/replays/{session}/withdraw")
def studio_withdraw_replay(request: Request, room_id: str, session: str, body: ReasonBody,
                           principal: Principal = requires(Permission.STUDIO_USE)) -> dict[str, Any]:
    """The publisher takes a replay down; the retention copy (the recording) stays."""
    from livegate.media.models import StreamSession
    from livegate.media.replay import withdraw_replay

    p = platform_of(request)
    if not re.fullmatch(r"s\d{1,12}", session):
        raise NotFound("no such replay")
    with p.db.session() as s:
        room = p.rooms.get(s, room_id)
        if room.owner_id != principal.account_id:
            raise PermissionDenied("this is not your room")
        ss = s.get(StreamSession, int(session[1:]))
        if ss is None or ss.room_id != room_id:
            raise NotFound("no such replay")
        withdraw_replay(p.media.root, room_id, session, reason=body.reason, at=p.clock.now())
        ss.replay_withdrawn = True
        p.audit.record(s, actor=principal.actor, action="replay.withdraw", target=f"room:{room_id}",
                       reason=body.reason, details={"session": session})
    return {"room": room_id, "session": session, "withdrawn": True}
