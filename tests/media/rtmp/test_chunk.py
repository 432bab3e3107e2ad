from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livegate.media.rtmp.chunk import ChunkReader, ChunkWriter, RtmpMessage, basic_header
from livegate.media.rtmp.errors import (
    BufferLimitExceeded,
    ChunkSizeTooLarge,
    ChunkStreamError,
    InvalidChunkSize,
    MessageTooLarge,
    TooManyChunkStreams,
)
from livegate.media.rtmp.limits import RtmpLimits


def read_all(data: bytes, *, chunk_size: int = 128, limits: RtmpLimits | None = None) -> list[RtmpMessage]:
    reader = ChunkReader(limits or RtmpLimits())
    reader.set_chunk_size(chunk_size)
    reader.receive(data)
    out = []
    while (message := reader.next_message()) is not None:
        out.append(message)
    return out


def u24(v: int) -> bytes:
    return v.to_bytes(3, "big")


def fmt0(csid: int, ts: int, length: int, type_id: int, msid: int) -> bytes:
    return basic_header(0, csid) + u24(ts) + u24(length) + bytes([type_id]) + msid.to_bytes(4, "little")


def fmt1(csid: int, delta: int, length: int, type_id: int) -> bytes:
    return basic_header(1, csid) + u24(delta) + u24(length) + bytes([type_id])


def fmt2(csid: int, delta: int) -> bytes:
    return basic_header(2, csid) + u24(delta)


def fmt3(csid: int) -> bytes:
    return basic_header(3, csid)


# -- the spec's examples (RTMP 1.0, 5.3.2) -------------------------------------------------


def test_spec_example_1_audio_messages_with_fmt_0_2_3_3() -> None:
    payload = bytes(range(32))
    data = (
        fmt0(3, 1000, 32, 8, 12345) + payload
        + fmt2(3, 20) + payload
        + fmt3(3) + payload
        + fmt3(3) + payload
    )
    messages = read_all(data)
    assert [m.timestamp for m in messages] == [1000, 1020, 1040, 1060]
    assert all(m.type_id == 8 and m.stream_id == 12345 and m.payload == payload for m in messages)


def test_spec_example_2_one_message_across_three_chunks() -> None:
    payload = bytes(i % 251 for i in range(307))
    data = fmt0(4, 1000, 307, 9, 12346) + payload[:128] + fmt3(4) + payload[128:256] + fmt3(4) + payload[256:]
    (message,) = read_all(data)
    assert message == RtmpMessage(4, 9, 12346, 1000, payload)


def test_fmt_1_changes_length_and_type_and_adds_a_delta() -> None:
    data = fmt0(5, 100, 2, 20, 1) + b"ab" + fmt1(5, 33, 3, 18) + b"cde" + fmt2(5, 7) + b"fgh"
    messages = read_all(data)
    assert [(m.timestamp, m.type_id, m.stream_id, m.payload) for m in messages] == [
        (100, 20, 1, b"ab"), (133, 18, 1, b"cde"), (140, 18, 1, b"fgh"),
    ]


def test_fmt_3_after_fmt_0_repeats_the_absolute_timestamp_as_delta() -> None:
    # Spec 5.3.1.2.4: the delta of a type 3 chunk following a type 0 chunk is that timestamp.
    data = fmt0(3, 40, 1, 8, 1) + b"x" + fmt3(3) + b"y"
    assert [m.timestamp for m in read_all(data)] == [40, 80]


def test_fmt_1_may_open_a_chunk_stream_but_fmt_2_and_3_may_not() -> None:
    assert read_all(fmt1(9, 5, 1, 8) + b"z")[0].timestamp == 5
    for header in (fmt2(9, 5), fmt3(9)):
        with pytest.raises(ChunkStreamError):
            read_all(header + b"z")


def test_zero_length_messages_complete_at_once() -> None:
    messages = read_all(fmt0(3, 1, 0, 20, 0) + fmt3(3))
    assert [(m.timestamp, m.payload) for m in messages] == [(1, b""), (2, b"")]


# -- chunk stream id forms -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("csid", "header"),
    [
        (2, b"\x02"),
        (63, b"\x3f"),
        (64, b"\x00\x00"),
        (319, b"\x00\xff"),
        (320, b"\x01\x00\x01"),
        (65599, b"\x01\xff\xff"),
    ],
)
def test_chunk_stream_ids_in_one_two_and_three_bytes(csid: int, header: bytes) -> None:
    assert basic_header(0, csid) == header
    (message,) = read_all(header + u24(7) + u24(1) + b"\x08" + b"\x01\x00\x00\x00" + b"!")
    assert (message.chunk_stream_id, message.timestamp, message.payload) == (csid, 7, b"!")


@pytest.mark.parametrize("csid", [0, 1, 65600])
def test_basic_header_refuses_ids_outside_the_range(csid: int) -> None:
    with pytest.raises(ValueError):
        basic_header(0, csid)


# -- extended timestamps -------------------------------------------------------------------


def test_extended_timestamp_on_fmt_0_and_repeated_on_continuation_chunks() -> None:
    ts = 0x01020304
    ext = ts.to_bytes(4, "big")
    payload = bytes(200)
    data = fmt0(3, 0xFFFFFF, 200, 9, 1) + ext + payload[:128] + fmt3(3) + ext + payload[128:]
    (message,) = read_all(data)
    assert message.timestamp == ts and message.payload == payload


def test_extended_delta_on_fmt_1_and_on_a_new_message_in_fmt_3() -> None:
    delta = 0x01000000
    ext = delta.to_bytes(4, "big")
    data = (
        fmt0(6, 10, 1, 8, 1) + b"a"
        + fmt1(6, 0xFFFFFF, 1, 8) + ext + b"b"
        + fmt3(6) + ext + b"c"  # a new message: its delta is read from the repeated field
    )
    assert [m.timestamp for m in read_all(data)] == [10, 10 + delta, 10 + 2 * delta]


def test_timestamps_wrap_at_32_bits() -> None:
    data = fmt0(3, 0xFFFFFF, 1, 8, 1) + (0xFFFFFFF0).to_bytes(4, "big") + b"a" + fmt2(3, 0x20) + b"b"
    assert [m.timestamp for m in read_all(data)] == [0xFFFFFFF0, 0x10]


def test_writer_puts_extended_timestamps_where_the_reader_expects_them() -> None:
    writer = ChunkWriter(128, compress=True)
    # equal extended deltas make the writer use fmt 3 for new messages, with the field repeated
    sent = [RtmpMessage(3, 9, 1, ts, bytes(300)) for ts in (0xFFFFFE, 0x1FFFFFE, 0x2FFFFFE, 0x3FFFFFE)]
    chunks = [writer.write(m) for m in sent]
    assert [c[0] >> 6 for c in chunks] == [0, 2, 3, 3]
    assert read_all(b"".join(chunks)) == sent


# -- interleaving, abort, chunk size ------------------------------------------------------


def test_messages_on_different_chunk_streams_interleave() -> None:
    a, b = bytes([1]) * 200, bytes([2]) * 150
    data = fmt0(4, 0, 200, 8, 1) + a[:128] + fmt0(5, 0, 150, 9, 1) + b[:128] + fmt3(4) + a[128:] + fmt3(5) + b[128:]
    messages = read_all(data)
    assert [(m.chunk_stream_id, m.payload) for m in messages] == [(4, a), (5, b)]


def test_abort_drops_the_unfinished_message() -> None:
    reader = ChunkReader(RtmpLimits())
    reader.receive(fmt0(4, 0, 200, 8, 1) + bytes(128))
    assert reader.next_message() is None
    assert reader.buffered_bytes == 128
    reader.abort(4)
    assert reader.buffered_bytes == 0
    reader.abort(99)  # unknown chunk streams are fine
    reader.receive(fmt0(4, 5, 1, 8, 1) + b"n")
    message = reader.next_message()
    assert message is not None and message.payload == b"n"


def test_a_new_header_before_the_message_is_complete_is_an_error() -> None:
    with pytest.raises(ChunkStreamError):
        read_all(fmt0(4, 0, 200, 8, 1) + bytes(128) + fmt0(4, 0, 10, 8, 1) + bytes(10))


def test_chunk_size_applies_from_the_next_chunk() -> None:
    reader = ChunkReader(RtmpLimits())
    reader.receive(fmt0(3, 0, 300, 9, 1) + bytes(128))
    assert reader.next_message() is None
    reader.set_chunk_size(4096)
    reader.receive(fmt3(3) + bytes(172))
    message = reader.next_message()
    assert message is not None and len(message.payload) == 300


def test_byte_at_a_time_gives_the_same_messages() -> None:
    writer = ChunkWriter(64, compress=True)
    sent = [RtmpMessage(3 + i % 3, 8 + i % 2, 1, i * 33, bytes([i]) * (i * 17)) for i in range(12)]
    data = b"".join(writer.write(m) for m in sent)
    reader = ChunkReader(RtmpLimits())
    reader.set_chunk_size(64)
    got = []
    for i in range(len(data)):
        reader.receive(data[i : i + 1])
        while (message := reader.next_message()) is not None:
            got.append(message)
    assert got == sent


# -- limits --------------------------------------------------------------------------------


def test_a_declared_length_above_the_limit_is_refused_before_any_payload() -> None:
    limits = RtmpLimits(max_message_size=1000, max_command_size=1000)
    with pytest.raises(MessageTooLarge) as info:
        read_all(fmt0(3, 0, 1001, 9, 1), limits=limits)
    assert info.value.code == "rtmp_message_too_large"


def test_too_many_chunk_streams() -> None:
    limits = RtmpLimits(max_chunk_streams=3)
    data = b"".join(fmt0(csid, 0, 1, 8, 1) + b"x" for csid in (3, 4, 5, 6))
    with pytest.raises(TooManyChunkStreams):
        read_all(data, limits=limits)


def test_buffered_bytes_over_the_limit() -> None:
    limits = RtmpLimits(max_message_size=1000, max_chunk_size=1000, max_buffered_bytes=2500, max_command_size=500)
    data = b"".join(fmt0(csid, 0, 1000, 9, 1) + bytes(900) for csid in (3, 4, 5))
    with pytest.raises(BufferLimitExceeded) as info:
        read_all(data, chunk_size=900, limits=limits)
    assert info.value.details["limit"] == 2500


@pytest.mark.parametrize(("size", "error"), [(0, InvalidChunkSize), (0x80000000, InvalidChunkSize),
                                              (65537, ChunkSizeTooLarge)])
def test_set_chunk_size_bounds(size: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        ChunkReader(RtmpLimits()).set_chunk_size(size)


# -- property: writer and reader agree -----------------------------------------------------

message_strategy = st.builds(
    RtmpMessage,
    st.sampled_from([2, 3, 4, 63, 64, 300, 65599]),
    st.sampled_from([8, 9, 18, 20]),
    st.sampled_from([0, 1, 7]),
    st.one_of(st.integers(0, 2000), st.integers(0xFFFFF0, 0x1000010), st.integers(0, 0xFFFFFFFF)),
    st.binary(max_size=700),
)


@given(
    st.lists(message_strategy, max_size=25),
    st.sampled_from([1, 7, 128, 300, 4096]),
    st.booleans(),
    st.lists(st.integers(1, 400), min_size=1, max_size=10),
)
@settings(max_examples=150, deadline=None)
def test_any_messages_survive_the_chunk_stream(
    sent: list[RtmpMessage], chunk_size: int, compress: bool, splits: list[int]
) -> None:
    writer = ChunkWriter(chunk_size, compress=compress)
    data = b"".join(writer.write(m) for m in sent)
    reader = ChunkReader(RtmpLimits())
    reader.set_chunk_size(chunk_size)
    got: list[RtmpMessage] = []
    pos = 0
    step = 0
    while pos < len(data):
        n = splits[step % len(splits)]
        step += 1
        reader.receive(data[pos : pos + n])
        pos += n
        while (message := reader.next_message()) is not None:
            got.append(message)
    assert got == sent
    assert reader.buffered_bytes == 0
