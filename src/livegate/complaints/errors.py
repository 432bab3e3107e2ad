"""Typed errors of the complaints domain."""

from __future__ import annotations

from livegate.core.errors import LivegateError, NotFound, ValidationFailed


class ComplaintError(LivegateError):
    """Base of the complaints domain's errors."""

    code = "complaint_error"


class ChallengeRequired(ComplaintError):
    """Anonymous reports need a solved proof-of-work challenge; fetch one and try again."""

    code = "complaint_challenge_required"
    http_status = 400


class ChallengeInvalid(ComplaintError):
    """The proof-of-work challenge is invalid, expired, or already used; fetch a new one."""

    code = "complaint_challenge_invalid"
    http_status = 400


class TicketNotFound(NotFound):
    """No report has this status link."""

    code = "complaint_ticket_not_found"


class CaseNotFound(NotFound):
    """No complaint case has this number."""

    code = "complaint_case_not_found"


class TargetInvalid(ValidationFailed):
    """The reported room, comment, user or sanction does not exist."""

    code = "complaint_target_invalid"


class CaseClosed(ComplaintError):
    """This complaint case has already been decided."""

    code = "complaint_case_closed"
    http_status = 409
