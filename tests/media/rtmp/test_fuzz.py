"""Fuzzing: arbitrary and mutated bytes never raise anything but our typed errors (as
ConnectionFailed events), and a fuzzed connection never disturbs another one on the same
server."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livegate.media.rtmp.errors import RtmpProtocolError
from livegate.media.rtmp.events import ConnectionFailed, PeerClosed, PublishRequested
from livegate.media.rtmp.handshake import ClientHandshake
from livegate.media.rtmp.limits import RtmpLimits
from livegate.media.rtmp.server import RtmpServer
from livegate.media.rtmp.session import ServerConnection
from livegate.media.rtmp.state import LIVE_STATES, ConnState

from .support import AAC_FRAME, RecordingHandler, TcpPublisher, seeded_bytes, valid_transcript

SMALL = RtmpLimits(
    max_message_size=64 * 1024, max_command_size=4096, max_buffered_bytes=256 * 1024,
    max_chunk_size=8192, max_chunk_streams=8, max_amf_depth=6,
)


@functools.cache
def transcript() -> bytes:
    return valid_transcript(chunk_size=100)


@functools.cache
def handshake_prefix() -> bytes:
    """C0+C1 and a C2 that fits the server seeded with 4 (see ``feed``)."""
    client = ClientHandshake(seeded_bytes(3))
    server = ServerConnection(0.0, random_bytes=seeded_bytes(4))
    c0c1 = client.c0c1()
    server.receive_data(c0c1, 0.0)
    return c0c1 + client.receive_s0s1s2(server.data_to_send())


def feed(data: bytes, splits: list[int], limits: RtmpLimits = SMALL) -> ServerConnection:
    """Feed ``data`` in pieces; assert the invariants after every step."""
    conn = ServerConnection(0.0, limits, random_bytes=seeded_bytes(4))
    pos = 0
    now = 0.0
    step = 0
    while pos < len(data) and conn.state in LIVE_STATES:
        n = splits[step % len(splits)]
        step += 1
        now += 0.01
        events = conn.receive_data(data[pos : pos + n], now)
        pos += n
        for event in events:
            if isinstance(event, PublishRequested) and conn.state is ConnState.PUBLISH_PENDING:
                conn.accept_publish()
            if isinstance(event, ConnectionFailed):
                assert isinstance(event.error, RtmpProtocolError)
                assert event.error.code.startswith("rtmp_")
                assert conn.state is ConnState.ERROR
        assert isinstance(conn.data_to_send(), bytes)
        conn.handle_timer(now)
    if conn.state in LIVE_STATES or conn.state is ConnState.CLOSING:
        assert conn.receive_data(b"", now) == [PeerClosed()]
    assert conn.state in (ConnState.ERROR, ConnState.CLOSED)
    assert conn.get_timer() is None
    return conn


def test_the_unmutated_transcript_publishes_cleanly() -> None:
    conn = feed(transcript(), [1000])
    assert conn.state is ConnState.CLOSED and conn.error is None


splits = st.lists(st.integers(1, 3000), min_size=1, max_size=8)


@given(st.binary(max_size=3000), splits)
@settings(max_examples=150, deadline=None)
def test_arbitrary_bytes(data: bytes, pieces: list[int]) -> None:
    feed(data, pieces)


@given(st.binary(min_size=1, max_size=3000), splits)
@settings(max_examples=300, deadline=None)
def test_arbitrary_chunk_stream_after_a_valid_handshake(data: bytes, pieces: list[int]) -> None:
    feed(handshake_prefix() + data, pieces)


mutation = st.tuples(
    st.sampled_from(["flip", "set", "insert", "delete", "truncate"]),
    st.floats(0, 1),
    st.binary(min_size=1, max_size=16),
)


def mutate(data: bytes, mutations: list[tuple[str, float, bytes]]) -> bytes:
    out = bytearray(data)
    for op, where, blob in mutations:
        at = int(where * max(len(out) - 1, 0))
        if op == "flip" and out:
            out[at] ^= blob[0] or 1
        elif op == "set":
            out[at : at + len(blob)] = blob
        elif op == "insert":
            out[at:at] = blob
        elif op == "delete":
            del out[at : at + blob[0]]
        elif op == "truncate":
            del out[at:]
    return bytes(out)


@given(st.lists(mutation, min_size=1, max_size=6), splits)
@settings(max_examples=400, deadline=None)
def test_mutated_publish_sessions(mutations: list[tuple[str, float, bytes]], pieces: list[int]) -> None:
    # Mutations past the handshake are the interesting ones; bias them there.
    hs = len(handshake_prefix())
    data = transcript()
    head, body = data[:hs], data[hs:]
    feed(head + mutate(body, mutations), pieces)


# -- the adapter: a fuzzed connection never disturbs a live publisher ----------------------

fuzz_payload = st.one_of(
    st.binary(max_size=2000),
    st.binary(min_size=1, max_size=2000).map(lambda b: handshake_prefix() + b),
    st.lists(mutation, min_size=1, max_size=4).map(
        lambda ms: handshake_prefix() + mutate(transcript()[len(handshake_prefix()) :], ms)
    ),
)


def test_fuzzed_connections_never_disturb_a_live_publisher() -> None:
    loop = asyncio.new_event_loop()
    state: dict[str, Any] = {}

    async def setup() -> None:
        handler = RecordingHandler()
        server = RtmpServer(handler, SMALL)
        await server.start("127.0.0.1", 0)
        good = await TcpPublisher.open(server.port, "good-publisher-key")
        await good.publish()
        sink = await handler.sink_for("good-publisher-key")
        state.update(server=server, good=good, sink=sink, sent=0)

    async def one_fuzzer(payload: bytes) -> None:
        server: RtmpServer = state["server"]
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(payload)
            writer.write_eof()
            await writer.drain()
        except ConnectionError:
            pass
        async with asyncio.timeout(10):  # the server must hang up on every fuzzer
            while True:
                try:
                    if not await reader.read(65536):
                        break
                except ConnectionError:
                    break
        writer.close()
        # ... and the good publisher is still being served
        good: TcpPublisher = state["good"]
        sink = state["sink"]
        state["sent"] += 1
        await good.send_media("audio", state["sent"] * 20, AAC_FRAME)
        await sink.wait_for(lambda: len(sink.kinds("audio")) >= state["sent"])

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(fuzz_payload)
    def run(payload: bytes) -> None:
        loop.run_until_complete(one_fuzzer(payload))

    try:
        loop.run_until_complete(setup())
        run()
        sink = state["sink"]
        assert state["sent"] >= 20  # hypothesis really ran the examples
        assert sink.ends == []
        assert [m.timestamp_ms for m in sink.kinds("audio")] == [20 * i for i in range(1, state["sent"] + 1)]
        assert state["server"].active_stream_keys() >= {"good-publisher-key"}
    finally:
        if "server" in state:
            loop.run_until_complete(state["server"].stop())
            loop.run_until_complete(state["good"].close())
        loop.close()
    assert state["sink"].ends == ["server stopped"]
