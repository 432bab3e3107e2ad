"""RTMP message types, and builders and parsers for the small fixed-shape ones.

Protocol control messages (types 1-6) travel on chunk stream 2 and message stream 0; the
user control message (type 4) carries stream events and pings. Commands (type 20, or 17
with a leading zero byte for the AMF3 form) are AMF0 values: a name, a transaction id, a
command object and arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from livegate.media.rtmp import amf0
from livegate.media.rtmp.chunk import RtmpMessage
from livegate.media.rtmp.errors import MalformedMessage

# message type ids
SET_CHUNK_SIZE: Final = 1
ABORT: Final = 2
ACKNOWLEDGEMENT: Final = 3
USER_CONTROL: Final = 4
WINDOW_ACK_SIZE: Final = 5
SET_PEER_BANDWIDTH: Final = 6
AUDIO: Final = 8
VIDEO: Final = 9
DATA_AMF3: Final = 15
SHARED_OBJECT_AMF3: Final = 16
COMMAND_AMF3: Final = 17
DATA_AMF0: Final = 18
SHARED_OBJECT_AMF0: Final = 19
COMMAND_AMF0: Final = 20
AGGREGATE: Final = 22

# user control event types
STREAM_BEGIN: Final = 0
STREAM_EOF: Final = 1
STREAM_DRY: Final = 2
SET_BUFFER_LENGTH: Final = 3
STREAM_IS_RECORDED: Final = 4
PING_REQUEST: Final = 6
PING_RESPONSE: Final = 7

# chunk stream ids we send on
CSID_CONTROL: Final = 2
CSID_COMMAND: Final = 3
CSID_STREAM_STATUS: Final = 5
CSID_AUDIO: Final = 6
CSID_VIDEO: Final = 7

PEER_BANDWIDTH_HARD: Final = 0
PEER_BANDWIDTH_SOFT: Final = 1
PEER_BANDWIDTH_DYNAMIC: Final = 2


def _control(type_id: int, payload: bytes) -> RtmpMessage:
    return RtmpMessage(CSID_CONTROL, type_id, 0, 0, payload)


def set_chunk_size(size: int) -> RtmpMessage:
    return _control(SET_CHUNK_SIZE, size.to_bytes(4, "big"))


def abort(chunk_stream_id: int) -> RtmpMessage:
    return _control(ABORT, chunk_stream_id.to_bytes(4, "big"))


def acknowledgement(sequence_number: int) -> RtmpMessage:
    return _control(ACKNOWLEDGEMENT, (sequence_number & 0xFFFFFFFF).to_bytes(4, "big"))


def window_ack_size(size: int) -> RtmpMessage:
    return _control(WINDOW_ACK_SIZE, size.to_bytes(4, "big"))


def set_peer_bandwidth(size: int, limit_type: int = PEER_BANDWIDTH_DYNAMIC) -> RtmpMessage:
    return _control(SET_PEER_BANDWIDTH, size.to_bytes(4, "big") + bytes([limit_type]))


def user_control(event_type: int, *values: int) -> RtmpMessage:
    payload = event_type.to_bytes(2, "big") + b"".join(v.to_bytes(4, "big") for v in values)
    return _control(USER_CONTROL, payload)


def command(
    name: str,
    transaction_id: float,
    *args: Any,
    stream_id: int = 0,
    chunk_stream_id: int = CSID_COMMAND,
) -> RtmpMessage:
    """An AMF0 command message: name, transaction id, then the command object and arguments."""
    return RtmpMessage(
        chunk_stream_id, COMMAND_AMF0, stream_id, 0, amf0.encode_all(name, transaction_id, *args)
    )


def data(*values: Any, stream_id: int, timestamp: int = 0) -> RtmpMessage:
    return RtmpMessage(CSID_STREAM_STATUS, DATA_AMF0, stream_id, timestamp, amf0.encode_all(*values))


def read_u32(payload: bytes, what: str) -> int:
    """The leading big-endian u32 of a control message, or a typed error."""
    if len(payload) < 4:
        raise MalformedMessage(f"{what} needs 4 bytes", length=len(payload))
    return int.from_bytes(payload[:4], "big")


@dataclass(frozen=True, slots=True)
class UserControl:
    event_type: int
    values: tuple[int, ...]


def parse_user_control(payload: bytes) -> UserControl:
    if len(payload) < 2:
        raise MalformedMessage("user control message needs an event type", length=len(payload))
    event_type = int.from_bytes(payload[:2], "big")
    body = payload[2:]
    values = tuple(int.from_bytes(body[i : i + 4], "big") for i in range(0, len(body) - len(body) % 4, 4))
    expected = 2 if event_type == SET_BUFFER_LENGTH else 1
    if event_type <= PING_RESPONSE and event_type != 5 and len(values) < expected:
        raise MalformedMessage("user control event is too short", event_type=event_type)
    return UserControl(event_type, values)


@dataclass(frozen=True, slots=True)
class SubMessage:
    type_id: int
    timestamp: int
    payload: bytes


def split_aggregate(payload: bytes, timestamp: int) -> list[SubMessage]:
    """The messages inside an Aggregate message (FLV-tag framed), with absolute timestamps.

    Sub-message timestamps are rebased so the first one lands on the aggregate's own.
    """
    out: list[SubMessage] = []
    pos = 0
    first_ts: int | None = None
    while pos < len(payload):
        if len(payload) - pos < 11:
            raise MalformedMessage("aggregate sub-message header is truncated", offset=pos)
        type_id = payload[pos]
        size = int.from_bytes(payload[pos + 1 : pos + 4], "big")
        sub_ts = int.from_bytes(payload[pos + 4 : pos + 7], "big") | (payload[pos + 7] << 24)
        end = pos + 11 + size
        if end + 4 > len(payload):
            raise MalformedMessage("aggregate sub-message is truncated", offset=pos, size=size)
        if first_ts is None:
            first_ts = sub_ts
        absolute = (timestamp + sub_ts - first_ts) & 0xFFFFFFFF
        out.append(SubMessage(type_id, absolute, payload[pos + 11 : end]))
        pos = end + 4  # skip the back pointer
    return out
