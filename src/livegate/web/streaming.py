"""HLS, the room WebSocket, studio room management and cut-off."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
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
class _SocketViewer:
    def __init__(self, ws: WebSocket, account_id: int | None) -> None:
        self.ws = ws
        self.account_id = account_id
        self._lock = asyncio.Lock()

    async def send_json(self, message: dict[str, Any]) -> None:
        async with self._lock:
            await self.ws.send_text(json.dumps(message, ensure_ascii=False))

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code, reason)


@router.websocket("/ws/rooms/{room_id}", dependencies=[PUBLIC])
async def room_socket(ws: WebSocket, room_id: str) -> None:
    p = ws.app.state.platform
    if not _ROOM.match(room_id):
        await ws.close(4404, "no such room")
        return

    def lookup() -> tuple[bool, bool, int]:
        with p.db.session() as s:
            from livegate.media.models import Room

            room = s.get(Room, room_id)
            if room is None:
                return False, False, 0
            return True, room.blocked, room.viewers

    exists, blocked, viewers = await asyncio.to_thread(lookup)
    if not exists:
        await ws.close(4404, "no such room")
        return
    await ws.accept()
    viewer = _SocketViewer(ws, None)
    await viewer.send_json({"v": 1, "type": "hello", "room": room_id, "viewers": viewers})
    if blocked:
        await viewer.send_json({"v": 1, "type": "cutoff", "room": room_id, "reason": ""})
    hub = p.media.hub
    await hub.join(room_id, viewer)
    p.metrics.ws_connections.inc()
    try:
        while True:
            raw = await ws.receive_text()
            await _handle_client_message(viewer, raw)
    except WebSocketDisconnect:
        pass
    finally:
        p.metrics.ws_connections.dec()
        with contextlib.suppress(Exception):
            await hub.leave(room_id, viewer)


async def _handle_client_message(viewer: _SocketViewer, raw: str) -> None:
    """Issue 3 knows only ping; comments arrive with the chat gateway."""
    try:
        msg = json.loads(raw)
    except ValueError:
        await viewer.send_json({"v": 1, "type": "error", "code": "bad_json", "message": "frames must be JSON"})
        return
    if isinstance(msg, dict) and msg.get("type") == "ping":
        await viewer.send_json({"v": 1, "type": "pong"})
    else:
        await viewer.send_json({"v": 1, "type": "error", "code": "unknown_type",
                                "message": "unknown message type"})


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


