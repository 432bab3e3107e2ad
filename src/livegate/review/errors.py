"""Typed errors of the review domain."""

from __future__ import annotations

from livegate.core.errors import Conflict, LivegateError, NotFound, ValidationFailed


class ReviewError(LivegateError):
    """A review operation failed."""

    code = "review_error"


class CaseNotFound(NotFound):
    """No such review case."""

    code = "review_case_not_found"


class CaseAlreadyDecided(Conflict):
    """This case has been decided already."""

    code = "review_case_decided"


class CaseClaimedByAnother(Conflict):
    """Another reviewer holds this case."""

    code = "review_case_claimed"


class InvalidDecision(ValidationFailed):
    """That decision is not possible for this case."""

    code = "review_invalid_decision"


class NewsPlanRequired(Conflict):
    """A news livestream needs a plan approved by the chief editor."""

    code = "review_news_plan_required"


class UnknownSwitch(ValidationFailed):
    """No such emergency switch."""

    code = "review_unknown_switch"
