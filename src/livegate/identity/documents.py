"""Exact checks of Chinese identity document and organisation numbers.

Art. 12 of the Measures asks the platform to verify publishers "based on their identity
documents, business licenses, organization codes". A full verification needs an authority
(the public-security identity check, the enterprise credit system); what we can do offline
is refuse numbers that cannot exist, early and with a reason a person can act on. Every
result names the rule that decided it (``DocumentCheck.rule``), so the console, the audit
log and a reviewer all say the same thing.

The checks are pure: no I/O, no clock read — ``today`` is a parameter, so a birth date "in
the future" means the same thing in a test as in production. Nothing here logs, and no
message or ``details`` value contains the number itself; ``DocumentCheck``'s ``repr`` hides
the normalised number and the personal details.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from livegate.identity.errors import InvalidDocument, UnknownDocumentType

__all__ = [
    "DOC_TYPES",
    "DocumentCheck",
    "age_on",
    "check_document",
    "gb11643_check_char",
    "gb11714_check_char",
    "gb32100_check_char",
]

# Longer input is rejected before any normalisation work; no document here is longer than 20.
_MAX_INPUT = 64

# --- GB 11643-1999: citizen identification number --------------------------------------

_GB11643_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_GB11643_CHECK: Final = "10X98765432"

# Province-level codes of GB/T 2260 (first two digits of a division code).
PROVINCES: Final[Mapping[str, str]] = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
    "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省",
    "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区", "46": "海南省",
    "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
    "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区", "65": "新疆维吾尔自治区",
    "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区", "83": "台湾地区",
}  # fmt: skip
_MAINLAND_PROVINCES: Final = frozenset(p for p in PROVINCES if p < "70")

# Residence permits for Hong Kong, Macao and Taiwan residents carry these division codes.
HMT_DIVISIONS: Final[Mapping[str, str]] = {"810000": "hong_kong", "820000": "macao", "830000": "taiwan"}

# Earliest birth year we accept; anything earlier is a typo, not a person.
_EARLIEST_BIRTH_YEAR: Final = 1890

# --- GB 32100-2015: unified social credit code -----------------------------------------

_GB32100_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_GB32100_VALUE: Final = {c: i for i, c in enumerate(_GB32100_ALPHABET)}
_GB32100_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# Registration-authority code (position 1) -> allowed organisation-type codes (position 2).
# GB 32100-2015 defined 1, 5, 9 and Y; the others were allotted to further authorities later.
USCC_AUTHORITIES: Final[Mapping[str, tuple[str, frozenset[str]]]] = {
    "1": ("机构编制", frozenset("1239")),
    "2": ("外交", frozenset("19")),
    "3": ("司法行政", frozenset("1234569")),
    "4": ("文化", frozenset("19")),
    "5": ("民政", frozenset("1239")),
    "6": ("旅游", frozenset("129")),
    "7": ("宗教", frozenset("129")),
    "8": ("工会", frozenset("19")),
    "9": ("市场监督管理(工商)", frozenset("123")),
    "A": ("中央军委改革和编制办公室", frozenset("19")),
    "N": ("农业农村", frozenset("1239")),
    "Y": ("其他", frozenset("1")),
}

# --- GB 11714-1997: organisation code --------------------------------------------------

_GB11714_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)


# --- public API ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DocumentCheck:
    """The outcome of one document-number check.

    ``rule`` names the rule that decided (``"ok"`` when every rule passed, else e.g.
    ``"gb11643.checksum"``); ``reason`` says it in words. ``normalized`` is the canonical
    form to store and is set only when ``valid``. ``details`` holds what the number encodes
    (birth date, sex, division …) and is personal data: it and ``normalized`` stay out of
    ``repr`` so that logging a check never logs identity data.
    """

    doc_type: str
    valid: bool
    rule: str
    reason: str
    normalized: str | None = field(default=None, repr=False)
    details: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def require_valid(self) -> DocumentCheck:
        """Return self when valid, else raise :class:`InvalidDocument` naming the rule."""
        if not self.valid:
            raise InvalidDocument(self.reason, doc_type=self.doc_type, rule=self.rule)
        return self


def age_on(birth_date: dt.date, today: dt.date) -> int:
    """Whole years of age on ``today``; someone born on 29 February turns a year older on 1 March."""
    years = today.year - birth_date.year
    if (today.month, today.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def check_document(doc_type: str, number: str, *, today: dt.date) -> DocumentCheck:
    """Check ``number`` as a document of ``doc_type`` (one of :data:`DOC_TYPES`).

    Never raises for any ``number``; an unknown ``doc_type`` raises
    :class:`UnknownDocumentType`, because that is a programming or client error rather
    than a bad number.
    """
    checker = _CHECKERS.get(doc_type) if isinstance(doc_type, str) else None
    if checker is None:
        raise UnknownDocumentType(
            "Unknown document type; expected one of: " + ", ".join(DOC_TYPES),
            allowed=list(DOC_TYPES),
        )
    if not isinstance(number, str):
        return _fail(doc_type, "format.type", "The document number must be text.")
    if len(number) > _MAX_INPUT:
        return _fail(doc_type, "format.length", "The document number is far too long.")
    return checker(_normalise(number), today)


def gb11643_check_char(body17: str) -> str:
    """The GB 11643-1999 (ISO 7064 MOD 11-2) check character for 17 digits."""
    total = sum(int(c) * w for c, w in zip(body17, _GB11643_WEIGHTS, strict=True))
    return _GB11643_CHECK[total % 11]


def gb32100_check_char(body17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a credit code."""
    total = sum(_GB32100_VALUE[c] * w for c, w in zip(body17, _GB32100_WEIGHTS, strict=True))
    return _GB32100_ALPHABET[(31 - total % 31) % 31]


def gb11714_check_char(body8: str) -> str:
    """The GB 11714-1997 check character for an 8-character organisation-code body."""
    total = sum(_alnum_value(c) * w for c, w in zip(body8, _GB11714_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


# --- helpers ---------------------------------------------------------------------------


def _normalise(number: str) -> str:
    """Fold full-width forms (common from Chinese input methods), drop spaces, upper-case."""
    folded = unicodedata.normalize("NFKC", number)
    return "".join(folded.split()).upper()


def _fail(doc_type: str, rule: str, reason: str, **details: Any) -> DocumentCheck:
    return DocumentCheck(doc_type=doc_type, valid=False, rule=rule, reason=reason, details=details)


def _ok(doc_type: str, normalized: str, reason: str, rule: str = "ok", **details: Any) -> DocumentCheck:
    return DocumentCheck(
        doc_type=doc_type, valid=True, rule=rule, reason=reason, normalized=normalized, details=details
    )


def _alnum_value(c: str) -> int:
    """0-9 for digits, 10-35 for A-Z (the GB 11714 character values)."""
    return int(c) if c.isdigit() else ord(c) - ord("A") + 10


_RE_GB11643: Final = re.compile(r"[0-9]{17}[0-9X]")


def _division_problem(division: str, provinces: Container[str]) -> str | None:
    """None if a 6-digit division code is plausible, else the reason it is not.

    We do not carry the full GB/T 2260 table (it changes yearly and old IDs keep abolished
    codes); we refuse what no edition ever had: an unknown province, or a county part under
    a "00" prefecture part (province-level codes are PP0000, prefectures PPCC00).
    """
    if division[:2] not in provinces:
        return "province"
    if division[2:4] == "00" and division[4:] != "00":
        return "county"
    return None


def _birth_date(doc_type: str, rule_prefix: str, digits8: str, today: dt.date) -> dt.date | DocumentCheck:
    try:
        born = dt.date(int(digits8[:4]), int(digits8[4:6]), int(digits8[6:8]))
    except ValueError:
        return _fail(doc_type, f"{rule_prefix}.birth_date", "The birth date (positions 7-14) is not a real date.")
    if born > today:
        return _fail(doc_type, f"{rule_prefix}.birth_date_future", "The birth date (positions 7-14) is in the future.")
    if born.year < _EARLIEST_BIRTH_YEAR:
        return _fail(
            doc_type,
            f"{rule_prefix}.birth_date_implausible",
            f"The birth date (positions 7-14) is before {_EARLIEST_BIRTH_YEAR}.",
        )
    return born


def _gb11643_shape(doc_type: str, s: str, rule_prefix: str) -> DocumentCheck | None:
    if len(s) != 18:
        return _fail(doc_type, f"{rule_prefix}.length", "The number must have exactly 18 characters.")
    if not _RE_GB11643.fullmatch(s):
        return _fail(
            doc_type,
            f"{rule_prefix}.charset",
            "The first 17 characters must be digits and the last a digit or X.",
        )
    if gb11643_check_char(s[:17]) != s[17]:
        return _fail(
            doc_type,
            f"{rule_prefix}.checksum",
            "The check character does not match (GB 11643-1999, ISO 7064 MOD 11-2); a character is probably mistyped.",
        )
    return None


def _personal_details(s: str, born: dt.date, today: dt.date) -> dict[str, Any]:
    return {
        "birth_date": born,
        "age": age_on(born, today),
        "sex": "male" if int(s[16]) % 2 else "female",
    }


# --- checkers --------------------------------------------------------------------------


def _check_resident_id(s: str, today: dt.date) -> DocumentCheck:
    doc = "resident_id"
    if (bad := _gb11643_shape(doc, s, "gb11643")) is not None:
        return bad
    division = s[:6]
    if division in HMT_DIVISIONS:
        return _fail(
            doc,
            "gb11643.division_hmt",
            "This is the number of a residence permit for Hong Kong, Macao or Taiwan residents; "
            "choose that document type.",
        )
    problem = _division_problem(division, PROVINCES)
    if problem == "province":
        return _fail(
            doc,
            "gb11643.division_province",
            "The first two digits are not a province-level administrative division code (GB/T 2260).",
        )
    if problem is not None:
        return _fail(
            doc,
            "gb11643.division_code",
            "The first six digits are not a plausible administrative division code.",
        )
    born = _birth_date(doc, "gb11643", s[6:14], today)
    if isinstance(born, DocumentCheck):
        return born
    return _ok(
        doc,
        s,
        "Valid resident identity card number (GB 11643-1999).",
        division=division,
        province=PROVINCES[division[:2]],
        **_personal_details(s, born, today),
    )


def _check_hmt_permit(s: str, today: dt.date) -> DocumentCheck:
    doc = "hmt_residence_permit"
    if (bad := _gb11643_shape(doc, s, "gb11643")) is not None:
        return bad
    division = s[:6]
    if division not in HMT_DIVISIONS:
        return _fail(
            doc,
            "hmt.division",
            "A residence permit for Hong Kong, Macao or Taiwan residents starts with 810000, 820000 or 830000.",
        )
    born = _birth_date(doc, "gb11643", s[6:14], today)
    if isinstance(born, DocumentCheck):
        return born
    return _ok(
        doc,
        s,
        "Valid residence permit number for Hong Kong, Macao or Taiwan residents (GB 11643-1999 structure).",
        division=division,
        region=HMT_DIVISIONS[division],
        **_personal_details(s, born, today),
    )


_RE_FPR_LEGACY: Final = re.compile(r"[A-Z]{3}[0-9]{12}")


def _check_foreign_permanent(s: str, today: dt.date) -> DocumentCheck:
    """2023 card: 9 + province of acceptance (2) + nationality (3) + birth date (8) + sequence (3) + check.

    The 2004 card's 15-character number (nationality letters + 12 digits) has no check
    algorithm we can rely on, so it is accepted on shape alone and the reason says so.
    """
    doc = "foreign_permanent_resident_id"
    if len(s) == 15:
        if not _RE_FPR_LEGACY.fullmatch(s):
            return _fail(
                doc,
                "fpr2004.charset",
                "A 15-character permanent residence ID number is 3 letters followed by 12 digits.",
            )
        return _ok(
            doc,
            s,
            "Shape of a 2004-format permanent residence ID number (3 letters + 12 digits) only; "
            "this format has no check character to verify.",
            rule="fpr2004.shape_only",
            nationality=s[:3],
            format="2004",
        )
    if (bad := _gb11643_shape(doc, s, "fpr2023")) is not None:
        if bad.rule == "fpr2023.length":
            return _fail(
                doc,
                "fpr2023.length",
                "A permanent residence ID number has 18 characters (2023 card) or 15 (2004 card).",
            )
        return bad
    if s[0] != "9":
        return _fail(doc, "fpr2023.prefix", "A 2023-format permanent residence ID number starts with 9.")
    if s[1:3] not in _MAINLAND_PROVINCES:
        return _fail(
            doc,
            "fpr2023.province",
            "Digits 2-3 are not the province-level code of a mainland place of acceptance.",
        )
    born = _birth_date(doc, "fpr2023", s[6:14], today)
    if isinstance(born, DocumentCheck):
        return born
    return _ok(
        doc,
        s,
        "Valid 2023-format foreigner's permanent residence ID number (GB 11643 check character).",
        format="2023",
        province=PROVINCES[s[1:3]],
        nationality_code=s[3:6],
        **_personal_details(s, born, today),
    )


_RE_GB32100: Final = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
_RE_ORG_BODY: Final = re.compile(r"[0-9A-Z]{8}")
# "10": 100000, central-level registration authorities.
_USCC_DIVISION_PREFIXES: Final = frozenset(PROVINCES) | {"10"}


def _check_uscc(s: str, today: dt.date) -> DocumentCheck:
    doc = "uscc"
    if len(s) != 18:
        return _fail(doc, "gb32100.length", "A unified social credit code has exactly 18 characters.")
    if not _RE_GB32100.fullmatch(s):
        return _fail(
            doc,
            "gb32100.charset",
            "A unified social credit code uses only digits and the letters A-H J-N P Q R T U W X Y (no I, O, S, V, Z).",
        )
    if gb32100_check_char(s[:17]) != s[17]:
        return _fail(
            doc,
            "gb32100.checksum",
            "The check character does not match (GB 32100-2015, MOD 31); a character is probably mistyped.",
        )
    authority = USCC_AUTHORITIES.get(s[0])
    if authority is None:
        return _fail(
            doc,
            "gb32100.authority",
            "Position 1 is not a known registration-authority code.",
        )
    if s[1] not in authority[1]:
        return _fail(
            doc,
            "gb32100.org_type",
            "Position 2 is not an organisation-type code this registration authority issues.",
        )
    division = s[2:8]
    if not division.isdigit() or _division_problem(division, _USCC_DIVISION_PREFIXES):
        return _fail(
            doc,
            "gb32100.division",
            "Positions 3-8 are not a plausible administrative division code of the registration authority.",
        )
    # Positions 9-17 are the entity identifier, assigned under GB 11714; for entities that
    # held an organisation code before 2015 it is that code. We report whether it carries a
    # valid GB 11714 check character but do not reject on it: the standard requires only
    # the GB 32100 check above to hold.
    org_code = s[8:17]
    org_ok = bool(_RE_ORG_BODY.fullmatch(org_code[:8])) and gb11714_check_char(org_code[:8]) == org_code[8]
    return _ok(
        doc,
        s,
        "Valid unified social credit code (GB 32100-2015).",
        authority=authority[0],
        org_type=s[1],
        division=division,
        org_code=f"{org_code[:8]}-{org_code[8]}",
        org_code_check_ok=org_ok,
    )


_RE_GB11714: Final = re.compile(r"([0-9A-Z]{8})-?([0-9X])")


def _check_org_code(s: str, today: dt.date) -> DocumentCheck:
    doc = "org_code"
    if len(s) not in (9, 10):
        return _fail(doc, "gb11714.length", "An organisation code has 8 characters and a check character (XXXXXXXX-X).")
    m = _RE_GB11714.fullmatch(s)
    if m is None:
        return _fail(
            doc,
            "gb11714.charset",
            "An organisation code is 8 digits or capital letters, an optional hyphen, and a digit or X.",
        )
    body, check = m.group(1), m.group(2)
    if gb11714_check_char(body) != check:
        return _fail(
            doc,
            "gb11714.checksum",
            "The check character does not match (GB 11714-1997); a character is probably mistyped.",
        )
    return _ok(doc, f"{body}-{check}", "Valid organisation code (GB 11714-1997).")


_CHECKERS: Final[Mapping[str, Callable[[str, dt.date], DocumentCheck]]] = {
    "resident_id": _check_resident_id,
    "hmt_residence_permit": _check_hmt_permit,
    "foreign_permanent_resident_id": _check_foreign_permanent,
    "uscc": _check_uscc,
    "org_code": _check_org_code,
}

DOC_TYPES: Final[tuple[str, ...]] = tuple(_CHECKERS)
