"""The database OTP store: the protocol, and the atomic operations that race between nodes."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect

from livegate.app import Platform
from livegate.identity.otp import OtpChallenge, OtpStore
from livegate.identity.provider import IdentityCheckProvider, NullIdentityCheck
from livegate.identity.store import DatabaseOtpStore


def test_database_store_matches_the_protocol() -> None:
    for name in ("get_challenge", "put_challenge", "delete_challenge", "add_attempt", "mark_used"):
        expected, actual = getattr(OtpStore, name), getattr(DatabaseOtpStore, name)
        assert inspect.iscoroutinefunction(actual)
        assert list(inspect.signature(expected).parameters) == list(inspect.signature(actual).parameters)
    assert isinstance(NullIdentityCheck(), IdentityCheckProvider)
    assert NullIdentityCheck().check(doc_type="resident_id", number="x", real_name="y").status == "not_checked"


def test_attempts_and_use_are_atomic(platform: Platform) -> None:
    store = DatabaseOtpStore(platform.db)
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    challenge = OtpChallenge("c1", "subject", "h" * 64, now, now + dt.timedelta(minutes=5))

    async def scenario() -> None:
        await store.put_challenge(challenge)
        counts = await asyncio.gather(*(store.add_attempt("c1") for _ in range(8)))
        assert sorted(c for c in counts if c is not None) == list(range(1, 9))
        used = await asyncio.gather(*(store.mark_used("c1", now) for _ in range(6)))
        assert used.count(True) == 1
        got = await store.get_challenge("subject")
        assert got is not None and got.attempts == 8 and got.used_at == now
        await store.put_challenge(OtpChallenge("c2", "subject", "h" * 64, now, now + dt.timedelta(minutes=5)))
        assert await store.add_attempt("c1") is None and not await store.mark_used("c1", now)
        assert (await store.get_challenge("subject")).challenge_id == "c2"  # type: ignore[union-attr]
        await store.delete_challenge("c2")
        assert await store.get_challenge("subject") is None

    asyncio.run(scenario())
    assert store.purge_expired(now + dt.timedelta(days=2)) == 0
