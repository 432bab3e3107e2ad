"""The sans-IO server connection against the sans-IO client, in memory: no sockets, no clock."""

from __future__ import annotations

from typing import Any

import pytest

from livegate.media.rtmp import amf0
from livegate.media.rtmp import messages as msgs
from livegate.media.rtmp.chunk import ChunkWriter, RtmpMessage
from livegate.media.rtmp.client import (
    ClientConnection,
    ClientState,
    PublishStarted,
    Rejected,
    ServerCommand,
    ServerMessage,
)
from livegate.media.rtmp.errors import (
    AmfDepthExceeded,
    CommandError,
    CommandTooLarge,
    HandshakeTimeout,
    IdleTimeout,
    LocalProtocolError,
    MalformedMessage,
    MessageTooLarge,
    RtmpProtocolError,
    SetupTimeout,
    TooManyStreams,
)
from livegate.media.rtmp.events import (
    Connected,
    ConnectionFailed,
    ConnectRejected,
    Event,
    HandshakeCompleted,
    MediaReceived,
    MetadataReceived,
    PeerClosed,
    PlayRefused,
    PublishRequested,
    UnpublishRequested,
)
from livegate.media.rtmp.handshake import ClientHandshake
from livegate.media.rtmp.limits import RtmpLimits
from livegate.media.rtmp.session import ServerConnection
from livegate.media.rtmp.state import LIVE_STATES, TRANSITIONS, ConnState, Trigger, next_state

from .support import (
    AAC_FRAME,
    AVC_KEYFRAME,
    AVC_SEQUENCE_HEADER,
    published_pair,
    pump,
    seeded_bytes,
)


def of_type(events: list[Any], cls: type) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


NESTED_20: Any = 1.0
for _ in range(20):
    NESTED_20 = {"n": NESTED_20}


def failure(events: list[Event]) -> RtmpProtocolError:
    (failed,) = of_type(events, ConnectionFailed)
    assert isinstance(failed.error, RtmpProtocolError)
    return failed.error


# -- the happy path ------------------------------------------------------------------------


@pytest.mark.parametrize(("digest", "scheme", "chunk_size"), [(True, 0, 128), (True, 1, 4096), (False, 0, 60)])
def test_publish_flow_metadata_and_media(digest: bool, scheme: int, chunk_size: int) -> None:
    client = ClientConnection("KEY-1?token=abc", digest=digest, scheme=scheme, chunk_size=chunk_size,
                              tc_url="rtmp://127.0.0.1:1935/live?x=1", random_bytes=seeded_bytes(1))
    server = ServerConnection(0.0, random_bytes=seeded_bytes(2))
    events, client_events = pump(client, server)

    assert [type(e) for e in events] == [HandshakeCompleted, Connected, PublishRequested]
    assert events[0] == HandshakeCompleted(digest=digest)
    request = of_type(events, PublishRequested)[0]
    assert request.stream_key == "KEY-1" and request.app == "live" and request.publish_type == "live"
    assert request.tc_url == "rtmp://127.0.0.1:1935/live?x=1"
    assert request.connect_params["flashVer"].startswith("FMLE")
    assert server.state is ConnState.PUBLISHING and client.state is ClientState.PUBLISHING
    assert of_type(client_events, PublishStarted)
    assert client.server_chunk_size == 4096 and client.window_ack_size == 2_500_000

    commands = [c.name for c in of_type(client_events, ServerCommand)]
    assert commands == ["_result", "_result", "_result", "onFCPublish", "_result", "onStatus"]
    status = of_type(client_events, ServerCommand)[-1].values[1]
    assert status["code"] == "NetStream.Publish.Start" and status["level"] == "status"
    stream_begin = [m.message for m in of_type(client_events, ServerMessage) if m.message.type_id == msgs.USER_CONTROL]
    assert stream_begin[0].payload == b"\x00\x00" + (1).to_bytes(4, "big")

    client.send_metadata({"width": 320.0, "height": 240.0, "encoder": "test"})
    client.send_media("video", 0, AVC_SEQUENCE_HEADER)
    client.send_media("video", 0, AVC_KEYFRAME)
    client.send_media("audio", 23, AAC_FRAME)
    client.send_media("video", 40, AVC_KEYFRAME)
    events, _ = pump(client, server)
    (metadata,) = of_type(events, MetadataReceived)
    assert metadata.metadata == {"width": 320.0, "height": 240.0, "encoder": "test"}
    media = [e.message for e in of_type(events, MediaReceived)]
    assert [(m.kind, m.timestamp_ms) for m in media] == [
        ("data", 0), ("video", 0), ("video", 0), ("audio", 23), ("video", 40),
    ]
    assert media[0].payload == amf0.encode_all("onMetaData", amf0.EcmaArray(metadata.metadata))
    assert media[1].payload == AVC_SEQUENCE_HEADER and media[2].payload == AVC_KEYFRAME
    assert media[3].payload == AAC_FRAME

    client.unpublish()
    events, client_events = pump(client, server)
    assert of_type(events, UnpublishRequested) == [UnpublishRequested(1, "FCUnpublish")]
    assert server.state is ConnState.CONNECTED
    assert server.receive_data(b"", 1.0) == [PeerClosed()]
    assert server.state is ConnState.CLOSED


def test_extended_timestamps_reach_the_sink_unchanged() -> None:
    client, server, _ = published_pair()
    stamps = [0xFFFFF0, 0x1000000, 0x1000028, 0x7FFFFFFF, 0x80000000]
    for ts in stamps:
        client.send_media("audio", ts, AAC_FRAME)
    events, _ = pump(client, server)
    assert [e.message.timestamp_ms for e in of_type(events, MediaReceived)] == stamps


def test_bare_onmetadata_and_other_data_messages() -> None:
    client, server, _ = published_pair()
    sid = client.stream_id
    assert sid is not None
    client.send(RtmpMessage(5, msgs.DATA_AMF0, sid, 0, amf0.encode_all("onMetaData", {"fps": 25.0})))
    client.send(RtmpMessage(5, msgs.DATA_AMF0, sid, 9, amf0.encode_all("onCuePoint", {"name": "x"})))
    client.send(RtmpMessage(5, msgs.DATA_AMF0, sid, 9, amf0.encode_all("@clearDataFrame", "onMetaData")))
    client.send(RtmpMessage(5, msgs.DATA_AMF3, sid, 9, b"\x00" + amf0.encode_all("onTextData", {"t": "hi"})))
    client.send(RtmpMessage(5, msgs.DATA_AMF0, sid, 9, b""))
    events, _ = pump(client, server)
    assert [e.metadata for e in of_type(events, MetadataReceived)] == [{"fps": 25.0}]
    names = [amf0.decode_value(e.message.payload)[0] for e in of_type(events, MediaReceived)]
    assert names == ["onMetaData", "onCuePoint", "onTextData"]


def test_aggregate_messages_are_split_with_rebased_timestamps() -> None:
    client, server, _ = published_pair()
    sid = client.stream_id
    assert sid is not None

    def tag(type_id: int, ts: int, body: bytes) -> bytes:
        header = bytes([type_id]) + len(body).to_bytes(3, "big") + (ts & 0xFFFFFF).to_bytes(3, "big")
        return header + bytes([ts >> 24]) + b"\x00\x00\x00" + body + (11 + len(body)).to_bytes(4, "big")

    payload = tag(9, 500, AVC_KEYFRAME) + tag(8, 520, AAC_FRAME)
    client.send(RtmpMessage(7, msgs.AGGREGATE, sid, 1000, payload))
    events, _ = pump(client, server)
    media = [e.message for e in of_type(events, MediaReceived)]
    assert [(m.kind, m.timestamp_ms, m.payload) for m in media] == [
        ("video", 1000, AVC_KEYFRAME), ("audio", 1020, AAC_FRAME),
    ]


def test_media_on_other_streams_or_before_publish_is_dropped() -> None:
    client, server, _ = published_pair()
    client.send(RtmpMessage(7, msgs.VIDEO, 9, 0, AVC_KEYFRAME))
    client.send(RtmpMessage(7, msgs.VIDEO, 1, 0, b""))  # empty tags are keep-alives
    events, _ = pump(client, server)
    assert of_type(events, MediaReceived) == []
    assert server.dropped_messages == 1


# -- control messages ----------------------------------------------------------------------


def test_ping_request_is_answered_and_acknowledgements_follow_the_window() -> None:
    client, server, _ = published_pair()
    client.send(msgs.user_control(msgs.PING_REQUEST, 4242))
    client.send(msgs.window_ack_size(5000))
    client.send(msgs.set_peer_bandwidth(5000, 2))
    client.send(msgs.acknowledgement(10))
    _, client_events = pump(client, server)
    pongs = [m.message.payload for m in of_type(client_events, ServerMessage) if m.message.type_id == msgs.USER_CONTROL]
    assert pongs == [b"\x00\x07" + (4242).to_bytes(4, "big")]

    for i in range(12):
        client.send_media("video", i * 40, AVC_KEYFRAME)  # ~1 KiB each
    pump(client, server)
    assert client.acknowledgements
    assert client.acknowledgements[-1] <= server.bytes_received
    assert server.bytes_received - client.acknowledgements[-1] < 5000


def test_abort_message_discards_a_partial_message() -> None:
    client, server, _ = published_pair()
    sid = client.stream_id
    assert sid is not None
    # Start a 300-byte video message on chunk stream 9 but send only its first 128-byte chunk.
    first_chunk = bytes([9]) + bytes(3) + (300).to_bytes(3, "big") + b"\x09" + sid.to_bytes(4, "little")
    client.send_raw(first_chunk + bytes(128))
    client.send(msgs.abort(9))
    client.send_media("audio", 5, AAC_FRAME)
    events, _ = pump(client, server)
    assert [e.message.kind for e in of_type(events, MediaReceived)] == ["audio"]


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (RtmpMessage(2, msgs.SET_CHUNK_SIZE, 0, 0, b"\x00\x01"), MalformedMessage),
        (RtmpMessage(2, msgs.WINDOW_ACK_SIZE, 0, 0, bytes(4)), MalformedMessage),
        (RtmpMessage(2, msgs.SET_PEER_BANDWIDTH, 0, 0, bytes(4)), MalformedMessage),
        (RtmpMessage(2, msgs.USER_CONTROL, 0, 0, b"\x00"), MalformedMessage),
        (RtmpMessage(2, msgs.USER_CONTROL, 0, 0, b"\x00\x06\x00"), MalformedMessage),
        (msgs.set_chunk_size(1 << 20), RtmpProtocolError),
        (RtmpMessage(3, msgs.COMMAND_AMF0, 0, 0, b"\x02\x00\x04pub"), RtmpProtocolError),
        (RtmpMessage(3, msgs.COMMAND_AMF0, 0, 0, amf0.encode_all(1.0, 2.0)), CommandError),
        (RtmpMessage(3, msgs.COMMAND_AMF0, 0, 0, amf0.encode_all("publish", 9.0, None, "k")), CommandError),
        (RtmpMessage(3, msgs.COMMAND_AMF0, 0, 0, amf0.encode_all("deleteStream", 9.0, None, float("nan"))),
         CommandError),
        (RtmpMessage(3, msgs.COMMAND_AMF0, 0, 0, bytes(70_000)), CommandTooLarge),
        (RtmpMessage(3, msgs.COMMAND_AMF0, 0, 0, amf0.encode_all("x", 1.0, NESTED_20, max_depth=30)),
         AmfDepthExceeded),
    ],
)
def test_malformed_messages_fail_only_with_typed_errors(message: RtmpMessage, error: type[Exception]) -> None:
    client, server, _ = published_pair()
    client.send(message)
    events, _ = pump(client, server)
    assert isinstance(failure(events), error)
    assert server.state is ConnState.ERROR
    assert server.get_timer() is None
    with pytest.raises(LocalProtocolError):
        server.receive_data(b"more", 1.0)
    assert server.handle_timer(10_000.0) == []


def test_message_size_limit_closes_the_connection() -> None:
    client, server, _ = published_pair()
    header = bytes([7]) + bytes(3) + (9_000_000).to_bytes(3, "big") + b"\x09" + (1).to_bytes(4, "little")
    client.send_raw(header)
    events, _ = pump(client, server)
    assert isinstance(failure(events), MessageTooLarge)


# -- commands and refusals -----------------------------------------------------------------


def test_refusal_tells_the_client_why_and_closes() -> None:
    client = ClientConnection("bad-key", random_bytes=seeded_bytes(1))
    server = ServerConnection(0.0, random_bytes=seeded_bytes(2))
    events, client_events = pump(client, server, accept="Your credential has expired.")
    assert of_type(client_events, Rejected) == [Rejected("NetStream.Publish.BadName", "Your credential has expired.")]
    assert server.state is ConnState.CLOSING
    assert server.get_timer() is None
    assert server.receive_data(b"ignored while closing", 1.0) == []
    assert server.receive_data(b"", 1.0) == [PeerClosed()]
    assert server.state is ConnState.CLOSED


def test_unknown_application_is_rejected() -> None:
    client = ClientConnection("k", app="vod", random_bytes=seeded_bytes(1))
    server = ServerConnection(0.0)
    events, client_events = pump(client, server)
    assert of_type(events, ConnectRejected) == [ConnectRejected("vod")]
    assert of_type(client_events, Rejected)[0].code == "NetConnection.Connect.Rejected"
    assert server.state is ConnState.CLOSING


def test_app_name_with_query_and_slash_is_normalised() -> None:
    client = ClientConnection("k", app="live/?vhost=x", random_bytes=seeded_bytes(1))
    server = ServerConnection(0.0)
    events, _ = pump(client, server)
    assert of_type(events, Connected)[0].app == "live"


class RawPeer:
    """A hand-driven client: handshake, then whatever messages the test writes."""

    def __init__(self, server: ServerConnection) -> None:
        self.server = server
        self.writer = ChunkWriter()
        handshake = ClientHandshake(seeded_bytes(1))
        server.receive_data(handshake.c0c1(), 0.0)
        self.c2 = handshake.receive_s0s1s2(server.data_to_send())

    def send(self, *messages: RtmpMessage) -> list[Event]:
        data = self.c2 + b"".join(self.writer.write(m) for m in messages)
        self.c2 = b""
        return self.server.receive_data(data, 0.0)

    def replies(self) -> list[Any]:
        client = ClientConnection("unused")
        client.state = ClientState.CONNECTING  # read chunks only
        return of_type(client.receive_data(self.server.data_to_send()), Rejected)


CONNECT = msgs.command("connect", 1.0, {"app": "live", "tcUrl": "rtmp://h/live"})


def test_play_is_refused() -> None:
    peer = RawPeer(ServerConnection(0.0))
    events = peer.send(CONNECT, msgs.command("createStream", 2.0, None),
                       msgs.command("play", 0.0, None, "k", stream_id=1))
    assert of_type(events, PlayRefused)
    assert peer.server.state is ConnState.CLOSING
    assert peer.replies()[-1].code == "NetStream.Play.Failed"


def test_commands_before_connect_are_refused() -> None:
    peer = RawPeer(ServerConnection(0.0))
    events = peer.send(msgs.command("createStream", 2.0, None))
    assert isinstance(failure(events), CommandError)


def test_connect_twice_is_refused() -> None:
    peer = RawPeer(ServerConnection(0.0))
    events = peer.send(CONNECT, CONNECT)
    assert isinstance(failure(events), CommandError)


def test_unknown_commands_after_connect_are_ignored() -> None:
    client, server, _ = published_pair()
    client.send(msgs.command("_checkbw", 9.0, None))
    client.send(msgs.command("getStreamLength", 10.0, None, "x"))
    events, _ = pump(client, server)
    assert events == [] and server.state is ConnState.PUBLISHING


def test_publish_twice_on_one_connection_is_a_protocol_error() -> None:
    client, server, _ = published_pair()
    client.send(msgs.command("publish", 0.0, None, "other", "live", stream_id=1))
    events, _ = pump(client, server)
    assert isinstance(failure(events), CommandError)


def test_republish_after_unpublish_and_delete_stream() -> None:
    client, server, _ = published_pair()
    client.send(msgs.command("deleteStream", 0.0, None, 1.0))
    events, _ = pump(client, server)
    assert of_type(events, UnpublishRequested) == [UnpublishRequested(1, "deleteStream")]
    client.send(msgs.command("createStream", 30.0, None))
    client.send(msgs.command("publish", 0.0, None, "again", "live", stream_id=2))
    events, _ = pump(client, server)
    assert of_type(events, PublishRequested)[0].stream_key == "again"
    assert server.publishing_stream_id == 2


def test_close_stream_ends_the_publish() -> None:
    client, server, _ = published_pair()
    client.send(msgs.command("closeStream", 0.0, None, stream_id=1))
    events, _ = pump(client, server)
    assert of_type(events, UnpublishRequested) == [UnpublishRequested(1, "closeStream")]


def test_amf3_command_form_is_understood() -> None:
    client, server, _ = published_pair()
    body = b"\x00" + amf0.encode_all("FCUnpublish", 0.0, None, "k")
    client.send(RtmpMessage(3, msgs.COMMAND_AMF3, 0, 0, body))
    events, _ = pump(client, server)
    assert of_type(events, UnpublishRequested)


def test_create_stream_limit() -> None:
    client, server, _ = published_pair()
    for i in range(8):
        client.send(msgs.command("createStream", 40.0 + i, None))
    events, _ = pump(client, server)
    assert isinstance(failure(events), TooManyStreams)


def test_local_misuse_is_a_local_error() -> None:
    server = ServerConnection(0.0)
    with pytest.raises(LocalProtocolError):
        server.accept_publish()
    with pytest.raises(LocalProtocolError):
        server.refuse_publish("no")


def test_close_tells_a_publisher_why() -> None:
    client, server, _ = published_pair()
    server.close("cut off: violation")
    assert server.state is ConnState.CLOSING
    rejected = of_type(client.receive_data(server.data_to_send()), Rejected)
    assert rejected == [Rejected("NetConnection.Connect.Closed", "cut off: violation")]
    server.close("again")  # idempotent
    assert server.data_to_send() == b""


def test_event_reprs_never_show_the_stream_key() -> None:
    client = ClientConnection("super-secret-key", tc_url="rtmp://h/live?key=super-secret-key",
                              random_bytes=seeded_bytes(1))
    server = ServerConnection(0.0)
    events, _ = pump(client, server)
    assert events and all("super-secret-key" not in repr(e) for e in events)


# -- timers --------------------------------------------------------------------------------

LIMITS = RtmpLimits(handshake_timeout=5.0, setup_timeout=20.0, idle_timeout=30.0, ping_interval=10.0)


def test_handshake_timeout() -> None:
    server = ServerConnection(100.0, LIMITS)
    assert server.get_timer() == 105.0
    assert server.handle_timer(104.9) == []
    assert isinstance(failure(server.handle_timer(105.0)), HandshakeTimeout)
    assert server.state is ConnState.ERROR and server.get_timer() is None


def test_setup_timeout_for_a_connection_that_never_publishes() -> None:
    client = ClientConnection("k", random_bytes=seeded_bytes(1))
    server = ServerConnection(100.0, LIMITS)
    pump(client, server, 101.0, accept=False)
    assert server.state is ConnState.PUBLISH_PENDING  # pending is past the setup deadline's reach
    idle = ServerConnection(100.0, LIMITS)
    client = ClientConnection("k", random_bytes=seeded_bytes(1))
    idle.receive_data(client.data_to_send(), 101.0)
    client.receive_data(idle.data_to_send())
    idle.receive_data(client.data_to_send()[:1536], 102.0)  # C2 only
    assert idle.state is ConnState.AWAIT_CONNECT
    assert idle.get_timer() == 112.0  # the first ping comes before the setup deadline
    idle.handle_timer(112.0)
    assert idle.data_to_send()[7] == msgs.USER_CONTROL
    assert idle.get_timer() == 120.0
    assert isinstance(failure(idle.handle_timer(120.0)), SetupTimeout)


def test_idle_publisher_is_pinged_then_timed_out_and_a_pong_keeps_it() -> None:
    client, server, _ = published_pair(now=0.0)
    assert server.get_timer() == 10.0
    assert server.handle_timer(10.0) == []
    _, client_events = pump(client, server, 10.0)  # the client answers the ping
    pings = [m.message.payload[:2] for m in of_type(client_events, ServerMessage)
             if m.message.type_id == msgs.USER_CONTROL]
    assert pings == [b"\x00\x06"]
    assert server.get_timer() == 20.0  # the pong counted as traffic
    server.handle_timer(20.0)
    assert server.get_timer() == 30.0  # no answer this time
    server.handle_timer(30.0)
    assert server.get_timer() == 40.0  # the idle deadline, counted from the pong
    assert isinstance(failure(server.handle_timer(40.0)), IdleTimeout)


def test_pings_can_be_disabled() -> None:
    limits = RtmpLimits(ping_interval=None, idle_timeout=7.0)
    client = ClientConnection("k", random_bytes=seeded_bytes(1))
    server = ServerConnection(0.0, limits)
    pump(client, server, 1.0)
    assert server.state is ConnState.PUBLISHING
    assert server.get_timer() == 8.0


# -- the state table -----------------------------------------------------------------------


def test_every_live_state_can_fail_close_or_be_closed_and_terminal_states_are_final() -> None:
    for state in LIVE_STATES:
        assert next_state(state, Trigger.PROTOCOL_ERROR) is ConnState.ERROR
        assert next_state(state, Trigger.TIMEOUT) is ConnState.ERROR
        assert next_state(state, Trigger.PEER_CLOSED) is ConnState.CLOSED
        assert next_state(state, Trigger.LOCAL_CLOSE) is ConnState.CLOSING
    assert TRANSITIONS[ConnState.ERROR] == {} and TRANSITIONS[ConnState.CLOSED] == {}
    assert set(TRANSITIONS) == set(ConnState)


def test_limits_validate_themselves() -> None:
    with pytest.raises(ValueError):
        RtmpLimits(idle_timeout=0)
    with pytest.raises(ValueError):
        RtmpLimits(max_buffered_bytes=10)
    with pytest.raises(ValueError):
        RtmpLimits(ping_interval=-1)
    with pytest.raises(ValueError):
        RtmpLimits(server_chunk_size=64)
