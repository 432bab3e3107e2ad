"""Request dependencies: who is asking (session cookie or API token), CSRF, and the one
permission every route declares.

A route declares exactly one of ``Depends(public)`` or ``Depends(requires(PERM))``; the
route-enumeration test reads these markers back from the dependency tree.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import Depends, Request

from livegate.core.errors import LivegateError, NotAuthenticated, PermissionDenied
from livegate.core.permissions import Permission
from livegate.identity.accounts import Principal

if TYPE_CHECKING:
    from livegate.app import Platform

SESSION_COOKIE = "lg_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class CsrfFailed(LivegateError):
    """The request's CSRF token is missing or wrong; reload the page."""

    code = "csrf_failed"
    http_status = 403


def platform_of(request: Request) -> Platform:
    return request.app.state.platform  # type: ignore[no-any-return]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _resolve(request: Request) -> Principal | None:
    if hasattr(request.state, "principal"):
        return request.state.principal  # type: ignore[no-any-return]
    p = platform_of(request)
    principal: Principal | None = None
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        with p.db.session() as s:
            principal = p.accounts.resolve_api_token(s, auth[7:].strip())
        if principal is None:
            raise NotAuthenticated("the API token is not valid")
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            with p.db.session() as s:
                principal = p.accounts.resolve_session(s, cookie)
    request.state.principal = principal
    return principal


async def _check_csrf(request: Request, principal: Principal) -> None:
    if request.method in SAFE_METHODS or principal.via != "session":
        return
    sent = request.headers.get("x-csrf-token", "")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else ""
    if not sent or not hmac.compare_digest(sent, principal.csrf_token):
        raise CsrfFailed()


def current_principal(request: Request) -> Principal | None:
    """The signed-in principal or None, for public pages that adapt to who is looking."""
    try:
        return _resolve(request)
    except NotAuthenticated:
        return None


class Requirement:
    """A dependency that admits a request only if its principal holds ``permission``.

    ``room_param`` names a path parameter for permissions scoped to a room (room managers).
    """

    def __init__(self, permission: Permission, room_param: str | None = None) -> None:
        self.permission = permission
        self.room_param = room_param

    async def __call__(self, request: Request) -> Principal:
        principal = _resolve(request)
        if principal is None:
            raise NotAuthenticated()
        room = request.path_params.get(self.room_param) if self.room_param else None
        if not principal.has(self.permission, room):
            raise PermissionDenied(f"this needs the permission {self.permission.value}",
                                   permission=self.permission.value)
        await _check_csrf(request, principal)
        return principal

    def __repr__(self) -> str:
        return f"requires({self.permission.value})"


_requirements: dict[tuple[Permission, str | None], Requirement] = {}


def requires(permission: Permission, room_param: str | None = None) -> Any:
    key = (permission, room_param)
    if key not in _requirements:
        _requirements[key] = Requirement(permission, room_param)
    return Depends(_requirements[key])


async def public() -> None:
    """Marker: this route is open to everyone, signed in or not."""


PUBLIC = Depends(public)


def declared_permission(dependant_call: Callable[..., Any]) -> Permission | str | None:
    if isinstance(dependant_call, Requirement):
        return dependant_call.permission
    if dependant_call is public:
        return "public"
    return None
