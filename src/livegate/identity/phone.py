"""Mainland China mobile numbers: parse, normalise to E.164, mask.

Art. 12 verifies audience members "based on their mobile phone number", and only a
mainland mobile number is tied to a real-name SIM registration; a landline or a foreign
number does not carry that assurance, so both are refused with a reason that says which.

People type numbers in every shape (``+86 138-1234-5678``, ``0086…``, ``86…``, full-width
digits from a Chinese input method); we accept those and store one form, E.164, so a blind
index over it finds the same person however they typed it. Validation itself is the
``phonenumbers`` library's (Google's libphonenumber metadata), which follows number-range
changes we would otherwise have to track by hand.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

import phonenumbers
from phonenumbers import PhoneNumberType

from livegate.identity.errors import InvalidPhoneNumber

__all__ = ["MobileNumber", "mask_mobile", "normalize_mobile", "parse_mobile"]

_MAX_INPUT: Final = 40
_SEPARATORS: Final = re.compile(r"[\s\-().]")
_MOBILE_TYPES: Final = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_CN_E164: Final = re.compile(r"\+861[0-9]{10}")


@dataclass(frozen=True, slots=True)
class MobileNumber:
    """A verified mainland mobile number; its ``repr`` and ``str`` show only the masked form."""

    e164: str

    @property
    def masked(self) -> str:
        return mask_mobile(self.e164)

    @property
    def national(self) -> str:
        """The 11-digit national number, the form Chinese SMS gateways expect."""
        return self.e164[3:]

    def __repr__(self) -> str:
        return f"MobileNumber({self.masked!r})"

    def __str__(self) -> str:
        return self.masked


def parse_mobile(raw: str) -> MobileNumber:
    """Parse what a person typed into a :class:`MobileNumber`, or raise :class:`InvalidPhoneNumber`."""
    return MobileNumber(normalize_mobile(raw))


def normalize_mobile(raw: str) -> str:
    """Return the E.164 form (``+8613812345678``) of a mainland mobile number.

    Raises :class:`InvalidPhoneNumber` with ``details['reason']`` one of ``empty``,
    ``too_long``, ``unparseable``, ``not_cn``, ``invalid``, ``not_mobile``.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhoneNumber("Enter a mobile phone number.", reason="empty")
    if len(raw) > _MAX_INPUT:
        raise InvalidPhoneNumber("The phone number is far too long.", reason="too_long")
    compact = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    elif compact.isascii() and compact.isdigit() and len(compact) == 13 and compact.startswith("861"):
        # "86" + an 11-digit mobile: the country code typed without "+".
        compact = "+" + compact
    try:
        number = phonenumbers.parse(compact, "CN")
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber("This is not a phone number.", reason="unparseable") from None
    if number.country_code != 86:
        raise InvalidPhoneNumber("Only mainland China mobile numbers (+86) can be verified.", reason="not_cn")
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber("This is not a valid mainland China phone number.", reason="invalid")
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise InvalidPhoneNumber("This is a landline or service number; enter a mobile number.", reason="not_mobile")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not _CN_E164.fullmatch(e164):  # belt and braces: we rely on the 11-digit shape downstream
        raise InvalidPhoneNumber("This is not a valid mainland China mobile number.", reason="not_mobile")
    return e164


def mask_mobile(e164: str) -> str:
    """``+8613812345678`` -> ``+86 138****5678``: enough for a person to recognise their own number.

    Anything that is not a mainland E.164 mobile is masked entirely except its last two
    characters, so a wrong call never reveals a number.
    """
    if _CN_E164.fullmatch(e164):
        national = e164[3:]
        return f"+86 {national[:3]}****{national[7:]}"
    return "*" * max(len(e164) - 2, 0) + e164[-2:] if len(e164) > 4 else "*" * len(e164)
