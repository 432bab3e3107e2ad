"""Typed errors with stable codes.

Every domain raises a subclass of :class:`LivegateError`. Routes, the CLI and protocol
adapters turn them into responses in one place (``livegate.web.errors``), so a code once
published never changes meaning.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LivegateError(Exception):
    """Base of every domain error: a stable ``code``, an HTTP status hint, a readable message."""

    code: ClassVar[str] = "livegate_error"
    http_status: ClassVar[int] = 400

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.__class__.__doc__ or self.code
        self.details = details
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class NotFound(LivegateError):
    """The requested thing does not exist."""

    code = "not_found"
    http_status = 404


class Conflict(LivegateError):
    """The request conflicts with the current state."""

    code = "conflict"
    http_status = 409


class ValidationFailed(LivegateError):
    """The input is not valid."""

    code = "validation_failed"
    http_status = 422


class NotAuthenticated(LivegateError):
    """Sign in first."""

    code = "not_authenticated"
    http_status = 401


class PermissionDenied(LivegateError):
    """Your role does not grant this permission."""

    code = "permission_denied"
    http_status = 403


class RateLimited(LivegateError):
    """Too many requests; try again later."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str | None = None, *, retry_after: float, **details: Any) -> None:
        super().__init__(message, retry_after=round(retry_after, 3), **details)
        self.retry_after = retry_after


class Gone(LivegateError):
    """This resource existed but is no longer available."""

    code = "gone"
    http_status = 410
