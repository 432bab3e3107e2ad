"""Rate limits: *what* is limited (a :class:`RateRule` and a key) apart from *how* it is counted.

Comments per account per room, OTP sends per phone number and per IP, complaints per IP:
each is a named token bucket. A bucket holds up to ``capacity`` tokens and gains
``refill_per_second``; a hit takes ``cost`` tokens or is refused with the exact time until
it would succeed (``retry_after``), which the web layer turns into HTTP 429 + ``Retry-After``.

Counting is a backend: :class:`MemoryCounter` for one process, :class:`RedisCounter` when
several nodes must count together. Both run the same bucket arithmetic; the Redis one does
it in a Lua script so a read-modify-write is atomic across nodes. The time always comes from
the limiter's :class:`~livegate.core.clock.Clock` and is passed to the backend (never Redis
``TIME``), so tests move a manual clock and every node agrees on what "now" means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from livegate.core.clock import Clock
from livegate.core.errors import LivegateError, RateLimited, ValidationFailed

__all__ = [
    "BucketResult",
    "CounterBackend",
    "MemoryCounter",
    "RateDecision",
    "RateLimiter",
    "RateLimiterUnavailable",
    "RateRule",
    "RedisCounter",
]

# Float noise (0.1 * 10 == 0.9999999999999999) must not turn an allowed hit into a refusal.
_EPSILON = 1e-9


class RateLimiterUnavailable(LivegateError):
    """The rate-limit store cannot be reached; the caller decides whether to fail open or closed."""

    code = "rate_limiter_unavailable"
    http_status = 503


@dataclass(frozen=True)
class RateRule:
    """A named token bucket: ``capacity`` hits at once, then ``refill_per_second`` hits per second."""

    name: str
    capacity: float
    refill_per_second: float

    def __post_init__(self) -> None:
        if not self.name:
            raise ValidationFailed("a rate rule needs a name")
        if not (self.capacity > 0 and math.isfinite(self.capacity)):
            raise ValidationFailed(f"rate rule {self.name!r}: capacity must be a positive number")
        if not (self.refill_per_second > 0 and math.isfinite(self.refill_per_second)):
            raise ValidationFailed(f"rate rule {self.name!r}: refill_per_second must be a positive number")

    @classmethod
    def per_window(cls, name: str, limit: int, window_seconds: float) -> RateRule:
        """``limit`` hits per ``window_seconds``, as a bucket of ``limit`` refilling over the window.

        Unlike a fixed window this never allows ``2 * limit`` hits across a window boundary;
        after a burst of ``limit`` hits, the next one is allowed ``window / limit`` seconds later.
        """
        if window_seconds <= 0:
            raise ValidationFailed(f"rate rule {name!r}: window_seconds must be positive")
        return cls(name, float(limit), limit / window_seconds)

    @property
    def seconds_to_full(self) -> float:
        """How long an empty bucket takes to fill; a bucket untouched this long is as good as new."""
        return self.capacity / self.refill_per_second


@dataclass(frozen=True)
class RateDecision:
    """The answer to one hit. ``retry_after`` is 0 when allowed, else seconds until it would be."""

    allowed: bool
    remaining: int
    retry_after: float
    rule: str
    key: str


@dataclass(frozen=True)
class BucketResult:
    allowed: bool
    tokens: float
    retry_after: float


class CounterBackend(Protocol):
    """Where buckets live. ``now`` is seconds since the epoch from the limiter's clock."""

    async def take(
        self, key: str, capacity: float, refill_per_second: float, cost: float, now: float
    ) -> BucketResult: ...

    async def reset(self, key: str) -> None: ...


def _bucket_step(
    tokens: float | None, updated_at: float | None, capacity: float, rate: float, cost: float, now: float
) -> tuple[BucketResult, float, float]:
    """One hit on a bucket; returns the result, the new token count and the new timestamp.

    A missing bucket is a full one. If ``now`` is earlier than the stored timestamp (another
    node's clock runs ahead) nothing is refilled and the stored timestamp is kept, so clock
    skew can never mint tokens. The Lua script in :class:`RedisCounter` mirrors this line by line.
    """
    if tokens is None or updated_at is None:
        tokens, updated_at = capacity, now
    elapsed = max(0.0, now - updated_at)
    tokens = min(capacity, tokens + elapsed * rate)
    updated_at = max(updated_at, now)
    if tokens + _EPSILON >= cost:
        tokens = max(0.0, tokens - cost)
        return BucketResult(True, tokens, 0.0), tokens, updated_at
    return BucketResult(False, tokens, (cost - tokens) / rate), tokens, updated_at


class MemoryCounter:
    """Buckets in a dict, for a single process (the embedded default and tests).

    A bucket that has had time to refill completely is indistinguishable from no bucket, so
    such entries are swept every ``sweep_every`` hits; memory follows the active keys only.
    """

    def __init__(self, *, sweep_every: int = 1024) -> None:
        # key -> (tokens, updated_at, full_at)
        self._buckets: dict[str, tuple[float, float, float]] = {}
        self._sweep_every = sweep_every
        self._hits = 0

    def __len__(self) -> int:
        return len(self._buckets)

    async def take(self, key: str, capacity: float, refill_per_second: float, cost: float, now: float) -> BucketResult:
        # No await inside: on one event loop this read-modify-write is atomic.
        self._hits += 1
        if self._hits % self._sweep_every == 0:
            self.sweep(now)
        state = self._buckets.get(key)
        tokens, updated_at = (state[0], state[1]) if state else (None, None)
        result, tokens, updated_at = _bucket_step(tokens, updated_at, capacity, refill_per_second, cost, now)
        full_at = updated_at + (capacity - tokens) / refill_per_second
        self._buckets[key] = (tokens, updated_at, full_at)
        return result

    async def reset(self, key: str) -> None:
        self._buckets.pop(key, None)

    def sweep(self, now: float) -> int:
        """Forget buckets that are full again; returns how many were forgotten."""
        stale = [key for key, (_, _, full_at) in self._buckets.items() if full_at <= now]
        for key in stale:
            del self._buckets[key]
        return len(stale)


# KEYS[1] bucket; ARGV: capacity, refill per second, cost, now (epoch seconds), ttl margin (ms).
# Mirrors _bucket_step. Numbers go back as strings: Redis truncates Lua floats to integers.
_TAKE_SCRIPT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local margin_ms = tonumber(ARGV[5])
local eps = 1e-9
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(capacity, tokens + elapsed * rate)
if now > ts then ts = now end
local allowed = 0
local retry_after = 0
if tokens + eps >= cost then
  tokens = math.max(0, tokens - cost)
  allowed = 1
else
  retry_after = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', ts))
local ttl_ms = math.ceil((capacity - tokens) / rate * 1000) + margin_ms
redis.call('PEXPIRE', KEYS[1], ttl_ms)
return {allowed, string.format('%.17g', tokens), string.format('%.17g', retry_after)}
"""


class RedisCounter:
    """Buckets in Redis, shared by every node, updated atomically by one Lua script.

    Keys expire once the bucket would be full again (plus a margin for clock skew between
    nodes), so Redis holds only the keys of recently active accounts, rooms and addresses.
    """

    def __init__(
        self,
        redis: aioredis.Redis | str,
        *,
        prefix: str = "livegate:rl:",
        ttl_margin_seconds: float = 60.0,
    ) -> None:
        if isinstance(redis, str):
            self._redis = aioredis.Redis.from_url(redis)
            self._owns_client = True
        else:
            self._redis = redis
            self._owns_client = False
        self._prefix = prefix
        self._margin_ms = int(ttl_margin_seconds * 1000)
        self._script = self._redis.register_script(_TAKE_SCRIPT)

    async def take(self, key: str, capacity: float, refill_per_second: float, cost: float, now: float) -> BucketResult:
        args: list[str | int] = [
            repr(float(capacity)),
            repr(float(refill_per_second)),
            repr(float(cost)),
            repr(now),
            self._margin_ms,
        ]
        try:
            allowed, tokens, retry_after = await self._script(keys=[self._prefix + key], args=args)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise RateLimiterUnavailable(f"rate-limit store unreachable: {exc}") from exc
        return BucketResult(bool(int(allowed)), float(tokens), float(retry_after))

    async def reset(self, key: str) -> None:
        try:
            await self._redis.delete(self._prefix + key)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise RateLimiterUnavailable(f"rate-limit store unreachable: {exc}") from exc

    async def aclose(self) -> None:
        """Close the client if this counter created it from a URL."""
        if self._owns_client:
            await self._redis.aclose()


def _escape(part: str) -> str:
    return part.replace("\\", "\\\\").replace(":", "\\:")


def bucket_key(rule: RateRule, key: str | Sequence[str]) -> str:
    """``rule:key``; tuple keys are joined with escaped separators so ``("a:b", "c") != ("a", "b:c")``."""
    parts = [key] if isinstance(key, str) else list(key)
    return ":".join([_escape(rule.name), *(_escape(p) for p in parts)])


class RateLimiter:
    """Applies rules to keys. Routes call :meth:`check_or_raise`; others may inspect :meth:`hit`."""

    def __init__(self, backend: CounterBackend, clock: Clock) -> None:
        self._backend = backend
        self._clock = clock

    async def hit(self, rule: RateRule, key: str | Sequence[str], cost: float = 1) -> RateDecision:
        """Take ``cost`` tokens for ``key`` if available. A refused hit takes nothing."""
        if not cost > 0:
            raise ValidationFailed("a hit must cost more than 0", rule=rule.name)
        if cost > rule.capacity:
            # It could never succeed; refusing forever with retry_after=inf would hide the bug.
            raise ValidationFailed(
                f"cost {cost} exceeds the capacity {rule.capacity} of rule {rule.name!r}", rule=rule.name
            )
        name = bucket_key(rule, key)
        now = self._clock.now().timestamp()
        result = await self._backend.take(name, rule.capacity, rule.refill_per_second, cost, now)
        return RateDecision(
            allowed=result.allowed,
            remaining=math.floor(result.tokens + _EPSILON),
            retry_after=0.0 if result.allowed else result.retry_after,
            rule=rule.name,
            key=name,
        )

    async def check_or_raise(self, rule: RateRule, key: str | Sequence[str], cost: float = 1) -> RateDecision:
        """Like :meth:`hit`, but a refusal raises :class:`~livegate.core.errors.RateLimited`."""
        decision = await self.hit(rule, key, cost)
        if not decision.allowed:
            raise RateLimited(
                f"too many requests ({rule.name}); try again in {math.ceil(decision.retry_after)} s",
                retry_after=decision.retry_after,
                rule=rule.name,
            )
        return decision

    async def reset(self, rule: RateRule, key: str | Sequence[str]) -> None:
        """Forget a bucket, e.g. after a successful verification clears failed attempts."""
        await self._backend.reset(bucket_key(rule, key))
