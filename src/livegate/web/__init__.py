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
            credentials_web.router, _complaints_router(), _chat_router(), _review_router(), _enforcement_router(),
            _retention_router()]


def _review_router() -> APIRouter:
    from livegate.review import web as review_web

    return review_web.router


def _complaints_router() -> APIRouter:
    from livegate.complaints import web as complaints_web

    return complaints_web.router


def _chat_router() -> APIRouter:
    from livegate.chat import web as chat_web

    return chat_web.router


def _enforcement_router() -> APIRouter:
    from livegate.enforcement import web as enforcement_web

    return enforcement_web.router


def _retention_router() -> APIRouter:
    from livegate.retention import web as retention_web

    return retention_web.router
