"""One-time codes: every rule, with a manual clock and the console SMS outbox."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import pytest

from livegate.core.clock import ManualClock
from livegate.core.errors import RateLimited
from livegate.core.ratelimit import MemoryCounter, RateLimiter, RateRule
from livegate.identity.errors import (
    InvalidPhoneNumber,
    OtpAlreadyUsed,
    OtpCooldown,
    OtpExpired,
    OtpInvalid,
    OtpNotRequested,
    OtpRateLimited,
    OtpTooManyAttempts,
    SmsError,
    SmsUnavailable,
)
from livegate.identity.otp import InMemoryOtpStore, OtpPolicy, OtpService
from livegate.identity.sms import ConsoleSmsProvider, SmsReceipt

PHONE = "+8613812345678"
OTHER = "+8613912345678"
SECRET = b"s" * 32


@dataclasses.dataclass
class Harness:
    clock: ManualClock
    store: InMemoryOtpStore
    sms: ConsoleSmsProvider
    service: OtpService

    def code(self, phone: str = PHONE) -> str:
        code = self.sms.outbox.last_code(phone)
        assert code is not None
        return code

    def wrong(self, phone: str = PHONE) -> str:
        return f"{(int(self.code(phone)) + 1) % 1_000_000:06d}"


def make(policy: OtpPolicy | None = None, sms: object | None = None) -> Harness:
    clock = ManualClock()
    store = InMemoryOtpStore()
    console = ConsoleSmsProvider()
    service = OtpService(store, sms or console, secret=SECRET, clock=clock, policy=policy)  # type: ignore[arg-type]
    return Harness(clock, store, console, service)


@pytest.fixture
def h() -> Harness:
    return make()


async def test_request_and_verify(h: Harness) -> None:
    requested = await h.service.request_code("138 1234 5678", purpose="login", ip="203.0.113.9")
    assert requested.masked_phone == "+86 138****5678"
    assert requested.expires_at == h.clock.now() + dt.timedelta(minutes=5)
    code = h.code()
    assert len(code) == 6 and code.isdigit()
    verified = await h.service.verify_code("+86 138-1234-5678", code, purpose="login")
    assert verified.phone_e164 == PHONE
    assert verified.masked_phone == "+86 138****5678"
    assert "12345678" not in repr(verified)


async def test_code_is_stored_only_as_a_keyed_hash(h: Harness) -> None:
    await h.service.request_code(PHONE, purpose="login", ip=None)
    code = h.code()
    (challenge,) = h.store._by_subject.values()
    stored = repr(challenge) + "".join(str(v) for v in dataclasses.astuple(challenge))
    assert code not in stored
    assert "13812345678" not in stored and "13812345678" not in "".join(h.store._by_subject)
    # Same code, another service secret: a different hash.
    other = OtpService(InMemoryOtpStore(), h.sms, secret=b"t" * 32, clock=h.clock)
    assert other._code_hash(challenge.challenge_id, code) != challenge.code_hash
    assert h.service._code_hash(challenge.challenge_id, code) == challenge.code_hash


async def test_code_used_once(h: Harness) -> None:
    await h.service.request_code(PHONE, purpose="login", ip=None)
    await h.service.verify_code(PHONE, h.code(), purpose="login")
    with pytest.raises(OtpAlreadyUsed):
        await h.service.verify_code(PHONE, h.code(), purpose="login")


async def test_expiry(h: Harness) -> None:
    await h.service.request_code(PHONE, purpose="login", ip=None)
    h.clock.advance(299)
    code = h.code()
    await h.service.verify_code(PHONE, code, purpose="login")
    h.clock.advance(60)
    await h.service.request_code(PHONE, purpose="login", ip=None)
    h.clock.advance(300)
    with pytest.raises(OtpExpired):
        await h.service.verify_code(PHONE, h.code(), purpose="login")


async def test_five_tries_then_the_code_is_dead(h: Harness) -> None:
    await h.service.request_code(PHONE, purpose="login", ip=None)
    for left in (4, 3, 2, 1):
        with pytest.raises(OtpInvalid) as info:
            await h.service.verify_code(PHONE, h.wrong(), purpose="login")
        assert info.value.attempts_left == left
        assert info.value.details["attempts_left"] == left
    with pytest.raises(OtpTooManyAttempts):
        await h.service.verify_code(PHONE, h.wrong(), purpose="login")
    with pytest.raises(OtpTooManyAttempts):  # even the right code, now
        await h.service.verify_code(PHONE, h.code(), purpose="login")


async def test_fifth_try_may_be_right(h: Harness) -> None:
    await h.service.request_code(PHONE, purpose="login", ip=None)
    for _ in range(4):
        with pytest.raises(OtpInvalid):
            await h.service.verify_code(PHONE, h.wrong(), purpose="login")
    await h.service.verify_code(PHONE, h.code(), purpose="login")


@pytest.mark.parametrize("garbage", ["", "abc", "1234567", "12345", "x" * 1000, "١٢٣٤٥٦"])
async def test_malformed_codes_count_as_wrong_tries(h: Harness, garbage: str) -> None:
    await h.service.request_code(PHONE, purpose="login", ip=None)
    with pytest.raises(OtpInvalid) as info:
        await h.service.verify_code(PHONE, garbage, purpose="login")
    assert info.value.attempts_left == 4


async def test_full_width_and_spaced_code_is_accepted(h: Harness) -> None:
    await h.service.request_code(PHONE, purpose="login", ip=None)
    code = h.code()
    typed = " ".join(chr(ord(c) + 0xFEE0) for c in code)
    await h.service.verify_code(PHONE, typed, purpose="login")


async def test_cooldown(h: Harness) -> None:
    await h.service.request_code(PHONE, purpose="login", ip=None)
    h.clock.advance(45)
    with pytest.raises(OtpCooldown) as info:
        await h.service.request_code(PHONE, purpose="login", ip=None)
    assert info.value.retry_after == pytest.approx(15)
    assert isinstance(info.value, RateLimited) and info.value.http_status == 429
    # Another purpose or another number is not held back.
    await h.service.request_code(PHONE, purpose="bind_phone", ip=None)
    await h.service.request_code(OTHER, purpose="login", ip=None)
    h.clock.advance(15)
    await h.service.request_code(PHONE, purpose="login", ip=None)


async def test_new_code_replaces_the_old_one(h: Harness) -> None:
    await h.service.request_code(PHONE, purpose="login", ip=None)
    first = h.code()
    h.clock.advance(60)
    await h.service.request_code(PHONE, purpose="login", ip=None)
    second = h.code()
    if first != second:
        with pytest.raises(OtpInvalid):
            await h.service.verify_code(PHONE, first, purpose="login")
    await h.service.verify_code(PHONE, second, purpose="login")


async def test_codes_are_per_purpose(h: Harness) -> None:
    await h.service.request_code(PHONE, purpose="login", ip=None)
    with pytest.raises(OtpNotRequested):
        await h.service.verify_code(PHONE, h.code(), purpose="bind_phone")
    with pytest.raises(OtpNotRequested):
        await h.service.verify_code(OTHER, h.code(), purpose="login")


async def test_rate_limit_per_number() -> None:
    h = make(OtpPolicy(per_phone=(RateRule.per_window("phone", 3, 3600),), per_ip=()))
    for _ in range(3):
        await h.service.request_code(PHONE, purpose="login", ip=None)
        h.clock.advance(60)
    with pytest.raises(OtpRateLimited) as info:
        await h.service.request_code(PHONE, purpose="login", ip=None)
    assert info.value.details["scope"] == "phone"
    # A bucket of 3 per hour regains one send every 20 minutes; 3 minutes have passed.
    assert info.value.retry_after == pytest.approx(20 * 60 - 180)
    await h.service.request_code(OTHER, purpose="login", ip=None)
    h.clock.advance(info.value.retry_after)
    await h.service.request_code(PHONE, purpose="login", ip=None)


async def test_rate_limit_per_ip() -> None:
    h = make(OtpPolicy(per_phone=(), per_ip=(RateRule.per_window("ip", 2, 3600),)))
    await h.service.request_code(PHONE, purpose="login", ip="198.51.100.7")
    await h.service.request_code(OTHER, purpose="login", ip="198.51.100.7")
    with pytest.raises(OtpRateLimited) as info:
        await h.service.request_code("+8613712345678", purpose="login", ip="198.51.100.7")
    assert info.value.details["scope"] == "ip"
    assert "198.51.100.7" not in str(info.value.to_dict())
    await h.service.request_code("+8613712345678", purpose="login", ip="198.51.100.8")


async def test_default_policy_limits_a_number_to_five_an_hour(h: Harness) -> None:
    for _ in range(5):
        await h.service.request_code(PHONE, purpose="login", ip=None)
        h.clock.advance(61)
    with pytest.raises(OtpRateLimited):
        await h.service.request_code(PHONE, purpose="login", ip=None)


async def test_shared_limiter_keys_hold_no_identity_values() -> None:
    counter = MemoryCounter()
    clock = ManualClock()
    sms = ConsoleSmsProvider()
    service = OtpService(InMemoryOtpStore(), sms, secret=SECRET, clock=clock, limiter=RateLimiter(counter, clock))
    await service.request_code(PHONE, purpose="login", ip="203.0.113.9")
    keys = "".join(counter._buckets)
    assert keys and "13812345678" not in keys and "203.0.113.9" not in keys


class FailingSms:
    async def send_code(self, phone_e164: str, code: str, *, template: str) -> SmsReceipt:
        raise SmsUnavailable("down", provider="test")


async def test_failed_delivery_leaves_no_cooldown_but_counts() -> None:
    h = make(OtpPolicy(per_phone=(RateRule.per_window("phone", 2, 3600),), per_ip=()), sms=FailingSms())
    with pytest.raises(SmsError):
        await h.service.request_code(PHONE, purpose="login", ip=None)
    with pytest.raises(SmsError):  # no OtpCooldown: nothing was delivered
        await h.service.request_code(PHONE, purpose="login", ip=None)
    with pytest.raises(OtpRateLimited):
        await h.service.request_code(PHONE, purpose="login", ip=None)
    with pytest.raises(OtpNotRequested):
        await h.service.verify_code(PHONE, "123456", purpose="login")


async def test_bad_inputs(h: Harness) -> None:
    with pytest.raises(InvalidPhoneNumber):
        await h.service.request_code("+85291234567", purpose="login", ip=None)
    with pytest.raises(ValueError):
        await h.service.request_code(PHONE, purpose="Login!", ip=None)
    with pytest.raises(ValueError):
        OtpService(InMemoryOtpStore(), h.sms, secret=b"short", clock=h.clock)


async def test_concurrent_use_accepts_once(h: Harness) -> None:
    """Two nodes verify the same right code at once: the store's compare-and-set lets one win."""
    await h.service.request_code(PHONE, purpose="login", ip=None)
    (challenge,) = h.store._by_subject.values()
    assert await h.store.mark_used(challenge.challenge_id, h.clock.now())
    with pytest.raises(OtpAlreadyUsed):
        await h.service.verify_code(PHONE, h.code(), purpose="login")


async def test_replaced_between_read_and_count() -> None:
    """A newer code stored between reading the challenge and counting the try: refuse, not crash."""

    class RacingStore(InMemoryOtpStore):
        async def add_attempt(self, challenge_id: str) -> int | None:
            await self.delete_challenge(challenge_id)
            return await super().add_attempt(challenge_id)

    clock = ManualClock()
    sms = ConsoleSmsProvider()
    service = OtpService(RacingStore(), sms, secret=SECRET, clock=clock)
    await service.request_code(PHONE, purpose="login", ip=None)
    with pytest.raises(OtpNotRequested):
        await service.verify_code(PHONE, sms.outbox.last_code(PHONE) or "", purpose="login")


async def test_in_memory_store_sweeps_long_expired_challenges() -> None:
    clock = ManualClock()
    store = InMemoryOtpStore(forget_after_s=3600, sweep_every=2)
    service = OtpService(store, ConsoleSmsProvider(), secret=SECRET, clock=clock)
    await service.request_code(PHONE, purpose="login", ip=None)
    clock.advance(days=2)
    await service.request_code(OTHER, purpose="login", ip=None)
    assert len(store) == 1


async def test_nothing_secret_in_logs_or_errors(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await h.service.request_code(PHONE, purpose="login", ip="203.0.113.9")
    code = h.code()
    with pytest.raises(OtpInvalid) as info:
        await h.service.verify_code(PHONE, h.wrong(), purpose="login")
    await h.service.verify_code(PHONE, code, purpose="login")
    text = caplog.text + str(info.value.to_dict())
    for secret in (code, "13812345678", "203.0.113.9"):
        assert secret not in text


@pytest.mark.parametrize("digits", [3, 11])
def test_code_length_outside_4_to_10_is_refused(digits: int) -> None:
    with pytest.raises(ValueError, match="code_digits"):
        OtpPolicy(code_digits=digits)


async def test_codes_have_the_policys_length() -> None:
    h = make(OtpPolicy(code_digits=4))
    await h.service.request_code(PHONE, purpose="login", ip=None)
    code = h.code()
    assert len(code) == 4 and code.isdigit()
    assert (await h.service.verify_code(PHONE, code, purpose="login")).phone_e164 == PHONE
