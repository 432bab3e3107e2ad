"""Typed errors of the identity domain.

Each error has a stable ``code`` that routes and the CLI turn into responses in one place.
Many also derive from a core error (``ValidationFailed``, ``RateLimited`` …) so that a
generic handler gives them the right HTTP status without knowing the identity domain.

Rule for every message and every ``details`` value here: it never carries a plain identity
value (name, document number, phone number, one-time code, IP address). Messages and
details end up in logs, responses and audit events; at most a masked form may appear.
"""

from __future__ import annotations

from typing import Any

from livegate.core.errors import Conflict, LivegateError, NotFound, PermissionDenied, RateLimited, ValidationFailed


class IdentityError(LivegateError):
    """Something about identity verification went wrong."""

    code = "identity_error"


# --- documents -------------------------------------------------------------------------


class UnknownDocumentType(IdentityError, ValidationFailed):
    """This document type is not one livegate can check."""

    code = "identity_unknown_document_type"


class InvalidDocument(IdentityError, ValidationFailed):
    """The document number failed a check; ``details['rule']`` names which."""

    code = "identity_invalid_document"


# --- phone numbers ---------------------------------------------------------------------


class InvalidPhoneNumber(IdentityError, ValidationFailed):
    """The phone number is not a mainland China mobile number; ``details['reason']`` says why."""

    code = "identity_invalid_phone"


# --- one-time codes --------------------------------------------------------------------


class OtpError(IdentityError):
    """A one-time code could not be issued or accepted."""

    code = "otp_error"


class OtpNotRequested(OtpError, ValidationFailed):
    """No code was requested for this number and purpose, or it was replaced; request one first."""

    code = "otp_not_requested"


class OtpInvalid(OtpError, ValidationFailed):
    """The code is wrong."""

    code = "otp_invalid"

    def __init__(self, message: str | None = None, *, attempts_left: int, **details: Any) -> None:
        super().__init__(message, attempts_left=attempts_left, **details)
        self.attempts_left = attempts_left


class OtpExpired(OtpError, ValidationFailed):
    """The code has expired; request a new one."""

    code = "otp_expired"


class OtpTooManyAttempts(OtpError):
    """Too many wrong tries for this code; request a new one."""

    code = "otp_too_many_attempts"
    http_status = 429


class OtpAlreadyUsed(OtpError, Conflict):
    """This code has already been used; request a new one."""

    code = "otp_already_used"


class OtpCooldown(OtpError, RateLimited):
    """A code was sent moments ago; wait before asking for another."""

    code = "otp_cooldown"


class OtpRateLimited(OtpError, RateLimited):
    """Too many codes requested; ``details['scope']`` says whether per number or per address."""

    code = "otp_rate_limited"


# --- vault -----------------------------------------------------------------------------


class VaultError(IdentityError):
    """The identity vault could not seal or open a value."""

    code = "vault_error"
    http_status = 500


class VaultFormatError(VaultError):
    """A sealed value is malformed or of an unknown version."""

    code = "vault_format"


class VaultIntegrityError(VaultError):
    """A sealed value failed authentication: tampered, or opened for the wrong record or field."""

    code = "vault_integrity"


class VaultKeyNotFound(VaultError):
    """The master key this value was wrapped under is not available."""

    code = "vault_key_not_found"


class VaultKeyFileInsecure(VaultError):
    """The vault key file is readable by others or owned by someone else; fix its permissions."""

    code = "vault_key_file_insecure"


class VaultKeyFileInvalid(VaultError):
    """The vault key file cannot be read as a livegate key file."""

    code = "vault_key_file_invalid"


class VaultKeyInUse(VaultError, Conflict):
    """Values are still wrapped under this master key (or it is the current one); it cannot be retired."""

    code = "vault_key_in_use"
    http_status = 409


# --- SMS -------------------------------------------------------------------------------


class SmsError(IdentityError):
    """The SMS provider did not accept the message."""

    code = "sms_error"
    http_status = 502

    def __init__(
        self,
        message: str | None = None,
        *,
        provider: str,
        provider_code: str | None = None,
        request_id: str | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, provider=provider, provider_code=provider_code, request_id=request_id, **details)
        self.provider = provider
        self.provider_code = provider_code
        self.request_id = request_id


class SmsUnavailable(SmsError):
    """The SMS provider could not be reached or failed on its side; try again later."""

    code = "sms_unavailable"
    http_status = 503


class SmsMisconfigured(SmsError):
    """The SMS provider refused our credentials, signature, sign name or template; an operator must fix it."""

    code = "sms_misconfigured"


class SmsRecipientRejected(SmsError):
    """The SMS provider refused to send to this number."""

    code = "sms_recipient_rejected"
    http_status = 422


class SmsThrottled(SmsError):
    """The SMS provider's own flow control refused the message; try again later."""

    code = "sms_throttled"
    http_status = 429


class SmsRejected(SmsError):
    """The SMS provider refused the message for another reason; ``details['provider_code']`` says which."""

    code = "sms_rejected"


# --- verification, nicknames, disclosure ------------------------------------------------


class PublisherTooYoung(IdentityError, ValidationFailed):
    """The policy's minimum age for publishers is not met."""

    code = "identity_too_young"


class DuplicateIdentity(IdentityError, Conflict):
    """This identity is already verified for another publisher account."""

    code = "identity_duplicate"


class VerificationPending(IdentityError, Conflict):
    """A submission of this account is already awaiting review."""

    code = "identity_verification_pending"


class AlreadyVerified(IdentityError, Conflict):
    """This account already holds as many verified identities as the policy allows."""

    code = "identity_already_verified"


class VerificationNotFound(IdentityError, NotFound):
    """No such identity submission."""

    code = "identity_verification_not_found"


class VerificationDecided(IdentityError, Conflict):
    """This submission has already been decided."""

    code = "identity_verification_decided"


class GuardianConsentRequired(IdentityError, ValidationFailed):
    """The publisher is a minor: approval needs the guardian's consent to be confirmed."""

    code = "identity_guardian_consent_required"


class InvalidPhoto(IdentityError, ValidationFailed):
    """The upload is not an image of an accepted type."""

    code = "identity_invalid_photo"


class PhotoTooLarge(IdentityError):
    """The upload is larger than the limit."""

    code = "identity_photo_too_large"
    http_status = 413


class PhoneInUse(IdentityError, Conflict):
    """This mobile number is already verified for another account."""

    code = "identity_phone_in_use"


class PhoneNotVerified(IdentityError, PermissionDenied):
    """Verify a mobile phone number first."""

    code = "identity_phone_not_verified"


class NicknameRefused(IdentityError, ValidationFailed):
    """This nickname cannot be used; ``details['reason']`` says why."""

    code = "identity_nickname_refused"


class NicknameTaken(IdentityError, Conflict):
    """Another account uses this nickname."""

    code = "identity_nickname_taken"


class ReasonRequired(IdentityError, ValidationFailed):
    """Disclosing identity data needs a stated reason."""

    code = "identity_reason_required"


class SecondOfficerRequired(IdentityError, Conflict):
    """A lawful request must be approved by a different compliance officer than the one who recorded it."""

    code = "identity_second_officer_required"


class LawfulRequestState(IdentityError, Conflict):
    """The lawful request is not in a state that allows this."""

    code = "identity_lawful_request_state"
