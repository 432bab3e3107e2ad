"""HTTP and WebSocket surface. :func:`routers` is the one list the app includes and the
route-permission test enumerates."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from livegate.web import api, pages, streaming

    return [api.router, pages.router, streaming.router]
