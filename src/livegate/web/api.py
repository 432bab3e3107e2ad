"""The JSON API under /api/v1. Routes stay thin: validate, call one service, return."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from livegate.core.audit import verify_chain
from livegate.core.models import Account, AuditEntry
from livegate.core.permissions import Permission, Role
from livegate.core.ratelimit import RateRule
from livegate.identity.accounts import Principal, generate_password
from livegate.media.models import Room
from livegate.web.deps import PUBLIC, SESSION_COOKIE, client_ip, platform_of, requires

router = APIRouter(prefix="/api/v1")

SIGNIN_RULE = RateRule("signin-ip", capacity=20, refill_per_second=20 / 300)


# Auth -------------------------------------------------------------------------------------
class SignInBody(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    totp: str | None = Field(default=None, max_length=10)


def _cookie_secure(request: Request) -> bool:
    mode = platform_of(request).settings.secure_cookies
    if mode == "auto":
        return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    return mode == "always"


def sign_in(request: Request, response: Response, body: SignInBody) -> dict[str, Any]:
    """Shared by the JSON API and the HTML form."""
    p = platform_of(request)
    ip = client_ip(request)
    with p.db.session() as s:
        account = p.accounts.authenticate(s, body.username, body.password, body.totp, ip=ip)
        token, ws = p.accounts.open_session(s, account, ip=ip, user_agent=request.headers.get("user-agent", ""))
        roles = sorted({g.role for g in account.roles})
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="lax", secure=_cookie_secure(request),
        max_age=p.settings.session_hours * 3600, path="/",
    )
    return {"account": {"id": account.id, "username": account.username, "nickname": account.nickname,
                        "roles": roles}, "csrf_token": ws.csrf_token}


@router.post("/auth/signin", dependencies=[PUBLIC])
async def api_sign_in(request: Request, response: Response, body: SignInBody) -> dict[str, Any]:
    p = platform_of(request)
    await p.ratelimit.check_or_raise(SIGNIN_RULE, client_ip(request))
    return await asyncio.to_thread(sign_in, request, response, body)


@router.post("/auth/signout")
def api_sign_out(request: Request, response: Response,
                 principal: Principal = requires(Permission.ACCOUNT_SELF)) -> dict[str, bool]:
    p = platform_of(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with p.db.session() as s:
            p.accounts.close_session(s, cookie)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"ok": True}


@router.get("/me")
def me(request: Request, principal: Principal = requires(Permission.ACCOUNT_SELF)) -> dict[str, Any]:
    return {
        "id": principal.account_id, "username": principal.username, "nickname": principal.nickname,
        "roles": sorted(f"{r}@{s}" if s else r for r, s in principal.roles), "csrf_token": principal.csrf_token,
    }


class TotpEnableBody(BaseModel):
    secret: str = Field(min_length=16, max_length=64)
    code: str = Field(min_length=6, max_length=8)


@router.post("/me/totp/begin")
def totp_begin(request: Request, principal: Principal = requires(Permission.ACCOUNT_SELF)) -> dict[str, str]:
    import pyotp

    secret = pyotp.random_base32()
    uri = pyotp.TOTP(secret).provisioning_uri(name=principal.username, issuer_name="livegate")
    return {"secret": secret, "uri": uri}


@router.post("/me/totp/enable")
def totp_enable(request: Request, body: TotpEnableBody,
                principal: Principal = requires(Permission.ACCOUNT_SELF)) -> dict[str, bool]:
    p = platform_of(request)
    with p.db.session() as s:
        p.accounts.enable_totp(s, p.accounts.get(s, principal.account_id), body.secret, body.code)
    return {"ok": True}


class TokenBody(BaseModel):
    name: str = Field(min_length=1, max_length=64)


@router.post("/me/tokens")
def create_token(request: Request, body: TokenBody,
                 principal: Principal = requires(Permission.ACCOUNT_SELF)) -> dict[str, str]:
    p = platform_of(request)
    with p.db.session() as s:
        token = p.accounts.create_api_token(s, p.accounts.get(s, principal.account_id), body.name, principal.actor)
    return {"token": token, "note": "shown once; store it now"}


# Users (administrators) -------------------------------------------------------------------
class UserBody(BaseModel):
    username: str = Field(min_length=3, max_length=32)
    role: Role
    scope: str | None = Field(default=None, max_length=64)
    password: str | None = Field(default=None, min_length=10, max_length=256)
    nickname: str | None = Field(default=None, min_length=1, max_length=64)


@router.post("/users", status_code=201)
def create_user(request: Request, body: UserBody,
                principal: Principal = requires(Permission.USERS_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    password = body.password or generate_password()
    with p.db.session() as s:
        acc = p.accounts.create(s, username=body.username, password=password, roles=[(body.role, body.scope)],
                                actor=principal.actor, nickname=body.nickname)
    out: dict[str, Any] = {"id": acc.id, "username": acc.username, "role": body.role.value}
    if body.password is None:
        out["password"] = password
    return out


@router.get("/users")
def list_users(request: Request, principal: Principal = requires(Permission.USERS_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        rows = s.scalars(select(Account).order_by(Account.id).limit(500)).all()
        return {"users": [{"id": a.id, "username": a.username, "nickname": a.nickname, "status": a.status,
                           "roles": sorted(f"{g.role}@{g.scope}" if g.scope else g.role for g in a.roles)}
                          for a in rows]}


# Audit ------------------------------------------------------------------------------------
@router.get("/audit")
def audit_entries(request: Request, before: int | None = None, limit: int = 100,
                  principal: Principal = requires(Permission.AUDIT_READ)) -> dict[str, Any]:
    p = platform_of(request)
    limit = max(1, min(limit, 500))
    with p.db.session() as s:
        q = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
        if before is not None:
            q = q.where(AuditEntry.seq < before)
        rows = s.scalars(q).all()
        return {"entries": [{"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                             "target": e.target, "reason": e.reason, "details": e.details,
                             "hash": e.entry_hash} for e in rows]}


@router.get("/audit/verify")
def audit_verify(request: Request, principal: Principal = requires(Permission.AUDIT_READ)) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        r = verify_chain(s)
    return {"ok": r.ok, "count": r.count, "first_broken": r.first_broken, "problem": r.problem, "head": r.head}


# Policy -----------------------------------------------------------------------------------
@router.get("/policy")
def get_policy(request: Request, principal: Principal = requires(Permission.CONSOLE_VIEW)) -> dict[str, Any]:
    p = platform_of(request)
    return {"version": p.policy.version, "policy": p.policy.get().model_dump(mode="json")}


class PolicyBody(BaseModel):
    text: str = Field(min_length=1, max_length=1_000_000)
    source: str = Field(default="api", max_length=200)


@router.put("/policy")
def put_policy(request: Request, body: PolicyBody,
               principal: Principal = requires(Permission.POLICY_MANAGE)) -> dict[str, Any]:
    p = platform_of(request)
    p.apply_policy(body.text, source=body.source, actor=principal.actor)
    return {"version": p.policy.version}


# Public -----------------------------------------------------------------------------------
@router.get("/rooms", dependencies=[PUBLIC])
def live_rooms(request: Request) -> dict[str, Any]:
    p = platform_of(request)
    with p.db.session() as s:
        rows = s.execute(
            select(Room, Account.nickname).join(Account, Account.id == Room.owner_id)
            .where(Room.status == "live").order_by(Room.viewers.desc()).limit(200)
        ).all()
        total = s.scalar(select(func.count(Room.id))) or 0
    return {"rooms": [{"id": r.id, "title": r.title, "category": r.category, "publisher": nick,
                       "viewers": r.viewers} for r, nick in rows], "total_rooms": total}
