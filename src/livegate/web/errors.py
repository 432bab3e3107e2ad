"""Typed errors become HTTP responses here, and only here."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from livegate.core.errors import LivegateError, NotAuthenticated, RateLimited

log = logging.getLogger(__name__)


def _wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/hls/", "/ws/")):
        return False
    return "text/html" in request.headers.get("accept", "")


def _error_page(request: Request, status: int, code: str, message: str) -> Response:
    templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "code": code, "message": message,
                                "show_signin": code == NotAuthenticated.code},
        status_code=status,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LivegateError)
    async def _domain_error(request: Request, exc: LivegateError) -> Response:
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(max(1, int(exc.retry_after + 0.999)))
        if _wants_html(request):
            resp = _error_page(request, exc.http_status, exc.code, exc.message)
            resp.headers.update(headers)
            return resp
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"path": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()
        ]
        body = {"error": {"code": "validation_failed", "message": "the request is not valid",
                          "details": {"problems": problems}}}
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed", 410: "gone"}.get(exc.status_code, "http_error")
        if _wants_html(request):
            return _error_page(request, exc.status_code, code, str(exc.detail))
        return JSONResponse({"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if _wants_html(request):
            return _error_page(request, 500, "internal_error", "Something went wrong on our side.")
        return JSONResponse({"error": {"code": "internal_error", "message": "internal error"}}, status_code=500)

    _ = HTMLResponse  # keep import for templates that stream HTML
