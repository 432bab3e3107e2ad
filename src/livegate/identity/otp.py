"""One-time codes sent by SMS to verify a mobile number.

Art. 12 verifies audience members by their mobile number; a six-digit code sent to it is
the proof. The service owns the rules that make such a code safe, all in one place:

* 6 digits (the policy's ``otp.code_length``, 4 to 10) from :mod:`secrets`, valid for 5
  minutes, at most 5 tries, usable once;
* a 60 s cooldown before the next code to the same number and purpose;
* rate limits per number and per client address (rules of the core
  :class:`~livegate.core.ratelimit.RateLimiter`, counted in memory or in Redis), so nobody
  can use us to flood a phone or spend our SMS budget;
* codes are stored only as keyed hashes (HMAC-SHA256, bound to the challenge id), and
  numbers and addresses only as keyed hashes too — the store never holds an identity value
  or a code in plain text, so a database dump reveals neither;
* comparison in constant time.

Time comes from a :class:`~livegate.core.clock.Clock` (wall time, since several nodes share
one store). Challenges live behind the small :class:`OtpStore` protocol:
:class:`InMemoryOtpStore` here, a database implementation elsewhere. The two store
operations that race — counting a try and using a code — are single compare-and-set
operations of the store, so two nodes can never both accept one code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Final, Protocol

from livegate.core.clock import Clock
from livegate.core.ratelimit import MemoryCounter, RateLimiter, RateRule
from livegate.identity.errors import (
    OtpAlreadyUsed,
    OtpCooldown,
    OtpExpired,
    OtpInvalid,
    OtpNotRequested,
    OtpRateLimited,
    OtpTooManyAttempts,
    SmsError,
)
from livegate.identity.phone import mask_mobile, normalize_mobile
from livegate.identity.sms import SmsProvider, SmsReceipt

__all__ = [
    "CODE_DIGITS",
    "InMemoryOtpStore",
    "OtpChallenge",
    "OtpPolicy",
    "OtpRequested",
    "OtpService",
    "OtpStore",
    "OtpVerified",
]

CODE_DIGITS: Final = 6
_PURPOSE: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
_MAX_CODE_INPUT: Final = 32
_MIN_SECRET: Final = 32


@dataclass(frozen=True, slots=True)
class OtpPolicy:
    """The numbers of the rules; defaults follow common practice for SMS login codes in China.

    ``per_phone`` and ``per_ip`` are token-bucket rules (``RateRule.per_window(name, N, s)``
    is "N per s seconds"); a request must pass every rule of both.
    """

    code_ttl_s: float = 300.0
    max_attempts: int = 5
    resend_cooldown_s: float = 60.0
    code_digits: int = CODE_DIGITS
    per_phone: tuple[RateRule, ...] = (
        RateRule.per_window("otp_send_phone_hour", 5, 3600.0),
        RateRule.per_window("otp_send_phone_day", 10, 86400.0),
    )
    per_ip: tuple[RateRule, ...] = (
        RateRule.per_window("otp_send_ip_hour", 20, 3600.0),
        RateRule.per_window("otp_send_ip_day", 100, 86400.0),
    )

    def __post_init__(self) -> None:
        if not 4 <= self.code_digits <= 10:
            raise ValueError(f"OtpPolicy.code_digits must be 4..10, not {self.code_digits}")


@dataclass(frozen=True, slots=True)
class OtpChallenge:
    """One issued code as the store keeps it: hashes and times only."""

    challenge_id: str
    subject: str  # keyed hash of (purpose, phone number)
    code_hash: str  # keyed hash of (challenge id, code)
    issued_at: dt.datetime
    expires_at: dt.datetime
    attempts: int = 0
    used_at: dt.datetime | None = None


class OtpStore(Protocol):
    """Where challenges live, one current challenge per subject. Implementations must make
    :meth:`add_attempt` and :meth:`mark_used` atomic (one conditional UPDATE in SQL)."""

    async def get_challenge(self, subject: str) -> OtpChallenge | None:
        """The current challenge for ``subject``, used or not, or None."""
        ...

    async def put_challenge(self, challenge: OtpChallenge) -> None:
        """Store ``challenge`` as the current one for its subject, replacing any earlier one."""
        ...

    async def delete_challenge(self, challenge_id: str) -> None:
        """Forget a challenge (its code could not be delivered)."""
        ...

    async def add_attempt(self, challenge_id: str) -> int | None:
        """Count one try atomically; the new count, or None if the challenge is gone."""
        ...

    async def mark_used(self, challenge_id: str, at: dt.datetime) -> bool:
        """Mark used if not yet used, atomically; False if it was already used or is gone."""
        ...


class InMemoryOtpStore:
    """A single-process store for development and tests.

    No method awaits between reading and writing, so on one event loop each is atomic.
    Challenges that expired more than ``forget_after_s`` before a new one is stored are
    swept, so memory follows recent activity only.
    """

    def __init__(self, *, forget_after_s: float = 86400.0, sweep_every: int = 1024) -> None:
        self._by_subject: dict[str, OtpChallenge] = {}
        self._forget_after = dt.timedelta(seconds=forget_after_s)
        self._sweep_every = sweep_every
        self._puts = 0

    def __len__(self) -> int:
        return len(self._by_subject)

    async def get_challenge(self, subject: str) -> OtpChallenge | None:
        return self._by_subject.get(subject)

    async def put_challenge(self, challenge: OtpChallenge) -> None:
        self._puts += 1
        if self._puts % self._sweep_every == 0:
            cutoff = challenge.issued_at - self._forget_after
            for subject in [k for k, c in self._by_subject.items() if c.expires_at < cutoff]:
                del self._by_subject[subject]
        self._by_subject[challenge.subject] = challenge

    async def delete_challenge(self, challenge_id: str) -> None:
        for subject, challenge in list(self._by_subject.items()):
            if challenge.challenge_id == challenge_id:
                del self._by_subject[subject]

    def _find(self, challenge_id: str) -> OtpChallenge | None:
        for challenge in self._by_subject.values():
            if challenge.challenge_id == challenge_id:
                return challenge
        return None

    async def add_attempt(self, challenge_id: str) -> int | None:
        challenge = self._find(challenge_id)
        if challenge is None:
            return None
        updated = replace(challenge, attempts=challenge.attempts + 1)
        self._by_subject[challenge.subject] = updated
        return updated.attempts

    async def mark_used(self, challenge_id: str, at: dt.datetime) -> bool:
        challenge = self._find(challenge_id)
        if challenge is None or challenge.used_at is not None:
            return False
        self._by_subject[challenge.subject] = replace(challenge, used_at=at)
        return True


@dataclass(frozen=True, slots=True)
class OtpRequested:
    """A code was issued and handed to the SMS provider."""

    challenge_id: str
    masked_phone: str
    expires_at: dt.datetime
    resend_after: dt.datetime
    receipt: SmsReceipt


@dataclass(frozen=True, slots=True)
class OtpVerified:
    """The holder of ``phone_e164`` proved it at ``verified_at``."""

    phone_e164: str = field(repr=False)
    purpose: str
    challenge_id: str
    verified_at: dt.datetime

    @property
    def masked_phone(self) -> str:
        return mask_mobile(self.phone_e164)


class OtpService:
    """Issues and verifies SMS one-time codes under an :class:`OtpPolicy`.

    ``secret`` (at least 32 random bytes, from configuration) keys every hash; rotating it
    invalidates outstanding codes and resets rate-limit history, nothing else. ``limiter``
    counts sends; pass the platform's shared one (Redis-backed at scale), or get a
    process-local one. Its keys are keyed hashes too, so Redis never sees a number or address.
    """

    def __init__(
        self,
        store: OtpStore,
        sms: SmsProvider,
        *,
        secret: bytes,
        clock: Clock,
        policy: OtpPolicy | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        if len(secret) < _MIN_SECRET:
            raise ValueError(f"the OTP secret must be at least {_MIN_SECRET} bytes")
        self._store = store
        self._sms = sms
        self._clock = clock
        self.policy = policy or OtpPolicy()
        self._limiter = limiter or RateLimiter(MemoryCounter(), clock)
        self._code_key = hmac.digest(secret, b"livegate/otp/code-hash/v1", "sha256")
        self._subject_key = hmac.digest(secret, b"livegate/otp/subject/v1", "sha256")

    # --- hashing -------------------------------------------------------------------------

    def _subject(self, kind: str, *parts: str) -> str:
        message = "\x00".join((kind, *parts)).encode()
        return hmac.new(self._subject_key, message, hashlib.sha256).hexdigest()

    def _code_hash(self, challenge_id: str, code: str) -> str:
        message = f"{challenge_id}\x00{code}".encode()
        return hmac.new(self._code_key, message, hashlib.sha256).hexdigest()

    # --- issuing -------------------------------------------------------------------------

    async def request_code(self, phone: str, *, purpose: str, ip: str | None) -> OtpRequested:
        """Issue a new code for ``purpose`` and send it to ``phone``; replaces any earlier code.

        Raises :class:`OtpCooldown` or :class:`OtpRateLimited` (both with ``retry_after``),
        :class:`~livegate.identity.errors.InvalidPhoneNumber`, the provider's
        :class:`~livegate.identity.errors.SmsError`, or — failing closed when the counters
        are unreachable — :class:`~livegate.core.ratelimit.RateLimiterUnavailable`.
        """
        _check_purpose(purpose)
        phone_e164 = normalize_mobile(phone)
        now = self._clock.now()
        subject = self._subject("challenge", purpose, phone_e164)

        current = await self._store.get_challenge(subject)
        if current is not None:
            ready_at = current.issued_at + dt.timedelta(seconds=self.policy.resend_cooldown_s)
            if now < ready_at:
                raise OtpCooldown(
                    "A code was sent moments ago; wait before asking for another.",
                    retry_after=(ready_at - now).total_seconds(),
                )

        # A send that a rule allows counts against it even if a later rule refuses or the
        # delivery fails: the limits protect the SMS provider and budget too.
        await self._enforce("phone", self._subject("phone", phone_e164), self.policy.per_phone)
        if ip:
            await self._enforce("ip", self._subject("ip", ip), self.policy.per_ip)

        challenge_id = secrets.token_urlsafe(16)
        digits = self.policy.code_digits
        code = f"{secrets.randbelow(10**digits):0{digits}d}"
        challenge = OtpChallenge(
            challenge_id=challenge_id,
            subject=subject,
            code_hash=self._code_hash(challenge_id, code),
            issued_at=now,
            expires_at=now + dt.timedelta(seconds=self.policy.code_ttl_s),
        )
        await self._store.put_challenge(challenge)
        try:
            receipt = await self._sms.send_code(phone_e164, code, template=purpose)
        except SmsError:
            # No code reached the person; do not make them wait out a cooldown for it.
            await self._store.delete_challenge(challenge_id)
            raise
        return OtpRequested(
            challenge_id=challenge_id,
            masked_phone=mask_mobile(phone_e164),
            expires_at=challenge.expires_at,
            resend_after=now + dt.timedelta(seconds=self.policy.resend_cooldown_s),
            receipt=receipt,
        )

    async def _enforce(self, scope: str, subject: str, rules: tuple[RateRule, ...]) -> None:
        for rule in rules:
            decision = await self._limiter.hit(rule, subject)
            if not decision.allowed:
                raise OtpRateLimited(
                    "Too many codes were requested; try again later.",
                    retry_after=decision.retry_after,
                    scope=scope,
                    rule=rule.name,
                )

    # --- verifying -----------------------------------------------------------------------

    async def verify_code(self, phone: str, code: str, *, purpose: str) -> OtpVerified:
        """Accept ``code`` for ``phone`` and ``purpose`` once, or raise the reason it is refused.

        Raises :class:`OtpNotRequested`, :class:`OtpAlreadyUsed`, :class:`OtpExpired`,
        :class:`OtpTooManyAttempts` or :class:`OtpInvalid` (with ``attempts_left``).
        """
        _check_purpose(purpose)
        phone_e164 = normalize_mobile(phone)
        now = self._clock.now()
        challenge = await self._store.get_challenge(self._subject("challenge", purpose, phone_e164))
        if challenge is None:
            raise OtpNotRequested()
        if challenge.used_at is not None:
            raise OtpAlreadyUsed()
        if now >= challenge.expires_at:
            raise OtpExpired()
        if challenge.attempts >= self.policy.max_attempts:
            raise OtpTooManyAttempts()

        attempts = await self._store.add_attempt(challenge.challenge_id)
        if attempts is None:  # replaced by a newer code meanwhile
            raise OtpNotRequested()
        if attempts > self.policy.max_attempts:
            raise OtpTooManyAttempts()

        given = _clean_code(code)
        expected = challenge.code_hash
        actual = self._code_hash(challenge.challenge_id, given)
        if not hmac.compare_digest(actual, expected):
            left = self.policy.max_attempts - attempts
            if left <= 0:
                raise OtpTooManyAttempts()
            raise OtpInvalid(attempts_left=left)

        if not await self._store.mark_used(challenge.challenge_id, now):
            raise OtpAlreadyUsed()
        return OtpVerified(phone_e164=phone_e164, purpose=purpose, challenge_id=challenge.challenge_id, verified_at=now)


def _check_purpose(purpose: str) -> None:
    if not _PURPOSE.fullmatch(purpose):
        raise ValueError("purpose must be a short lower-case identifier such as 'login'")


def _clean_code(code: str) -> str:
    """Full-width digits folded, spaces dropped; overlong input is left to fail the comparison."""
    if not isinstance(code, str) or len(code) > _MAX_CODE_INPUT:
        return ""
    return "".join(unicodedata.normalize("NFKC", code).split())
