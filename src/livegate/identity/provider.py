"""External identity checks (the public-security identity service, the enterprise credit
system, a commercial KYC vendor) plug in behind one small protocol.

The null implementation checks nothing and says so (``not_checked``); staff then decide on
the document and photos alone. A provider that answers ``mismatch`` sends the submission to
manual review with its reason; ``unavailable`` does too, so an outage never approves anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

__all__ = ["ExternalCheck", "IdentityCheckProvider", "NullIdentityCheck"]

ExternalStatus = Literal["match", "mismatch", "unavailable", "not_checked"]


@dataclass(frozen=True, slots=True)
class ExternalCheck:
    status: ExternalStatus
    reason: str = ""
    reference: str = ""  # the provider's request id; never identity data


@runtime_checkable
class IdentityCheckProvider(Protocol):
    name: str

    def check(self, *, doc_type: str, number: str, real_name: str) -> ExternalCheck:
        """Does ``real_name`` hold document ``number``? Never raise for a provider failure: answer ``unavailable``."""
        ...


class NullIdentityCheck:
    """The default: no external source is consulted."""

    name = "none"

    def check(self, *, doc_type: str, number: str, real_name: str) -> ExternalCheck:
        return ExternalCheck("not_checked", "no external identity check is configured")
