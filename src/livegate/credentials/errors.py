"""Typed errors of the credentials domain (Arts. 5, 6)."""

from __future__ import annotations

from livegate.core.errors import Conflict, LivegateError, NotFound, ValidationFailed


class CredentialError(LivegateError):
    code = "credential_error"


class UnknownCredentialKind(CredentialError, ValidationFailed):
    """The policy defines no such credential kind for this holder."""

    code = "credential_unknown_kind"


class InvalidCredential(CredentialError, ValidationFailed):
    """A field of the credential is missing or not valid; ``details['field']`` names it."""

    code = "credential_invalid"


class CredentialNotFound(CredentialError, NotFound):
    """No such credential."""

    code = "credential_not_found"


class CredentialState(CredentialError, Conflict):
    """The credential is not in a state that allows this."""

    code = "credential_state"
