"""Typed errors of the agreements domain (Art. 13)."""

from __future__ import annotations

from livegate.core.errors import Conflict, LivegateError, NotFound, ValidationFailed


class AgreementError(LivegateError):
    code = "agreement_error"


class AgreementClausesMissing(AgreementError, ValidationFailed):
    """The texts in force would not cover every clause the policy requires; ``details['missing']`` lists them."""

    code = "agreement_clauses_missing"


class AgreementNotCurrent(AgreementError, Conflict):
    """Only the versions in force can be accepted; reload the page."""

    code = "agreement_not_current"


class AgreementVersionExists(AgreementError, Conflict):
    """This document already has a version with that number."""

    code = "agreement_version_exists"


class AgreementNotFound(AgreementError, NotFound):
    """No such agreement document or version."""

    code = "agreement_not_found"


class UnknownAgreementKind(AgreementError, ValidationFailed):
    """Agreements are ``service_agreement`` or ``platform_convention``."""

    code = "agreement_unknown_kind"
