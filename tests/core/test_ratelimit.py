"""Rate limiting: one suite, run on the in-memory counter and (with LIVEGATE_TEST_REDIS_URL)
on Redis. Time is a manual clock passed into the backend, so refill is tested without
sleeping, on Redis too."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from livegate.core.clock import ManualClock
from livegate.core.errors import RateLimited, ValidationFailed
from livegate.core.ratelimit import (
    CounterBackend,
    MemoryCounter,
    RateLimiter,
    RateLimiterUnavailable,
    RateRule,
    RedisCounter,
)

REDIS_URL = os.environ.get("LIVEGATE_TEST_REDIS_URL", "")

BackendFactory = Callable[[], Awaitable[CounterBackend]]


@pytest.fixture(params=["memory", "redis"])
async def new_backend(request: pytest.FixtureRequest) -> AsyncIterator[BackendFactory]:
    """A factory of backends that share one store, as the nodes of one installation do."""
    if request.param == "memory":
        shared = MemoryCounter()

        async def memory() -> CounterBackend:
            return shared

        yield memory
        return
    if not REDIS_URL:
        pytest.skip("set LIVEGATE_TEST_REDIS_URL to run the Redis variant")
    prefix = f"test:rl:{uuid.uuid4().hex}:"
    clients: list[aioredis.Redis] = []

    async def redis_backend() -> CounterBackend:
        client = aioredis.Redis.from_url(REDIS_URL)
        clients.append(client)
        return RedisCounter(client, prefix=prefix)

    yield redis_backend
    if clients:
        keys = [key async for key in clients[0].scan_iter(match=prefix + "*")]
        if keys:
            await clients[0].delete(*keys)
    for client in clients:
        await client.aclose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def limiter(new_backend: BackendFactory, clock: ManualClock) -> RateLimiter:
    return RateLimiter(await new_backend(), clock)


RULE = RateRule("test.rule", capacity=3, refill_per_second=1)


async def test_allows_up_to_capacity_then_refuses(limiter: RateLimiter) -> None:
    decisions = [await limiter.hit(RULE, "alice") for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, True]
    assert [d.remaining for d in decisions] == [2, 1, 0]
    assert all(d.retry_after == 0 for d in decisions)
    refused = await limiter.hit(RULE, "alice")
    assert not refused.allowed and refused.remaining == 0
    assert refused.retry_after == pytest.approx(1.0)
    assert refused.rule == "test.rule"


async def test_refills_with_the_clock(limiter: RateLimiter, clock: ManualClock) -> None:
    for _ in range(3):
        await limiter.hit(RULE, "alice")
    clock.advance(0.5)
    half = await limiter.hit(RULE, "alice")
    assert not half.allowed and half.retry_after == pytest.approx(0.5)
    clock.advance(0.5)
    assert (await limiter.hit(RULE, "alice")).allowed
    clock.advance(3600)
    full = await limiter.hit(RULE, "alice")
    assert full.allowed and full.remaining == 2  # never more than capacity


async def test_waiting_retry_after_is_exactly_enough(limiter: RateLimiter, clock: ManualClock) -> None:
    rule = RateRule("slow", capacity=2, refill_per_second=0.1)
    assert (await limiter.hit(rule, "k", cost=2)).allowed
    clock.advance(2.5)  # 0.25 tokens
    refused = await limiter.hit(rule, "k", cost=2)
    assert not refused.allowed and refused.retry_after == pytest.approx(17.5)
    # The refused hit took nothing, so waiting exactly retry_after is enough.
    clock.advance(refused.retry_after)
    assert (await limiter.hit(rule, "k", cost=2)).allowed


async def test_fractional_refill_is_not_lost_to_float_noise(limiter: RateLimiter, clock: ManualClock) -> None:
    rule = RateRule("tenth", capacity=1, refill_per_second=0.1)
    assert (await limiter.hit(rule, "k")).allowed
    for _ in range(10):
        clock.advance(1)
        decision = await limiter.hit(rule, "k")
        if decision.allowed:
            break
    assert decision.allowed, "ten steps of 0.1 token make one token"


async def test_keys_are_independent(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit(RULE, "alice")
    assert not (await limiter.hit(RULE, "alice")).allowed
    assert (await limiter.hit(RULE, "bob")).allowed
    other_rule = RateRule("other.rule", capacity=1, refill_per_second=1)
    assert (await limiter.hit(other_rule, "alice")).allowed


async def test_tuple_keys_do_not_collide(limiter: RateLimiter) -> None:
    rule = RateRule("pair", capacity=1, refill_per_second=0.01)
    assert (await limiter.hit(rule, ("a:b", "c"))).allowed
    assert (await limiter.hit(rule, ("a", "b:c"))).allowed
    assert not (await limiter.hit(rule, ("a:b", "c"))).allowed


async def test_check_or_raise(limiter: RateLimiter) -> None:
    rule = RateRule("comments", capacity=1, refill_per_second=0.25)
    await limiter.check_or_raise(rule, "room:1")
    with pytest.raises(RateLimited) as info:
        await limiter.check_or_raise(rule, "room:1")
    err = info.value
    assert err.retry_after == pytest.approx(4.0)
    assert err.http_status == 429 and err.code == "rate_limited"
    assert err.to_dict()["details"] == {"retry_after": 4.0, "rule": "comments"}


async def test_two_limiters_on_one_store_count_together(new_backend: BackendFactory, clock: ManualClock) -> None:
    node_a = RateLimiter(await new_backend(), clock)
    node_b = RateLimiter(await new_backend(), clock)
    assert (await node_a.hit(RULE, "alice")).allowed
    assert (await node_b.hit(RULE, "alice")).allowed
    assert (await node_a.hit(RULE, "alice")).remaining == 0
    assert not (await node_b.hit(RULE, "alice")).allowed
    assert not (await node_a.hit(RULE, "alice")).allowed


async def test_concurrent_hits_never_overspend(new_backend: BackendFactory, clock: ManualClock) -> None:
    nodes = [RateLimiter(await new_backend(), clock) for _ in range(2)]
    rule = RateRule("burst", capacity=10, refill_per_second=0.001)
    decisions = await asyncio.gather(*(nodes[i % 2].hit(rule, "room") for i in range(40)))
    assert sum(d.allowed for d in decisions) == 10


async def test_a_clock_running_backwards_mints_nothing(limiter: RateLimiter, clock: ManualClock) -> None:
    for _ in range(3):
        await limiter.hit(RULE, "alice")
    clock.advance(-30)  # e.g. another node whose clock is behind
    assert not (await limiter.hit(RULE, "alice")).allowed
    clock.advance(30)
    refused = await limiter.hit(RULE, "alice")
    assert not refused.allowed and refused.retry_after == pytest.approx(1.0)


async def test_a_smaller_capacity_applies_at_once(limiter: RateLimiter) -> None:
    await limiter.hit(RateRule("cap", capacity=10, refill_per_second=1), "k")
    smaller = RateRule("cap", capacity=2, refill_per_second=1)
    assert (await limiter.hit(smaller, "k")).remaining == 1


async def test_reset_forgets_a_bucket(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit(RULE, "alice")
    await limiter.reset(RULE, "alice")
    assert (await limiter.hit(RULE, "alice")).remaining == 2


async def test_impossible_costs_are_refused(limiter: RateLimiter) -> None:
    with pytest.raises(ValidationFailed):
        await limiter.hit(RULE, "k", cost=4)
    with pytest.raises(ValidationFailed):
        await limiter.hit(RULE, "k", cost=0)


def test_rules_are_validated_and_windows_become_buckets() -> None:
    rule = RateRule.per_window("otp.per_number", 5, 3600)
    assert rule.capacity == 5 and rule.refill_per_second == pytest.approx(5 / 3600)
    assert rule.seconds_to_full == pytest.approx(3600)
    for bad in (lambda: RateRule("", 1, 1), lambda: RateRule("x", 0, 1), lambda: RateRule("x", 1, 0)):
        with pytest.raises(ValidationFailed):
            bad()


async def test_memory_counter_forgets_full_buckets(clock: ManualClock) -> None:
    counter = MemoryCounter()
    limiter = RateLimiter(counter, clock)
    for key in ("a", "b", "c"):
        await limiter.hit(RULE, key)
    assert len(counter) == 3
    clock.advance(0.5)
    assert counter.sweep(clock.now().timestamp()) == 0
    clock.advance(0.5)  # one token back: full again
    assert counter.sweep(clock.now().timestamp()) == 3
    assert len(counter) == 0


@pytest.mark.skipif(not REDIS_URL, reason="set LIVEGATE_TEST_REDIS_URL to run the Redis variant")
async def test_redis_keys_expire_once_full_again(clock: ManualClock) -> None:
    prefix = f"test:rl:{uuid.uuid4().hex}:"
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        limiter = RateLimiter(RedisCounter(client, prefix=prefix, ttl_margin_seconds=5), clock)
        rule = RateRule("ttl", capacity=10, refill_per_second=1)
        decision = await limiter.hit(rule, "k", cost=4)
        ttl_ms = await client.pttl(prefix + decision.key)
        assert 4000 < ttl_ms <= 9000  # 4 s to refill + 5 s margin
        await client.delete(prefix + decision.key)
    finally:
        await client.aclose()


async def test_unreachable_redis_is_a_typed_error(clock: ManualClock) -> None:
    counter = RedisCounter("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(RateLimiterUnavailable) as info:
            await RateLimiter(counter, clock).hit(RULE, "k")
        assert info.value.http_status == 503
    finally:
        await counter.aclose()
