"""Mainland mobile numbers: the shapes people type, and every reason for refusal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livegate.core.errors import ValidationFailed
from livegate.identity.errors import InvalidPhoneNumber
from livegate.identity.phone import MobileNumber, mask_mobile, normalize_mobile, parse_mobile


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "+8613812345678",
        "008613812345678",
        "8613812345678",
        "+86 138 1234 5678",
        "138-1234-5678",
        "+86-138-1234-5678",
        "(+86) 138 1234 5678",
        "０086 １３８１２３４５６７８",  # full-width, from a Chinese input method
        " 13812345678\n",
    ],
)
def test_accepted_shapes_normalise_to_e164(raw: str) -> None:
    assert normalize_mobile(raw) == "+8613812345678"


@pytest.mark.parametrize("raw", ["19912345678", "17012345678", "16512345678", "14512345678"])
def test_other_mobile_ranges(raw: str) -> None:
    assert normalize_mobile(raw) == "+86" + raw


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("1" * 41, "too_long"),
        ("hello", "unparseable"),
        ("+85291234567", "not_cn"),
        ("0085291234567", "not_cn"),
        ("+16502530000", "not_cn"),
        ("12345678901", "invalid"),
        ("1381234567", "invalid"),
        ("+8614012345678", "invalid"),
        ("01065529988", "not_mobile"),
        ("+86 10 6552 9988", "not_mobile"),
    ],
)
def test_refusals_name_the_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as info:
        normalize_mobile(raw)
    assert info.value.details["reason"] == reason
    assert isinstance(info.value, ValidationFailed)
    assert info.value.code == "identity_invalid_phone"
    digits = "".join(c for c in raw if c.isdigit())
    if len(digits) >= 7:
        assert digits not in info.value.message
        assert digits not in str(info.value.to_dict())


def test_mask() -> None:
    assert mask_mobile("+8613812345678") == "+86 138****5678"
    assert mask_mobile("+85291234567") == "*" * 10 + "67"
    assert mask_mobile("123") == "***"


def test_mobile_number_never_shows_itself() -> None:
    number = parse_mobile("13812345678")
    assert number == MobileNumber("+8613812345678")
    assert number.national == "13812345678"
    assert "12345678" not in repr(number) and "12345678" not in str(number)
    assert str(number) == "+86 138****5678"


@given(st.text(max_size=50))
def test_arbitrary_text_raises_only_the_typed_error(text: str) -> None:
    try:
        result = normalize_mobile(text)
    except InvalidPhoneNumber:
        return
    assert result.startswith("+861") and len(result) == 14


@given(st.sampled_from(["13", "15", "17", "18", "19"]), st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_normalisation_is_idempotent(prefix: str, rest: str) -> None:
    try:
        e164 = normalize_mobile(prefix + rest)
    except InvalidPhoneNumber:
        return
    assert normalize_mobile(e164) == e164
