"""Fan-out of room events (comments, danmaku) and control events (cut-off, policy change).

One interface, two implementations chosen by URL (:func:`make_broker`):

* :class:`InProcessBroker` — the embedded default of ``livegate serve`` on one node;
* :class:`RedisBroker` — Redis pub/sub, so every node sees what any node publishes.

Both hand each subscriber a bounded queue. A slow subscriber (a viewer on a bad link) loses
its *oldest* messages and learns how many from :attr:`Subscription.dropped`; the publisher
never waits for it, because one stalled WebSocket must not stall a room of thousands.

Messages are JSON objects in both implementations: the in-process broker encodes and
decodes too, so a message that would not survive Redis fails on one node in development,
not on the second node in production. One decoded dict is shared by every local
subscriber of a message; treat it as read-only.

Delivery is at most once, as Redis pub/sub is: what is published while a node's
subscription connection is down is not replayed. Durable things (comments acknowledged to
their sender, cut-off orders) are stored first and only *announced* through the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import secrets
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from livegate.core.errors import LivegateError, ValidationFailed

__all__ = [
    "DEFAULT_MAX_QUEUE",
    "Broker",
    "BrokerClosed",
    "BrokerError",
    "BrokerUnavailable",
    "Delivery",
    "FanoutSubscription",
    "InProcessBroker",
    "Message",
    "MessageNotSerializable",
    "RedisBroker",
    "Subscription",
    "make_broker",
]

log = logging.getLogger(__name__)

Message = dict[str, Any]

#: Per-subscriber queue bound: a few seconds of a busy room's danmaku.
DEFAULT_MAX_QUEUE = 1000


class BrokerError(LivegateError):
    """The event broker failed."""

    code = "broker_error"
    http_status = 503


class BrokerUnavailable(BrokerError):
    """The event broker cannot be reached."""

    code = "broker_unavailable"


class BrokerClosed(BrokerError):
    """The subscription or the broker is closed."""

    code = "broker_closed"


class MessageNotSerializable(BrokerError):
    """A broker message must be a JSON object."""

    code = "message_not_serializable"
    http_status = 500


@dataclass(frozen=True)
class Delivery:
    """A message together with the channel it came on (for multi-channel subscriptions)."""

    channel: str
    message: Message


@runtime_checkable
class Subscription(Protocol):
    """Messages of one or more channels, in publish order per publisher.

    Use as ``async with broker.subscribe("room:42") as sub:``; the subscription is live
    when the block is entered (a message published after that is delivered) and detached
    when it is left. Iterate with ``async for message in sub`` or wait with ``get(timeout)``.
    """

    @property
    def channels(self) -> tuple[str, ...]: ...

    @property
    def dropped(self) -> int:
        """Messages discarded because this subscriber fell more than its queue bound behind."""
        ...

    # A timeout argument (ASYNC109) because "wait for the next message, at most N s" is
    # what every caller here wants; asyncio.timeout around it works too.
    async def get(self, timeout: float | None = None) -> Message:  # noqa: ASYNC109
        """The next message; ``TimeoutError`` after ``timeout`` s, :class:`BrokerClosed` once closed."""
        ...

    async def receive(self, timeout: float | None = None) -> Delivery: ...  # noqa: ASYNC109

    async def close(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def __aiter__(self) -> AsyncIterator[Message]: ...

    async def __anext__(self) -> Message: ...


class Broker(Protocol):
    """Publish/subscribe of JSON objects on named channels."""

    async def publish(self, channel: str, message: Message) -> None: ...

    def subscribe(self, channel: str, *more: str, max_queue: int | None = None) -> Subscription: ...

    async def close(self) -> None: ...


def _encode(message: Message) -> bytes:
    if not isinstance(message, dict):
        raise MessageNotSerializable(f"a broker message must be a dict, not {type(message).__name__}")
    try:
        return json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise MessageNotSerializable(f"a broker message must be JSON-serialisable: {exc}") from None


def _check_channel(channel: str) -> None:
    if not isinstance(channel, str) or not channel:
        raise ValidationFailed("a channel name must be a non-empty string", channel=repr(channel))


class FanoutSubscription:
    """A subscriber's bounded queue, fed by a broker's local fan-out.

    One consumer per subscription: two tasks reading the same one would split its messages.
    """

    def __init__(self, hub: _FanoutHub, channels: tuple[str, ...], max_queue: int) -> None:
        if max_queue < 1:
            raise ValidationFailed("max_queue must be at least 1")
        self._hub = hub
        self._channels = channels
        self._queue: deque[Delivery] = deque(maxlen=max_queue)
        self._wakeup = asyncio.Event()
        self._state = "new"  # new -> open -> closed
        self._dropped = 0
        self.delivered = 0

    @property
    def channels(self) -> tuple[str, ...]:
        return self._channels

    @property
    def dropped(self) -> int:
        return self._dropped

    @property
    def pending(self) -> int:
        """Messages queued and not yet read."""
        return len(self._queue)

    @property
    def closed(self) -> bool:
        return self._state == "closed"

    def _push(self, delivery: Delivery) -> None:
        if self._state == "closed":
            return
        if len(self._queue) == self._queue.maxlen:
            self._dropped += 1  # the deque discards the oldest on append
        self._queue.append(delivery)
        self.delivered += 1
        self._wakeup.set()

    def _end(self) -> None:
        """Closed by the broker: wake the reader, detach nothing (the broker is going away)."""
        self._state = "closed"
        self._wakeup.set()

    async def open(self) -> Self:
        if self._state == "closed":
            raise BrokerClosed("this subscription is closed")
        if self._state == "new":
            await self._hub._attach(self)
            self._state = "open"
        return self

    async def close(self) -> None:
        previous, self._state = self._state, "closed"
        self._wakeup.set()
        if previous == "open":
            await self._hub._detach(self)

    async def receive(self, timeout: float | None = None) -> Delivery:  # noqa: ASYNC109
        if self._state == "new":
            raise BrokerError("subscription not open: use 'async with broker.subscribe(...)'")
        async with asyncio.timeout(timeout):
            while True:
                if self._state == "closed":
                    raise BrokerClosed("this subscription is closed")
                if self._queue:
                    return self._queue.popleft()
                self._wakeup.clear()
                await self._wakeup.wait()

    async def get(self, timeout: float | None = None) -> Message:  # noqa: ASYNC109
        return (await self.receive(timeout)).message

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[Message]:
        return self

    async def __anext__(self) -> Message:
        try:
            return await self.get()
        except BrokerClosed:
            raise StopAsyncIteration from None


class _FanoutHub:
    """Local fan-out shared by both brokers: channel -> the subscriptions on this node."""

    def __init__(self, *, max_queue: int) -> None:
        self._max_queue = max_queue
        self._registry: dict[str, set[FanoutSubscription]] = {}
        self._closed = False
        self.published = 0

    def subscribe(self, channel: str, *more: str, max_queue: int | None = None) -> FanoutSubscription:
        channels = tuple(dict.fromkeys((channel, *more)))
        for name in channels:
            _check_channel(name)
        if self._closed:
            raise BrokerClosed("the broker is closed")
        return FanoutSubscription(self, channels, max_queue or self._max_queue)

    def local_subscriber_count(self, channel: str | None = None) -> int:
        """Subscriptions on this node (to ``channel``, or distinct ones to any channel)."""
        if channel is not None:
            return len(self._registry.get(channel, ()))
        return len({sub for subs in self._registry.values() for sub in subs})

    def _dispatch(self, channel: str, message: Message) -> None:
        subs = self._registry.get(channel)
        if not subs:
            return
        delivery = Delivery(channel, message)
        for sub in tuple(subs):
            sub._push(delivery)

    def _register(self, sub: FanoutSubscription) -> list[str]:
        """Add ``sub``; return the channels that had no local subscriber before."""
        new = []
        for channel in sub.channels:
            subs = self._registry.setdefault(channel, set())
            if not subs:
                new.append(channel)
            subs.add(sub)
        return new

    def _unregister(self, sub: FanoutSubscription) -> list[str]:
        """Remove ``sub``; return the channels left with no local subscriber."""
        gone = []
        for channel in sub.channels:
            subs = self._registry.get(channel)
            if subs is None:
                continue
            subs.discard(sub)
            if not subs:
                del self._registry[channel]
                gone.append(channel)
        return gone

    def _end_all(self) -> None:
        for subs in self._registry.values():
            for sub in subs:
                sub._end()
        self._registry.clear()

    async def _attach(self, sub: FanoutSubscription) -> None:
        raise NotImplementedError

    async def _detach(self, sub: FanoutSubscription) -> None:
        raise NotImplementedError


class InProcessBroker(_FanoutHub):
    """Fan-out inside one process: the embedded default, and the reference for tests."""

    def __init__(self, *, max_queue: int = DEFAULT_MAX_QUEUE) -> None:
        super().__init__(max_queue=max_queue)

    async def publish(self, channel: str, message: Message) -> None:
        _check_channel(channel)
        if self._closed:
            raise BrokerClosed("the broker is closed")
        decoded = json.loads(_encode(message))
        self.published += 1
        self._dispatch(channel, decoded)

    async def _attach(self, sub: FanoutSubscription) -> None:
        if self._closed:
            raise BrokerClosed("the broker is closed")
        self._register(sub)

    async def _detach(self, sub: FanoutSubscription) -> None:
        self._unregister(sub)

    async def close(self) -> None:
        self._closed = True
        self._end_all()


_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")
_TRANSIENT = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisBroker(_FanoutHub):
    """Redis pub/sub shared by every node.

    A node holds two connections however many local subscribers it has: one to publish and
    one subscribed to the union of its local subscribers' channels. A reader task dispatches
    what arrives to the local queues, so 5,000 viewers of a room on one node cost one Redis
    subscription, not 5,000. Channels are prefixed with ``namespace`` so several
    installations (or test runs) can share one Redis.

    The subscription connection is a plain RESP2 connection owned by the reader task, not a
    redis-py ``PubSub``: that class reconnects by itself from whichever task happens to send
    a command, which races with a reader blocked on the same socket. Here only the reader
    connects; other tasks write SUBSCRIBE/UNSUBSCRIBE while the connection is up and
    otherwise leave the channel to the reader's resubscription. When the connection drops,
    the reader reconnects with backoff and resubscribes every channel; subscribers stay open
    and see messages again once it is back (what was published meanwhile is lost, see the
    module docstring). An idle connection is probed with PING so a silently dead one is
    noticed too.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "livegate:",
        max_queue: int = DEFAULT_MAX_QUEUE,
        node_name: str | None = None,
        subscribe_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        keepalive_seconds: float = 15.0,
        reconnect_backoff: tuple[float, float] = (0.05, 2.0),
    ) -> None:
        super().__init__(max_queue=max_queue)
        self.namespace = namespace
        self.node_name = _NAME_UNSAFE.sub("_", node_name or f"livegate-{secrets.token_hex(4)}")
        self._subscribe_timeout = subscribe_timeout
        self._connect_timeout = connect_timeout
        self._keepalive = keepalive_seconds
        self._backoff_base, self._backoff_cap = reconnect_backoff
        self._pub = aioredis.Redis.from_url(
            url,
            client_name=f"{self.node_name}-pub",
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), 3),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            socket_connect_timeout=connect_timeout,
            socket_timeout=10,
        )
        # No socket_timeout here: with it redis-py writes from a separate task, and a write
        # must happen in the same step as the "is it connected" check (see _send).
        self._sub_pool = aioredis.ConnectionPool.from_url(
            url,
            client_name=f"{self.node_name}-sub",
            protocol=2,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=connect_timeout,
        )
        self._conn: AbstractConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._command_lock = asyncio.Lock()
        self._confirmed: set[str] = set()
        # channel -> futures waiting for SUBSCRIBE confirmations, one per command sent, FIFO.
        self._acks: dict[str, deque[asyncio.Future[None]]] = {}
        self._connections = 0
        self.malformed = 0

    @property
    def reconnects(self) -> int:
        """How many times the subscription connection was re-established after a loss."""
        return max(0, self._connections - 1)

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def _wire(self, channel: str) -> str:
        return self.namespace + channel

    async def publish(self, channel: str, message: Message) -> None:
        _check_channel(channel)
        if self._closed:
            raise BrokerClosed("the broker is closed")
        data = _encode(message)
        try:
            await self._pub.publish(self._wire(channel), data)
        except _TRANSIENT as exc:
            raise BrokerUnavailable(f"cannot publish to Redis: {exc}") from exc
        self.published += 1

    # ------------------------------------------------------------ subscriptions

    async def _send(self, *args: str) -> None:
        """Write a command on the subscription connection if it is up; else leave it to the reader.

        ``send_command`` reconnects when it finds the connection down; checking first, with
        no suspension before the write, keeps every (re)connect in the reader task.
        """
        conn = self._conn
        if conn is None or not conn.is_connected:
            return
        try:
            await conn.send_command(*args, check_health=False)
        except Exception as exc:  # the reader sees the broken connection and resubscribes all
            log.info("broker %s: %s deferred to the reconnect: %s", self.node_name, args[0], exc)

    async def _attach(self, sub: FanoutSubscription) -> None:
        if self._closed:
            raise BrokerClosed("the broker is closed")
        self._ensure_reader()
        loop = asyncio.get_running_loop()
        waits: list[asyncio.Future[None]] = []
        async with self._command_lock:
            new = self._register(sub)
            for channel in sub.channels:
                if channel in new:
                    self._confirmed.discard(channel)
                    future: asyncio.Future[None] = loop.create_future()
                    self._acks.setdefault(channel, deque()).append(future)
                    waits.append(future)
                elif channel not in self._confirmed and self._acks.get(channel):
                    waits.append(self._acks[channel][-1])
            if new:
                await self._send("SUBSCRIBE", *(self._wire(c) for c in new))
        if not waits:
            return
        try:
            _, pending = await asyncio.wait(waits, timeout=self._subscribe_timeout)
        except BaseException:  # cancelled while waiting: leave nothing registered
            await self._detach(sub)
            raise
        if self._closed:
            raise BrokerClosed("the broker is closed")
        if pending:
            await self._detach(sub)
            raise BrokerUnavailable("Redis did not confirm the subscription in time")

    async def _detach(self, sub: FanoutSubscription) -> None:
        async with self._command_lock:
            gone = self._unregister(sub)
            for channel in gone:
                self._confirmed.discard(channel)
            if gone and not self._closed:
                await self._send("UNSUBSCRIBE", *(self._wire(c) for c in gone))

    def _ensure_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(self._run(), name=f"{self.node_name}-reader")

    # ------------------------------------------------------------ reader task

    async def _run(self) -> None:
        failures = 0
        while not self._closed:
            conn: AbstractConnection | None = None
            try:
                conn = await self._connect()
                failures = 0
                await self._read(conn)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("broker %s: subscription connection lost: %s", self.node_name, exc)
            except Exception:
                log.exception("broker %s: reader failed; restarting it", self.node_name)
            finally:
                if conn is not None:
                    async with self._command_lock:
                        if self._conn is conn:
                            self._conn = None
                    with contextlib.suppress(Exception):
                        await conn.disconnect(nowait=True)
            if self._closed:
                break
            delay = min(self._backoff_cap, self._backoff_base * 2**failures)
            failures += 1
            await asyncio.sleep(delay)

    async def _connect(self) -> AbstractConnection:
        conn = self._sub_pool.make_connection()
        try:
            async with asyncio.timeout(self._connect_timeout):
                await conn.connect()
            async with self._command_lock:
                channels = list(self._registry)
                self._rearm_acks(channels)
                self._confirmed.clear()
                self._conn = conn
                if channels:
                    await conn.send_command("SUBSCRIBE", *(self._wire(c) for c in channels), check_health=False)
        except BaseException:
            if self._conn is conn:
                self._conn = None
            with contextlib.suppress(Exception):
                await conn.disconnect(nowait=True)
            raise
        self._connections += 1
        if self._connections > 1:
            log.info("broker %s: reconnected; resubscribed %d channel(s)", self.node_name, len(channels))
        return conn

    def _rearm_acks(self, channels: list[str]) -> None:
        """On a new connection only the confirmations of the resubscription will arrive:
        one fresh future per channel, which releases everybody still waiting on that channel."""
        loop = asyncio.get_running_loop()
        wanted = set(channels)
        for channel in list(self._acks):
            if channel not in wanted:
                for future in self._acks.pop(channel):
                    if not future.done():
                        future.set_result(None)
        for channel in channels:
            old = self._acks.pop(channel, deque())
            fresh: asyncio.Future[None] = loop.create_future()
            for waiting in old:
                fresh.add_done_callback(functools.partial(_release, waiting))
            self._acks[channel] = deque([fresh])

    async def _read(self, conn: AbstractConnection) -> None:
        awaiting_pong = False
        while True:
            response = await conn.read_response(timeout=self._keepalive)
            if response is None:  # idle for a keepalive interval
                if awaiting_pong:
                    raise RedisConnectionError("no reply to a keepalive PING")
                awaiting_pong = True
                await conn.send_command("PING", check_health=False)
                continue
            awaiting_pong = False
            self._handle(response)

    def _local(self, wire: Any) -> str | None:
        name = wire.decode() if isinstance(wire, bytes) else str(wire)
        return name[len(self.namespace) :] if name.startswith(self.namespace) else None

    def _handle(self, response: Any) -> None:
        # RESP2 subscribed-mode replies: [b"message", channel, data], [b"subscribe", channel, n],
        # [b"unsubscribe", channel, n], [b"pong", b""]; b"PONG" when subscribed to nothing.
        if not isinstance(response, list) or len(response) < 3:
            return
        kind = response[0].decode() if isinstance(response[0], bytes) else str(response[0])
        channel = self._local(response[1])
        if channel is None:
            return
        if kind == "message":
            try:
                message = json.loads(response[2])
            except (ValueError, UnicodeDecodeError, TypeError):
                message = None
            if not isinstance(message, dict):
                self.malformed += 1
                log.warning("broker %s: dropped a malformed message on %s", self.node_name, channel)
                return
            self._dispatch(channel, message)
        elif kind == "subscribe":
            pending = self._acks.get(channel)
            if pending:
                future = pending.popleft()
                if not future.done():
                    future.set_result(None)
                if not pending:
                    del self._acks[channel]
            if channel in self._registry and channel not in self._acks:
                self._confirmed.add(channel)

    # ------------------------------------------------------------ lifecycle

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._end_all()
        for futures in self._acks.values():
            for future in futures:
                if not future.done():
                    future.set_result(None)
        self._acks.clear()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.disconnect(nowait=True)
            self._conn = None
        with contextlib.suppress(Exception):
            await self._pub.aclose()
        with contextlib.suppress(Exception):
            await self._sub_pool.disconnect()


def _release(waiting: asyncio.Future[None], _done: asyncio.Future[None]) -> None:
    if not waiting.done():
        waiting.set_result(None)


def make_broker(url: str | None, **options: Any) -> InProcessBroker | RedisBroker:
    """``None`` or ``memory://`` gives the in-process broker; ``redis://``/``rediss://``/``unix://`` Redis."""
    if url is None or url == "" or url.startswith("memory://"):
        memory_options = {k: v for k, v in options.items() if k == "max_queue"}
        return InProcessBroker(**memory_options)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBroker(url, **options)
    # The URL may hold a password: name only its scheme.
    raise ValidationFailed(f"unsupported broker URL scheme {url.split('://')[0]!r}: use memory:// or redis://")
