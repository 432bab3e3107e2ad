"""HTTP and WebSocket surface. :func:`routers` is the one list the app includes and the
route-permission test enumerates."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from livegate.agreements import web as agreements_web
    from livegate.credentials import web as credentials_web
    from livegate.identity import web as identity_web
    from livegate.web import api, pages, streaming

    return [api.router, pages.router, streaming.router, identity_web.router, agreements_web.router,
            credentials_web.router]
