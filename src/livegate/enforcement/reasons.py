"""Reason codes: every sanction names the rule broken and the article behind it.

A reason code is stable (it is stored on sanctions, shown to the account, put in reports
to the competent department). Each has a default severity, which sets the credit deduction
and the entry rung of the sanctions ladder when the decision does not name one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from livegate.core.policy import SEVERITIES, Severity
from livegate.enforcement.errors import UnknownReasonCode

__all__ = ["REASONS", "ReasonCode", "reason"]


@dataclass(frozen=True)
class ReasonCode:
    code: str
    rule: str
    article: str
    title: str
    severity: Severity

    def label(self) -> str:
        return f"{self.title} [rule {self.rule}, {self.article}]"


_ALL: Final = (
    ReasonCode("prohibited.national_security", "content.endangers_security", "Art. 9",
               "content endangering national security", "critical"),
    ReasonCode("prohibited.social_order", "content.disturbs_order", "Art. 9",
               "content undermining social stability or order", "serious"),
    ReasonCode("prohibited.pornography", "content.obscene", "Art. 9",
               "pornographic or obscene content", "serious"),
    ReasonCode("prohibited.infringement", "content.infringes_rights", "Art. 9",
               "content infringing others' lawful rights", "moderate"),
    ReasonCode("prohibited.other", "content.prohibited_by_law", "Art. 9",
               "content prohibited by laws and regulations", "serious"),
    ReasonCode("content_violation", "content.violation", "Art. 9",
               "content violating laws, regulations or the service agreement", "moderate"),
    ReasonCode("news.unlicensed", "news.no_credential", "Art. 5",
               "news information service without the credential", "serious"),
    ReasonCode("news.distorted", "news.not_truthful", "Art. 10",
               "untruthful, distorted or unsourced news", "moderate"),
    ReasonCode("interaction.uncivil", "interaction.uncivil", "Art. 11",
               "uncivil or irrational comments and danmaku", "minor"),
    ReasonCode("livestream.disorder", "livestream.order", "Art. 11",
               "failing to keep the order of the livestream", "minor"),
    ReasonCode("agreement.breach", "agreement.breach", "Art. 13",
               "breach of the service agreement or platform convention", "moderate"),
    ReasonCode("identity.false", "identity.false", "Art. 12",
               "false identity information", "serious"),
    ReasonCode("blacklist.listed", "blacklist.listed", "Art. 15",
               "the identity behind the account is on the blacklist", "critical"),
)
REASONS: Final[dict[str, ReasonCode]] = {r.code: r for r in _ALL}
assert all(r.severity in SEVERITIES for r in _ALL)


def reason(code: str) -> ReasonCode:
    try:
        return REASONS[code]
    except KeyError:
        raise UnknownReasonCode(f"unknown reason code {code!r}", known=sorted(REASONS)) from None
