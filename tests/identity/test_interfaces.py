"""Every implementation against its interface, and the error codes' stability."""

from __future__ import annotations

import inspect

import pytest

from livegate.core.errors import LivegateError, RateLimited, ValidationFailed
from livegate.identity import errors
from livegate.identity.otp import InMemoryOtpStore, OtpStore
from livegate.identity.sms import AliyunSmsProvider, ConsoleSmsProvider, SmsProvider
from livegate.identity.vault import FileKeyProvider, KeyProvider, StaticKeyProvider


def _protocol_methods(protocol: type) -> list[str]:
    return [name for name, value in vars(protocol).items() if not name.startswith("_") and inspect.isfunction(value)]


@pytest.mark.parametrize(
    ("protocol", "implementation"),
    [
        (OtpStore, InMemoryOtpStore),
        (SmsProvider, ConsoleSmsProvider),
        (SmsProvider, AliyunSmsProvider),
        (KeyProvider, StaticKeyProvider),
        (KeyProvider, FileKeyProvider),
    ],
)
def test_implementation_matches_protocol(protocol: type, implementation: type) -> None:
    methods = _protocol_methods(protocol)
    assert methods
    for name in methods:
        expected = getattr(protocol, name)
        actual = getattr(implementation, name)
        assert inspect.iscoroutinefunction(expected) == inspect.iscoroutinefunction(actual), name
        assert list(inspect.signature(expected).parameters) == list(inspect.signature(actual).parameters), name


def _error_classes() -> list[type[LivegateError]]:
    return [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, LivegateError) and value.__module__ == errors.__name__
    ]


def test_error_codes_are_unique_and_stable() -> None:
    classes = _error_classes()
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes))
    assert all(issubclass(cls, errors.IdentityError) for cls in classes)
    # Published codes; changing one breaks clients.
    assert {
        errors.UnknownDocumentType: "identity_unknown_document_type",
        errors.InvalidPhoneNumber: "identity_invalid_phone",
        errors.OtpExpired: "otp_expired",
        errors.OtpInvalid: "otp_invalid",
        errors.OtpTooManyAttempts: "otp_too_many_attempts",
        errors.OtpCooldown: "otp_cooldown",
        errors.OtpRateLimited: "otp_rate_limited",
        errors.OtpAlreadyUsed: "otp_already_used",
        errors.VaultIntegrityError: "vault_integrity",
    } == {
        cls: cls.code
        for cls in (
            errors.UnknownDocumentType,
            errors.InvalidPhoneNumber,
            errors.OtpExpired,
            errors.OtpInvalid,
            errors.OtpTooManyAttempts,
            errors.OtpCooldown,
            errors.OtpRateLimited,
            errors.OtpAlreadyUsed,
            errors.VaultIntegrityError,
        )
    }


def test_errors_carry_the_right_http_status() -> None:
    assert errors.OtpCooldown(retry_after=3).http_status == 429
    assert errors.OtpCooldown(retry_after=3).to_dict()["details"]["retry_after"] == 3
    assert isinstance(errors.OtpRateLimited(retry_after=1, scope="ip"), RateLimited)
    assert isinstance(errors.InvalidPhoneNumber(reason="x"), ValidationFailed)
    assert errors.OtpTooManyAttempts().http_status == 429
    assert errors.OtpAlreadyUsed().http_status == 409
    assert errors.SmsUnavailable(provider="p").http_status == 503
    assert errors.VaultIntegrityError().http_status == 500
