"""Every route declares one permission (or that it is public), and every role without
that permission is refused. New routes are covered automatically."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient

from livegate.app import Platform
from livegate.core.permissions import ROLE_PERMISSIONS, SCOPED_PERMISSIONS, Permission, Role
from livegate.web import routers
from livegate.web.deps import declared_permission
from tests.conftest import As, create_account, sign_in


def _declared(dependant: Any) -> list[Any]:
    found = []
    for dep in dependant.dependencies:
        perm = declared_permission(dep.call)
        if perm is not None:
            found.append(perm)
        found.extend(_declared(dep))
    return found


# Framework routes that are public by design: the OpenAPI document and its viewer.
FRAMEWORK_PUBLIC = {"/api/openapi.json", "/api/docs", "/docs/oauth2-redirect", "/static"}


def test_the_app_serves_only_the_listed_routers(app: Any) -> None:
    from starlette.routing import Mount, Route

    for route in app.routes:
        if isinstance(route, (Route, Mount)) and not isinstance(route, APIRoute):
            assert route.path in FRAMEWORK_PUBLIC, route.path


def _routes(app: Any) -> list[tuple[str, str, Any]]:
    out = []
    for route in [r for router in routers() for r in router.routes]:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods - {"HEAD"}):
                out.append((method, route.path, route))
        elif isinstance(route, APIWebSocketRoute):
            out.append(("WS", route.path, route))
    return out


def test_every_route_declares_exactly_one_permission(app: Any) -> None:
    missing = []
    for method, path, route in _routes(app):
        declared = _declared(route.dependant)
        if len(declared) != 1:
            missing.append(f"{method} {path}: {declared}")
    assert not missing, "routes without exactly one declared permission:\n" + "\n".join(missing)


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "100001", path)


ROLES = [None, *Role]


@pytest.fixture
def role_clients(platform: Platform, client: TestClient) -> dict[Role | None, As]:
    clients: dict[Role | None, As] = {None: As(client)}
    for role in Role:
        name = f"u-{role.value.replace('_', '-')}"
        # a room manager of some other room must not gain room permissions here
        create_account(platform, name, role, "999999" if role == Role.ROOM_MANAGER else None)
        clients[role] = sign_in(client, name)
    return clients


def test_roles_without_the_permission_are_refused(app: Any, role_clients: dict[Role | None, As]) -> None:
    failures = []
    checked = 0
    for method, path, route in _routes(app):
        if method == "WS":
            continue
        [perm] = _declared(route.dependant)
        if perm == "public":
            continue
        assert isinstance(perm, Permission)
        for role, c in role_clients.items():
            if role is not None and perm in ROLE_PERMISSIONS[role]:
                # a room manager holds scoped permissions only for its own room (999999), so on a
                # route about room 100001 it must still be refused
                if not (role == Role.ROOM_MANAGER and perm in SCOPED_PERMISSIONS and "{room_id}" in path):
                    continue
            r = c.request(method, _fill(path), json={})
            checked += 1
            if r.status_code not in (401, 403):
                failures.append(f"{role} {method} {path} -> {r.status_code}")
            elif role is None and r.status_code != 401:
                failures.append(f"anonymous {method} {path} -> {r.status_code} (expected 401)")
    assert checked > 20
    assert not failures, "\n".join(failures)
