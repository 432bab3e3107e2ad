from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livegate.media.rtmp import amf0
from livegate.media.rtmp.errors import AmfDecodeError, AmfDepthExceeded, AmfEncodeError, RtmpProtocolError

# -- exact bytes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (1.5, b"\x00" + struct.pack(">d", 1.5)),
        (3, b"\x00" + struct.pack(">d", 3.0)),
        (True, b"\x01\x01"),
        (False, b"\x01\x00"),
        ("connect", b"\x02\x00\x07connect"),
        ("", b"\x02\x00\x00"),
        (None, b"\x05"),
        (amf0.UNDEFINED, b"\x06"),
        ({"a": 1.0}, b"\x03\x00\x01a\x00" + struct.pack(">d", 1.0) + b"\x00\x00\x09"),
        (amf0.EcmaArray({"w": 2.0}), b"\x08\x00\x00\x00\x01\x00\x01w\x00" + struct.pack(">d", 2.0) + b"\x00\x00\x09"),
        ([1.0, "x"], b"\x0a\x00\x00\x00\x02\x00" + struct.pack(">d", 1.0) + b"\x02\x00\x01x"),
        (amf0.AmfDate(1.7e12, -60), b"\x0b" + struct.pack(">d", 1.7e12) + struct.pack(">h", -60)),
        (amf0.XmlDocument("<a/>"), b"\x0f\x00\x00\x00\x04<a/>"),
        (amf0.TypedObject("C", {"k": None}), b"\x10\x00\x01C\x00\x01k\x05\x00\x00\x09"),
    ],
)
def test_encoding_matches_the_spec_bytes_and_decodes_back(value: Any, encoded: bytes) -> None:
    assert amf0.encode_value(value) == encoded
    decoded, end = amf0.decode_value(encoded)
    assert end == len(encoded)
    assert decoded == value
    assert type(decoded) is type(value) or isinstance(value, int)


def test_long_string_is_used_above_65535_bytes() -> None:
    text = "é" * 40000  # 80000 UTF-8 bytes
    encoded = amf0.encode_value(text)
    assert encoded[0] == amf0.LONG_STRING
    assert struct.unpack(">I", encoded[1:5])[0] == 80000
    assert amf0.decode_value(encoded)[0] == text


def test_an_empty_body_is_no_values_but_an_empty_value_is_an_error() -> None:
    assert amf0.decode_all(b"") == []
    with pytest.raises(AmfDecodeError):
        amf0.decode_value(b"")


def test_a_command_body_decodes_to_its_values() -> None:
    body = amf0.encode_all("connect", 1, {"app": "live", "tcUrl": "rtmp://h/live"}, None)
    assert amf0.decode_all(body) == ["connect", 1.0, {"app": "live", "tcUrl": "rtmp://h/live"}, None]


def test_ecma_array_count_is_advisory_and_the_end_marker_may_be_missing() -> None:
    wrong_count = b"\x08\x00\x00\x00\x09\x00\x01a\x01\x01\x00\x00\x09"
    assert amf0.decode_value(wrong_count)[0] == {"a": True}
    no_end = b"\x08\x00\x00\x00\x01\x00\x01a\x01\x01"
    assert amf0.decode_value(no_end)[0] == {"a": True}


# -- round trips ---------------------------------------------------------------------------

keys = st.text(min_size=1, max_size=12)
scalars = (
    st.floats(allow_nan=False)
    | st.booleans()
    | st.text(max_size=40)
    | st.none()
    | st.just(amf0.UNDEFINED)
    | st.builds(amf0.AmfDate, st.floats(allow_nan=False), st.integers(-32768, 32767))
    | st.builds(amf0.XmlDocument, st.text(max_size=20))
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(keys, inner, max_size=4)
    | st.dictionaries(keys, inner, max_size=4).map(amf0.EcmaArray)
    | st.builds(amf0.TypedObject, st.text(max_size=8), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=12,
)


@given(st.lists(values, max_size=5))
@settings(max_examples=150, deadline=None)
def test_any_value_sequence_round_trips(items: list[Any]) -> None:
    encoded = amf0.encode_all(*items)
    assert amf0.decode_all(encoded) == items
    assert amf0.encode_all(*amf0.decode_all(encoded)) == encoded


def test_nan_round_trips_as_nan() -> None:
    assert math.isnan(amf0.decode_value(amf0.encode_value(math.nan))[0])


# -- hostile input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x01\x02",  # truncated number
        b"\x02\x00\x05ab",  # string shorter than its length
        b"\x0c\xff\xff\xff\xffabc",  # long string claiming 4 GiB
        b"\x03\x00\x01a",  # object without value or end
        b"\x0a\xff\xff\xff\xff",  # strict array count beyond the data
        b"\x09",  # object end outside an object
        b"\x07\x00\x01",  # reference: not supported
        b"\x04",  # movieclip: reserved
        b"\x0d",  # unsupported marker
        b"\x11\x00",  # AMF3 switch
        b"\x2a",  # unknown marker
        b"\x02\x00\x02\xff\xfe",  # invalid UTF-8
    ],
)
def test_malformed_input_raises_a_typed_error(data: bytes) -> None:
    with pytest.raises(AmfDecodeError) as info:
        amf0.decode_all(data)
    assert isinstance(info.value, RtmpProtocolError)
    assert info.value.code.startswith("rtmp_amf")


def test_nesting_beyond_the_limit_is_refused() -> None:
    nested: Any = 1.0
    for _ in range(10):
        nested = [nested]
    encoded = amf0.encode_value(nested, max_depth=20)
    assert amf0.decode_value(encoded, max_depth=10)[0] == nested
    with pytest.raises(AmfDepthExceeded) as info:
        amf0.decode_value(encoded, max_depth=9)
    assert info.value.code == "rtmp_amf_depth_exceeded"


def test_deep_objects_from_the_wire_do_not_recurse_without_bound() -> None:
    hostile = b"\x03\x00\x01a" * 100_000
    with pytest.raises(AmfDepthExceeded):
        amf0.decode_all(hostile)


@pytest.mark.parametrize("value", [object(), {1: "x"}, {"": 1.0}, 10**400, b"bytes"])
def test_values_without_an_encoding_raise_a_typed_error(value: Any) -> None:
    with pytest.raises(AmfEncodeError):
        amf0.encode_value(value)


@given(st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes_decode_or_raise_only_typed_errors(data: bytes) -> None:
    try:
        amf0.decode_all(data, max_depth=8)
    except AmfDecodeError:
        pass
