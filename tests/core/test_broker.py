"""The broker contract, run on the in-process broker and (with LIVEGATE_TEST_REDIS_URL) on
Redis. Every test works in its own namespace so parallel runs on one Redis never meet.
Nothing sleeps: tests wait for messages, with timeouts."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
import redis.asyncio as aioredis

from livegate.core.broker import (
    Broker,
    BrokerClosed,
    BrokerError,
    FanoutSubscription,
    InProcessBroker,
    MessageNotSerializable,
    RedisBroker,
    Subscription,
    make_broker,
)
from livegate.core.errors import ValidationFailed

REDIS_URL = os.environ.get("LIVEGATE_TEST_REDIS_URL", "")
WAIT = 5.0  # generous upper bound for a message to arrive; never reached when things work

NodeFactory = Callable[..., Awaitable[InProcessBroker | RedisBroker]]


@pytest.fixture(params=["memory", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    if request.param == "redis" and not REDIS_URL:
        pytest.skip("set LIVEGATE_TEST_REDIS_URL to run the Redis variant")
    return str(request.param)


@pytest.fixture
async def make_node(kind: str) -> AsyncIterator[NodeFactory]:
    """Brokers of one installation (same namespace); for Redis each is a separate node."""
    namespace = f"test:{uuid.uuid4().hex}:"
    created: list[InProcessBroker | RedisBroker] = []

    async def make(**options: Any) -> InProcessBroker | RedisBroker:
        node: InProcessBroker | RedisBroker
        if kind == "memory":
            node = InProcessBroker(**options)
        else:
            node = RedisBroker(REDIS_URL, namespace=namespace, **options)
        created.append(node)
        return node

    yield make
    for node in created:
        await node.close()


@pytest.fixture
async def broker(make_node: NodeFactory) -> InProcessBroker | RedisBroker:
    return await make_node()


async def drain(sub: Subscription, n: int) -> list[dict[str, Any]]:
    return [await sub.get(timeout=WAIT) for _ in range(n)]


def test_both_implementations_satisfy_the_protocols() -> None:
    memory: Broker = InProcessBroker()
    redis_node: Broker = RedisBroker("redis://127.0.0.1:1/0")
    assert isinstance(memory.subscribe("x"), Subscription)
    assert isinstance(redis_node.subscribe("x"), Subscription)


async def test_every_subscriber_of_a_channel_gets_the_message(broker: Broker) -> None:
    async with AsyncExitStack() as stack:
        subs = [await stack.enter_async_context(broker.subscribe("room:1")) for _ in range(3)]
        await broker.publish("room:1", {"text": "你好", "n": 1})
        for sub in subs:
            assert await sub.get(timeout=WAIT) == {"text": "你好", "n": 1}


async def test_channels_are_isolated(broker: Broker) -> None:
    async with broker.subscribe("room:a") as a, broker.subscribe("room:b") as b:
        await broker.publish("room:b", {"for": "b"})
        await broker.publish("room:a", {"for": "a"})
        await broker.publish("room:b", {"for": "b", "end": True})
        assert await a.get(timeout=WAIT) == {"for": "a"}
        assert await drain(b, 2) == [{"for": "b"}, {"for": "b", "end": True}]
        assert a.dropped == 0 and isinstance(a, FanoutSubscription) and a.pending == 0


async def test_order_is_kept_per_publisher(make_node: NodeFactory) -> None:
    node = await make_node()
    async with node.subscribe("room:order") as sub:

        async def publisher(name: str) -> None:
            for i in range(100):
                await node.publish("room:order", {"from": name, "i": i})

        await asyncio.gather(publisher("p1"), publisher("p2"))
        got = await drain(sub, 200)
    for name in ("p1", "p2"):
        assert [m["i"] for m in got if m["from"] == name] == list(range(100))


async def test_a_waiting_reader_is_woken_by_a_publish(broker: Broker) -> None:
    async with broker.subscribe("room:wake") as sub:
        reader = asyncio.create_task(sub.get(timeout=WAIT))
        await asyncio.sleep(0)  # let the reader start waiting (a yield, not a wait for time)
        await broker.publish("room:wake", {"wake": True})
        assert await reader == {"wake": True}


async def test_unsubscribe_stops_delivery_to_that_subscriber_only(broker: InProcessBroker | RedisBroker) -> None:
    async with broker.subscribe("room:u") as stays:
        leaves = broker.subscribe("room:u")
        await leaves.open()
        assert broker.local_subscriber_count("room:u") == 2
        await leaves.close()
        assert broker.local_subscriber_count("room:u") == 1
        await broker.publish("room:u", {"after": "close"})
        assert await stays.get(timeout=WAIT) == {"after": "close"}
        with pytest.raises(BrokerClosed):
            await leaves.get(timeout=WAIT)
        assert [m async for m in leaves] == []
    assert broker.local_subscriber_count() == 0


async def test_resubscribing_after_the_last_subscriber_left(broker: Broker) -> None:
    async with broker.subscribe("room:again"):
        pass
    async with broker.subscribe("room:again") as sub:
        await broker.publish("room:again", {"n": 2})
        assert await sub.get(timeout=WAIT) == {"n": 2}


async def test_one_subscription_to_several_channels(broker: Broker) -> None:
    async with broker.subscribe("room:x", "control") as sub:
        await broker.publish("control", {"cutoff": "room:x"})
        await broker.publish("room:x", {"text": "hi"})
        first, second = await sub.receive(timeout=WAIT), await sub.receive(timeout=WAIT)
        assert (first.channel, first.message) == ("control", {"cutoff": "room:x"})
        assert (second.channel, second.message) == ("room:x", {"text": "hi"})


async def test_async_iteration(broker: Broker) -> None:
    async with broker.subscribe("room:it") as sub:
        for i in range(5):
            await broker.publish("room:it", {"i": i})
        seen = []
        async with asyncio.timeout(WAIT):
            async for message in sub:
                seen.append(message["i"])
                if len(seen) == 5:
                    break
        assert seen == [0, 1, 2, 3, 4]


async def test_a_slow_subscriber_loses_its_oldest_messages_and_is_told(broker: Broker) -> None:
    async with broker.subscribe("room:slow", max_queue=3) as slow, broker.subscribe("room:slow") as fast:
        for i in range(10):  # nobody reads meanwhile: the publisher must not block
            await broker.publish("room:slow", {"i": i})
        assert [m["i"] for m in await drain(fast, 10)] == list(range(10))
        # Both were fed by the same dispatch, so the slow one has had everything by now.
        assert slow.dropped == 7 and fast.dropped == 0
        assert [m["i"] for m in await drain(slow, 3)] == [7, 8, 9]


async def test_get_times_out(broker: Broker) -> None:
    async with broker.subscribe("room:quiet") as sub:
        with pytest.raises(TimeoutError):
            await sub.get(timeout=0.01)


async def test_messages_are_json_objects(broker: Broker) -> None:
    async with broker.subscribe("room:json") as sub:
        nested = {"a": "é"}
        original = {"items": (1, 2), "nested": nested}
        await broker.publish("room:json", original)
        nested["a"] = "changed after publish"
        assert await sub.get(timeout=WAIT) == {"items": [1, 2], "nested": {"a": "é"}}
    for bad in ({"when": object()}, {"x": float("nan")}, ["not", "a", "dict"]):
        with pytest.raises(MessageNotSerializable):
            await broker.publish("room:json", bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed):
        await broker.publish("", {})


async def test_a_subscription_must_be_opened(broker: Broker) -> None:
    sub = broker.subscribe("room:closed-door")
    with pytest.raises(BrokerError):
        await sub.get(timeout=WAIT)


async def test_closing_the_broker_ends_subscriptions(make_node: NodeFactory) -> None:
    node = await make_node()
    sub = await node.subscribe("room:end").open()
    reader = asyncio.create_task(sub.get(timeout=WAIT))
    await asyncio.sleep(0)
    await node.close()
    with pytest.raises(BrokerClosed):
        await reader
    with pytest.raises(BrokerClosed):
        await node.publish("room:end", {})
    with pytest.raises(BrokerClosed):
        node.subscribe("room:end")
    await sub.close()  # harmless after the broker closed


async def test_make_broker_picks_by_url() -> None:
    for url in (None, "", "memory://"):
        node = make_broker(url)
        assert isinstance(node, InProcessBroker)
        await node.close()
    redis_node = make_broker("redis://127.0.0.1:6379/0", namespace="x:")
    assert isinstance(redis_node, RedisBroker) and redis_node.namespace == "x:"
    await redis_node.close()
    with pytest.raises(ValidationFailed) as info:
        make_broker("amqp://user:secret@host/")
    assert "secret" not in info.value.message


# ----------------------------------------------------------------------------- Redis only


@pytest.fixture
async def redis_admin(kind: str) -> AsyncIterator[aioredis.Redis]:
    if kind != "redis":
        pytest.skip("Redis-specific behaviour")
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def _connections_of(admin: aioredis.Redis, node: RedisBroker) -> list[dict[str, Any]]:
    return [c for c in await admin.client_list() if str(c.get("name", "")).startswith(node.node_name + "-")]


async def test_a_message_published_on_one_node_reaches_another(make_node: NodeFactory, kind: str) -> None:
    if kind == "memory":
        pytest.skip("the in-process broker is one node by design")
    node_a, node_b = await make_node(), await make_node()
    async with node_b.subscribe("room:cross") as on_b, node_a.subscribe("room:cross") as on_a:
        await node_a.publish("room:cross", {"from": "a"})
        await node_b.publish("room:cross", {"from": "b"})
        assert await drain(on_b, 2) == [{"from": "a"}, {"from": "b"}]
        assert await drain(on_a, 2) == [{"from": "a"}, {"from": "b"}]


async def test_many_local_subscribers_share_two_connections(
    make_node: NodeFactory, redis_admin: aioredis.Redis
) -> None:
    node = await make_node()
    assert isinstance(node, RedisBroker)
    channels = [f"room:{i}" for i in range(50)]
    subs = [node.subscribe(channels[i % 50]) for i in range(5000)]
    await asyncio.gather(*(sub.open() for sub in subs))
    for channel in channels:
        await node.publish(channel, {"channel": channel})
    for i, sub in enumerate(subs):
        assert await sub.get(timeout=WAIT) == {"channel": channels[i % 50]}
    connections = await _connections_of(redis_admin, node)
    assert len(connections) == 2, connections
    await asyncio.gather(*(sub.close() for sub in subs))


async def test_the_reader_reconnects_and_resubscribes(make_node: NodeFactory, redis_admin: aioredis.Redis) -> None:
    node = await make_node()
    assert isinstance(node, RedisBroker)
    async with node.subscribe("room:rc") as sub:
        [reader_conn] = [c for c in await _connections_of(redis_admin, node) if c["name"].endswith("-sub")]
        await redis_admin.execute_command("CLIENT", "KILL", "ID", reader_conn["id"])
        # Subscribing while the connection is down waits for the resubscription.
        async with node.subscribe("room:during-outage") as during:
            await node.publish("room:during-outage", {"during": True})
            assert await during.get(timeout=WAIT) == {"during": True}
        # Pub/sub is at most once: probes sent while the reader reconnects are lost, so keep
        # probing until one arrives.
        received = None
        for probe in range(100):
            await node.publish("room:rc", {"probe": probe})
            try:
                received = await sub.get(timeout=0.1)
                break
            except TimeoutError:
                continue
        assert received is not None and "probe" in received
        assert node.reconnects >= 1
        await node.publish("room:rc", {"after": "reconnect"})
        while (message := await sub.get(timeout=WAIT)).get("probe") is not None:
            pass
        assert message == {"after": "reconnect"}
    async with node.subscribe("room:rc-new") as fresh:
        await node.publish("room:rc-new", {"ok": True})
        assert await fresh.get(timeout=WAIT) == {"ok": True}


async def test_malformed_messages_are_dropped_and_counted(make_node: NodeFactory, redis_admin: aioredis.Redis) -> None:
    node = await make_node()
    assert isinstance(node, RedisBroker)
    async with node.subscribe("room:bad") as sub:
        await redis_admin.publish(node.namespace + "room:bad", b"\xff not json")
        await redis_admin.publish(node.namespace + "room:bad", b"[1, 2]")
        await node.publish("room:bad", {"good": True})
        assert await sub.get(timeout=WAIT) == {"good": True}
        assert node.malformed == 2


async def test_unreachable_redis_is_a_typed_error() -> None:
    node = RedisBroker("redis://127.0.0.1:1/0", subscribe_timeout=0.5)
    try:
        with pytest.raises(BrokerError) as info:
            await node.publish("room:1", {})
        assert info.value.http_status == 503
        with pytest.raises(BrokerError):
            await node.subscribe("room:1").open()
        assert node.local_subscriber_count() == 0
    finally:
        await node.close()
