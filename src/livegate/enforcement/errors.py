"""Typed errors of the enforcement domain (stable codes).

:class:`IdentityNotAccepted` is what a blacklisted identity sees at registration, phone
verification and publisher verification: its code and message are deliberately the same
whatever the cause behind them, so they reveal nothing about the list.
"""

from __future__ import annotations

from livegate.core.errors import Conflict, LivegateError, NotFound, PermissionDenied, ValidationFailed


class EnforcementError(LivegateError):
    """An enforcement action could not be taken."""

    code = "enforcement_error"


class UnknownReasonCode(EnforcementError, ValidationFailed):
    """There is no such reason code; see the list of reason codes."""

    code = "enforcement_unknown_reason"


class SanctionNotFound(EnforcementError, NotFound):
    """There is no such sanction."""

    code = "sanction_not_found"


class SanctionState(EnforcementError, Conflict):
    """The sanction is not in a state that allows this."""

    code = "sanction_state"


class AppealExists(EnforcementError, Conflict):
    """This sanction has already been appealed; each sanction can be appealed once."""

    code = "appeal_exists"


class AppealNotFound(EnforcementError, NotFound):
    """There is no such appeal."""

    code = "appeal_not_found"


class AppealDecided(EnforcementError, Conflict):
    """This appeal has already been decided."""

    code = "appeal_decided"


class DifferentStaffRequired(EnforcementError, PermissionDenied):
    """A different staff member must do this (four eyes)."""

    code = "different_staff_required"


class BlacklistEntryNotFound(EnforcementError, NotFound):
    """There is no such blacklist entry."""

    code = "blacklist_entry_not_found"


class BlacklistState(EnforcementError, Conflict):
    """The blacklist entry is not in a state that allows this."""

    code = "blacklist_state"


class InvalidImport(EnforcementError, ValidationFailed):
    """The import file is not in the documented format."""

    code = "blacklist_invalid_import"


NEUTRAL_MESSAGE = ("This identity cannot be used to open or verify an account on this platform."
                   " If you think this is a mistake, contact customer service.")


class IdentityNotAccepted(LivegateError):
    """This identity cannot be used to open or verify an account on this platform."""

    code = "identity_not_accepted"
    http_status = 403

    def __init__(self) -> None:
        super().__init__(NEUTRAL_MESSAGE)
