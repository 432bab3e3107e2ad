"""The asyncio adapter over real TCP sockets, driven by the sans-IO test client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from livegate.core.clock import ManualClock
from livegate.media.rtmp import messages as msgs
from livegate.media.rtmp.chunk import RtmpMessage
from livegate.media.rtmp.client import PublishStarted, Rejected
from livegate.media.rtmp.limits import RtmpLimits
from livegate.media.rtmp.server import (
    REASON_HANDLER_FAILED,
    REASON_KEY_IN_USE,
    RtmpServer,
    key_tag,
)
from livegate.media.types import MediaMessage, PublishDecision, PublishRequest

from .support import AAC_FRAME, AVC_KEYFRAME, AVC_SEQUENCE_HEADER, RecordingHandler, RecordingSink, TcpPublisher

KEY = "live_7f3a9c2e5b1d4a68"


@pytest.fixture
async def handler() -> RecordingHandler:
    return RecordingHandler(refuse={"refused-key": "Identity verification is not complete (Art. 12)."})


@pytest.fixture
async def server(handler: RecordingHandler) -> AsyncIterator[RtmpServer]:
    srv = RtmpServer(handler)
    await srv.start("127.0.0.1", 0)
    yield srv
    await srv.stop()


async def test_publish_media_and_unpublish(server: RtmpServer, handler: RecordingHandler) -> None:
    pub = await TcpPublisher.open(server.port, KEY + "?session=1", tc_url=f"rtmp://127.0.0.1:{server.port}/live")
    assert isinstance(await pub.publish(), PublishStarted)
    (request,) = handler.requests
    assert request.app == "live" and request.stream_key == KEY
    host, port = request.peer.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) == pub.writer.get_extra_info("sockname")[1]
    assert request.tc_url.endswith("/live") and request.connect_params["app"] == "live"
    assert server.active_stream_keys() == {KEY}

    sink = await handler.sink_for(KEY)
    pub.client.send_metadata({"width": 640.0})
    await pub.send_media("video", 0, AVC_SEQUENCE_HEADER)
    await pub.send_media("video", 0, AVC_KEYFRAME)
    await pub.send_media("audio", 21, AAC_FRAME)
    await sink.wait_for(lambda: len(sink.media) >= 4)
    assert sink.metadata == [{"width": 640.0}]
    assert sink.media[1:] == [
        MediaMessage("video", 0, AVC_SEQUENCE_HEADER),
        MediaMessage("video", 0, AVC_KEYFRAME),
        MediaMessage("audio", 21, AAC_FRAME),
    ]

    pub.client.unpublish()
    await pub.flush()
    await sink.wait_for(lambda: bool(sink.ends))
    assert sink.ends == ["unpublished"]
    assert server.active_stream_keys() == frozenset()
    await pub.close()


async def test_one_connection_may_publish_again_after_unpublishing(
    server: RtmpServer, handler: RecordingHandler
) -> None:
    pub = await TcpPublisher.open(server.port, KEY)
    await pub.publish()
    first = await handler.sink_for(KEY)
    pub.client.send(msgs.command("FCUnpublish", 6.0, None, KEY))
    pub.client.send(msgs.command("deleteStream", 7.0, None, 1.0))
    pub.client.send(msgs.command("createStream", 8.0, None))
    pub.client.send(msgs.command("publish", 0.0, None, "second-key", "live", stream_id=2))
    await pub.flush()
    second = await handler.sink_for("second-key")
    pub.client.send(RtmpMessage(6, msgs.AUDIO, 2, 7, AAC_FRAME))
    await pub.flush()
    await second.wait_for(lambda: len(second.media) == 1)
    assert first.ends == ["unpublished"] and first.media == []
    assert server.active_stream_keys() == {"second-key"}
    await pub.close()
    await second.wait_for(lambda: bool(second.ends))
    assert second.ends == ["disconnected"] and first.ends == ["unpublished"]


async def test_a_refused_key_hears_the_reason_and_is_hung_up_on(server: RtmpServer) -> None:
    pub = await TcpPublisher.open(server.port, "refused-key")
    answer = await pub.publish()
    assert answer == Rejected("NetStream.Publish.BadName", "Identity verification is not complete (Art. 12).")
    await pub.wait_closed()
    assert server.active_stream_keys() == frozenset()


async def test_one_publisher_per_key(server: RtmpServer, handler: RecordingHandler) -> None:
    first = await TcpPublisher.open(server.port, KEY)
    assert isinstance(await first.publish(), PublishStarted)
    second = await TcpPublisher.open(server.port, KEY + "?other=query")
    assert await second.publish() == Rejected("NetStream.Publish.BadName", REASON_KEY_IN_USE)
    await second.wait_closed()
    assert len(handler.requests) == 1  # the handler was not even asked

    sink = await handler.sink_for(KEY)
    await first.send_media("audio", 1, AAC_FRAME)
    await sink.wait_for(lambda: len(sink.media) == 1)
    await first.close()
    await sink.wait_for(lambda: bool(sink.ends))
    assert sink.ends == ["disconnected"]

    third = await TcpPublisher.open(server.port, KEY)
    assert isinstance(await third.publish(), PublishStarted)
    await third.close()


async def test_a_key_being_decided_is_reserved(server: RtmpServer, handler: RecordingHandler) -> None:
    handler.gate = asyncio.Event()
    first = await TcpPublisher.open(server.port, KEY)
    first_answer = asyncio.create_task(first.publish())
    await asyncio.wait_for(handler.entered.wait(), 10)
    second = await TcpPublisher.open(server.port, KEY)
    assert await second.publish() == Rejected("NetStream.Publish.BadName", REASON_KEY_IN_USE)
    assert server.active_stream_keys() == frozenset()  # decided ones only
    handler.gate.set()
    assert isinstance(await first_answer, PublishStarted)
    assert server.active_stream_keys() == {KEY}
    await first.close()
    await second.close()


async def test_close_publisher_cuts_off_at_once(server: RtmpServer, handler: RecordingHandler) -> None:
    pub = await TcpPublisher.open(server.port, KEY)
    assert isinstance(await pub.publish(), PublishStarted)
    sink = await handler.sink_for(KEY)
    await pub.send_media("video", 0, AVC_KEYFRAME)
    await sink.wait_for(lambda: len(sink.media) == 1)

    assert await server.close_publisher(KEY, "cut off: violent content") is True
    assert sink.ends == ["cut off: violent content"]  # ended before close_publisher returned
    assert server.active_stream_keys() == frozenset()
    assert await server.close_publisher(KEY, "again") is False

    await pub.until(lambda events: any(isinstance(e, Rejected) for e in events))
    assert [e for e in pub.events if isinstance(e, Rejected)] == [
        Rejected("NetConnection.Connect.Closed", "cut off: violent content")
    ]
    await pub.wait_closed()
    assert sink.ends == ["cut off: violent content"]  # exactly once
    assert len(sink.media) == 1


async def test_close_publisher_of_unknown_key(server: RtmpServer) -> None:
    assert await server.close_publisher("nobody", "x") is False


async def test_close_publisher_while_the_decision_is_pending(server: RtmpServer, handler: RecordingHandler) -> None:
    handler.gate = asyncio.Event()
    pub = await TcpPublisher.open(server.port, KEY)
    answer = asyncio.create_task(pub.publish())
    await asyncio.wait_for(handler.entered.wait(), 10)
    assert await server.close_publisher(KEY, "cut off while joining") is True
    handler.gate.set()
    sink = await handler.sink_for(KEY)
    await sink.wait_for(lambda: bool(sink.ends))
    assert sink.ends == ["cut off while joining"]
    result = await answer
    assert isinstance(result, Rejected)
    assert server.active_stream_keys() == frozenset()


async def test_a_failing_handler_refuses_politely(server: RtmpServer, handler: RecordingHandler) -> None:
    async def broken(request: PublishRequest) -> PublishDecision:
        raise RuntimeError("database is down")

    handler.on_publish = broken  # type: ignore[method-assign]
    pub = await TcpPublisher.open(server.port, KEY)
    assert await pub.publish() == Rejected("NetStream.Publish.BadName", REASON_HANDLER_FAILED)
    await pub.wait_closed()


async def test_a_protocol_error_ends_the_stream_with_its_code(server: RtmpServer, handler: RecordingHandler) -> None:
    pub = await TcpPublisher.open(server.port, KEY)
    await pub.publish()
    sink = await handler.sink_for(KEY)
    pub.client.send(msgs.set_chunk_size(10_000_000))
    await pub.flush()
    await pub.wait_closed()
    await sink.wait_for(lambda: bool(sink.ends))
    assert sink.ends == ["protocol error: rtmp_chunk_size_too_large"]


async def test_a_failing_sink_closes_only_its_publisher(server: RtmpServer, handler: RecordingHandler) -> None:
    class ExplodingSink(RecordingSink):
        def on_media(self, message: MediaMessage) -> None:
            raise ValueError("pipeline bug")

    exploding = ExplodingSink()

    async def decide(request: PublishRequest) -> PublishDecision:
        if request.stream_key == "explodes":
            return PublishDecision.accept(exploding)
        return await RecordingHandler.on_publish(handler, request)

    handler.on_publish = decide  # type: ignore[method-assign]
    bad = await TcpPublisher.open(server.port, "explodes")
    good = await TcpPublisher.open(server.port, KEY)
    await bad.publish()
    await good.publish()
    await bad.send_media("audio", 0, AAC_FRAME)
    await bad.wait_closed()
    assert exploding.ends == ["internal error: the stream sink failed"]
    sink = await handler.sink_for(KEY)
    await good.send_media("audio", 0, AAC_FRAME)
    await sink.wait_for(lambda: len(sink.media) == 1)
    assert sink.ends == []
    await good.close()


async def test_stop_ends_every_stream() -> None:
    handler = RecordingHandler()
    server = RtmpServer(handler)
    await server.start("127.0.0.1", 0)
    pubs = [await TcpPublisher.open(server.port, f"k{i}") for i in range(3)]
    for pub in pubs:
        await pub.publish()
    sinks = [await handler.sink_for(f"k{i}") for i in range(3)]
    await server.stop()
    assert [s.ends for s in sinks] == [["server stopped"]] * 3
    for pub in pubs:
        await pub.wait_closed()
    with pytest.raises(ConnectionError):
        await asyncio.open_connection("127.0.0.1", pubs[0].writer.get_extra_info("peername")[1])


async def test_handshake_timeout_hangs_up() -> None:
    server = RtmpServer(RecordingHandler(), RtmpLimits(handshake_timeout=0.2))
    await server.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"\x03")
        async with asyncio.timeout(10):
            assert await reader.read() == b""  # waits on the server closing, not on a clock
        writer.close()
    finally:
        await server.stop()


async def test_connection_limit() -> None:
    server = RtmpServer(RecordingHandler(), RtmpLimits(max_connections=1))
    await server.start("127.0.0.1", 0)
    try:
        first = await TcpPublisher.open(server.port, "a")
        await first.publish()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"\x03" + bytes(1536))
        async with asyncio.timeout(10):
            try:
                assert await reader.read() == b""
            except ConnectionResetError:
                pass
        writer.close()
        await first.close()
    finally:
        await server.stop()


async def test_a_manual_clock_drives_the_timers() -> None:
    clock = ManualClock()
    handler = RecordingHandler()
    server = RtmpServer(handler, clock=clock)
    await server.start("127.0.0.1", 0)
    try:
        pub = await TcpPublisher.open(server.port, KEY)
        assert isinstance(await pub.publish(), PublishStarted)
        sink = await handler.sink_for(KEY)
        await pub.send_media("audio", 5, AAC_FRAME)
        await sink.wait_for(lambda: len(sink.media) == 1)
        await pub.close()
    finally:
        await server.stop()


async def test_lifecycle_errors() -> None:
    server = RtmpServer(RecordingHandler())
    with pytest.raises(RuntimeError):
        _ = server.port
    await server.start("127.0.0.1", 0)
    assert server.port > 0
    with pytest.raises(RuntimeError):
        await server.start("127.0.0.1", 0)
    await server.stop()
    await server.stop()  # idempotent


async def test_stream_keys_never_reach_the_logs(
    server: RtmpServer, handler: RecordingHandler, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="livegate.media.rtmp")
    handler.refuse["refused-" + KEY] = "no"
    pub = await TcpPublisher.open(server.port, KEY)
    await pub.publish()
    dup = await TcpPublisher.open(server.port, KEY)
    await dup.publish()
    refused = await TcpPublisher.open(server.port, "refused-" + KEY)
    await refused.publish()
    await server.close_publisher(KEY, "cut")
    await pub.wait_closed()
    for p in (dup, refused):
        await p.wait_closed()
    text = caplog.text
    assert key_tag(KEY) in text
    assert KEY not in text


def test_key_tag_is_short_and_stable() -> None:
    tag: Any = key_tag(KEY)
    assert tag == key_tag(KEY) and tag.startswith("key#") and len(tag) == 14 and KEY not in tag
