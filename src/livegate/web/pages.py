"""Server-rendered pages: home, sign-in, the viewer page, and the studio and console shells."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from livegate.core.errors import LivegateError
from livegate.core.models import Account
from livegate.core.permissions import Permission
from livegate.identity.accounts import Principal
from livegate.media.models import Room
from livegate.web.api import SIGNIN_RULE, SignInBody, sign_in
from livegate.web.deps import PUBLIC, SESSION_COOKIE, client_ip, current_principal, platform_of, requires

router = APIRouter()


def render(request: Request, template: str, status_code: int = 200, **ctx: Any) -> Response:
    principal = current_principal(request)
    ctx.setdefault("principal", principal)
    ctx.setdefault("csrf_token", principal.csrf_token if principal else "")
    ctx.setdefault("can_console", bool(principal and principal.has(Permission.CONSOLE_VIEW)))
    ctx.setdefault("can_studio", bool(principal and principal.has(Permission.STUDIO_USE)))
    return request.app.state.templates.TemplateResponse(request, template, ctx, status_code=status_code)  # type: ignore[no-any-return]


@router.get("/", dependencies=[PUBLIC])
def home(request: Request) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        rooms = s.execute(
            select(Room, Account.nickname).join(Account, Account.id == Room.owner_id)
            .where(Room.status == "live").order_by(Room.viewers.desc()).limit(60)
        ).all()
    return render(request, "home.html", rooms=[(r.id, r.title, r.category, nick, r.viewers) for r, nick in rooms])


@router.get("/healthz", dependencies=[PUBLIC])
def healthz(request: Request) -> dict[str, Any]:
    p = platform_of(request)
    return {"status": "ok", "node": p.settings.node_name, "policy": p.policy.version[:12],
            "live_streams": p.media.live_count() if p.media else 0}


@router.get("/signin", dependencies=[PUBLIC])
def signin_page(request: Request, next: str = "") -> Response:
    return render(request, "signin.html", next=_safe_next(next), error="")


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else ""


@router.post("/signin", dependencies=[PUBLIC])
async def signin_form(
    request: Request,
    username: str = Form(default="", max_length=64),
    password: str = Form(default="", max_length=256),
    totp: str = Form(default="", max_length=10),
    next: str = Form(default="", max_length=200),
) -> Response:
    p = platform_of(request)
    try:
        await p.ratelimit.check_or_raise(SIGNIN_RULE, client_ip(request))
        body = SignInBody(username=username, password=password, totp=totp or None)
        response = RedirectResponse("/", status_code=303)
        info = await asyncio.to_thread(sign_in, request, response, body)
    except (LivegateError, ValidationError) as exc:
        message = exc.message if isinstance(exc, LivegateError) else "Enter your username and password."
        status = exc.http_status if isinstance(exc, LivegateError) else 400
        return render(request, "signin.html", status_code=status, next=_safe_next(next), error=message,
                      username=username)
    roles = set(info["account"]["roles"])
    target = _safe_next(next)
    if not target:
        staff = roles & {"administrator", "reviewer", "patrol_officer", "chief_editor", "compliance_officer"}
        target = "/console" if staff else ("/studio" if "publisher" in roles else "/")
    response.headers["location"] = target
    return response


@router.post("/signout")
def signout(request: Request, principal: Principal = requires(Permission.ACCOUNT_SELF)) -> Response:
    p = platform_of(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with p.db.session() as s:
            p.accounts.close_session(s, cookie)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/console")
def console(request: Request, principal: Principal = requires(Permission.CONSOLE_VIEW)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        rooms = s.execute(
            select(Room, Account.nickname).join(Account, Account.id == Room.owner_id).order_by(Room.status.desc(),
                                                                                          Room.id).limit(500)
        ).all()
    return render(request, "console.html", rooms=[(r, nick) for r, nick in rooms],
                  policy_version=p.policy.version[:12],
                  can_cutoff=principal.has(Permission.STREAM_CUTOFF),
                  can_unblock=principal.has(Permission.STREAM_UNBLOCK))


@router.get("/studio")
def studio(request: Request, principal: Principal = requires(Permission.STUDIO_USE)) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        rooms = p.rooms.rooms_of(s, principal.account_id)
        rows = [(r, p.rooms.stream_key(r)) for r in rooms]
    categories = [(k, c.display_name) for k, c in p.policy.get().categories.items()]
    return render(request, "studio.html", rooms=rows, rtmp_base=p.settings.effective_rtmp_url,
                  categories=categories)


@router.get("/r/{room_id}", dependencies=[PUBLIC])
def room_page(request: Request, room_id: str) -> Response:
    p = platform_of(request)
    with p.db.session() as s:
        room = p.rooms.get(s, room_id)
        owner = s.get(Account, room.owner_id)
        nickname = owner.nickname if owner else ""
        cut = room.blocked
    policy = p.policy.get()
    cat = policy.categories.get(room.category)
    mark_mode = cat.watermark_mode if cat else "overlay"
    return render(request, "room.html", room=room, nickname=nickname, cut=cut,
                  mark_text=policy.platform_mark_text, mark_mode=mark_mode,
                  category_name=cat.display_name if cat else room.category)


@router.get("/metrics")
def metrics(request: Request, principal: Principal = requires(Permission.METRICS_READ)) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(platform_of(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)
