"""AMF0, the value encoding of RTMP commands and metadata.

Python values map to AMF0 markers as follows; the wrapper types exist so that a decoded
value encodes back to the same bytes:

=====================  =========================================
AMF0                   Python
=====================  =========================================
number (0x00)          ``float`` (``int`` is accepted when encoding)
boolean (0x01)         ``bool``
string / long string   ``str`` (long string chosen above 65535 UTF-8 bytes)
object (0x03)          ``dict[str, Any]``
null (0x05)            ``None``
undefined (0x06)       :data:`UNDEFINED`
ECMA array (0x08)      :class:`EcmaArray` (a ``dict`` subclass)
strict array (0x0A)    ``list``
date (0x0B)            :class:`AmfDate`
XML document (0x0F)    :class:`XmlDocument` (a ``str`` subclass)
typed object (0x10)    :class:`TypedObject`
=====================  =========================================

The decoder is written for hostile input: every length is checked against the bytes that
remain before anything is allocated, nesting is bounded, and every failure is an
:class:`~livegate.media.rtmp.errors.AmfDecodeError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Final

from livegate.media.rtmp.errors import AmfDecodeError, AmfDepthExceeded, AmfEncodeError

NUMBER: Final = 0x00
BOOLEAN: Final = 0x01
STRING: Final = 0x02
OBJECT: Final = 0x03
MOVIECLIP: Final = 0x04
NULL: Final = 0x05
UNDEFINED_MARKER: Final = 0x06
REFERENCE: Final = 0x07
ECMA_ARRAY: Final = 0x08
OBJECT_END: Final = 0x09
STRICT_ARRAY: Final = 0x0A
DATE: Final = 0x0B
LONG_STRING: Final = 0x0C
UNSUPPORTED: Final = 0x0D
RECORDSET: Final = 0x0E
XML_DOCUMENT: Final = 0x0F
TYPED_OBJECT: Final = 0x10
AVMPLUS: Final = 0x11

DEFAULT_MAX_DEPTH: Final = 16

_DOUBLE = struct.Struct(">d")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_S16 = struct.Struct(">h")


class _Undefined:
    """The AMF0 ``undefined`` value, distinct from ``null``."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Final = _Undefined()


class EcmaArray(dict[str, Any]):
    """An associative array (``onMetaData`` uses it); keeps its marker through a round trip."""


class XmlDocument(str):
    """An AMF0 XML document, carried as its text."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class AmfDate:
    """Milliseconds since the Unix epoch (UTC) plus the reserved time-zone field."""

    milliseconds: float
    timezone: int = 0


@dataclass(slots=True)
class TypedObject:
    class_name: str
    properties: dict[str, Any] = field(default_factory=dict)


# -- decoding ------------------------------------------------------------------------------


class _Decoder:
    __slots__ = ("data", "pos", "max_depth")

    def __init__(self, data: bytes | bytearray | memoryview, pos: int, max_depth: int) -> None:
        self.data = bytes(data)
        self.pos = pos
        self.max_depth = max_depth

    def _take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise AmfDecodeError("AMF0 value is truncated", offset=self.pos, needed=n)
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def _u16(self) -> int:
        value: int = _U16.unpack(self._take(2))[0]
        return value

    def _u32(self) -> int:
        value: int = _U32.unpack(self._take(4))[0]
        return value

    def _utf8(self, n: int) -> str:
        raw = self._take(n)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AmfDecodeError("AMF0 string is not valid UTF-8", offset=self.pos - n) from exc

    def _short_string(self) -> str:
        return self._utf8(self._u16())

    def _remaining(self) -> int:
        return len(self.data) - self.pos

    def value(self, depth: int) -> Any:
        if depth > self.max_depth:
            raise AmfDepthExceeded("AMF0 values are nested too deeply", max_depth=self.max_depth)
        marker = self._take(1)[0]
        if marker == NUMBER:
            number: float = _DOUBLE.unpack(self._take(8))[0]
            return number
        if marker == BOOLEAN:
            return self._take(1)[0] != 0
        if marker == STRING:
            return self._short_string()
        if marker == LONG_STRING:
            return self._utf8(self._u32())
        if marker == XML_DOCUMENT:
            return XmlDocument(self._utf8(self._u32()))
        if marker == NULL:
            return None
        if marker == UNDEFINED_MARKER:
            return UNDEFINED
        if marker == OBJECT:
            return self._properties({}, depth)
        if marker == TYPED_OBJECT:
            class_name = self._short_string()
            return TypedObject(class_name, self._properties({}, depth))
        if marker == ECMA_ARRAY:
            self._u32()  # advisory count; encoders disagree on it, the end marker decides
            return self._properties(EcmaArray(), depth, end_optional=True)
        if marker == STRICT_ARRAY:
            count = self._u32()
            if count > self._remaining():  # every value takes at least one byte
                raise AmfDecodeError("AMF0 strict array count exceeds the data", count=count)
            return [self.value(depth + 1) for _ in range(count)]
        if marker == DATE:
            milliseconds: float = _DOUBLE.unpack(self._take(8))[0]
            timezone: int = _S16.unpack(self._take(2))[0]
            return AmfDate(milliseconds, timezone)
        if marker == OBJECT_END:
            raise AmfDecodeError("AMF0 object end marker outside an object", offset=self.pos - 1)
        raise AmfDecodeError("AMF0 marker is not supported", marker=marker, offset=self.pos - 1)

    def _properties(self, target: dict[str, Any], depth: int, *, end_optional: bool = False) -> Any:
        while True:
            if end_optional and self._remaining() == 0:
                return target  # some encoders end an ECMA array by its count alone
            key = self._short_string()
            if key == "" and self._remaining() >= 1 and self.data[self.pos] == OBJECT_END:
                self.pos += 1
                return target
            target[key] = self.value(depth + 1)


def decode_value(
    data: bytes | bytearray | memoryview, pos: int = 0, *, max_depth: int = DEFAULT_MAX_DEPTH
) -> tuple[Any, int]:
    """Decode one value at ``pos``; return it and the offset just past it."""
    decoder = _Decoder(data, pos, max_depth)
    value = decoder.value(0)
    return value, decoder.pos


def decode_all(data: bytes | bytearray | memoryview, *, max_depth: int = DEFAULT_MAX_DEPTH) -> list[Any]:
    """Decode a whole command or data message body: a sequence of values to the end."""
    decoder = _Decoder(data, 0, max_depth)
    values: list[Any] = []
    while decoder.pos < len(decoder.data):
        values.append(decoder.value(0))
    return values


# -- encoding ------------------------------------------------------------------------------


def _encode_short_key(key: str, out: bytearray) -> None:
    raw = key.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise AmfEncodeError("AMF0 property name is longer than 65535 bytes")
    out += _U16.pack(len(raw))
    out += raw


def _encode_properties(props: dict[str, Any], out: bytearray, depth: int, max_depth: int) -> None:
    for key, item in props.items():
        if not isinstance(key, str):
            raise AmfEncodeError("AMF0 property names must be strings", key=repr(key))
        if key == "":
            raise AmfEncodeError("an empty AMF0 property name would read as the end marker")
        _encode_short_key(key, out)
        _encode(item, out, depth + 1, max_depth)
    out += b"\x00\x00\x09"


def _encode(value: Any, out: bytearray, depth: int, max_depth: int) -> None:
    if depth > max_depth:
        raise AmfEncodeError("value is nested too deeply for AMF0", max_depth=max_depth)
    if value is None:
        out.append(NULL)
    elif value is UNDEFINED:
        out.append(UNDEFINED_MARKER)
    elif isinstance(value, bool):
        out.append(BOOLEAN)
        out.append(1 if value else 0)
    elif isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError as exc:
            raise AmfEncodeError("integer is too large for an AMF0 number") from exc
        out.append(NUMBER)
        out += _DOUBLE.pack(number)
    elif isinstance(value, XmlDocument):
        raw = value.encode("utf-8")
        out.append(XML_DOCUMENT)
        out += _U32.pack(len(raw))
        out += raw
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        if len(raw) <= 0xFFFF:
            out.append(STRING)
            out += _U16.pack(len(raw))
        else:
            if len(raw) > 0xFFFFFFFF:
                raise AmfEncodeError("string is too long for AMF0")
            out.append(LONG_STRING)
            out += _U32.pack(len(raw))
        out += raw
    elif isinstance(value, EcmaArray):
        out.append(ECMA_ARRAY)
        out += _U32.pack(len(value))
        _encode_properties(value, out, depth, max_depth)
    elif isinstance(value, dict):
        out.append(OBJECT)
        _encode_properties(value, out, depth, max_depth)
    elif isinstance(value, TypedObject):
        out.append(TYPED_OBJECT)
        _encode_short_key(value.class_name, out)
        _encode_properties(value.properties, out, depth, max_depth)
    elif isinstance(value, list | tuple):
        out.append(STRICT_ARRAY)
        out += _U32.pack(len(value))
        for item in value:
            _encode(item, out, depth + 1, max_depth)
    elif isinstance(value, AmfDate):
        out.append(DATE)
        out += _DOUBLE.pack(value.milliseconds)
        out += _S16.pack(value.timezone)
    else:
        raise AmfEncodeError("no AMF0 encoding for this type", type=type(value).__name__)


def encode_value(value: Any, *, max_depth: int = DEFAULT_MAX_DEPTH) -> bytes:
    out = bytearray()
    _encode(value, out, 0, max_depth)
    return bytes(out)


def encode_all(*values: Any, max_depth: int = DEFAULT_MAX_DEPTH) -> bytes:
    """Encode a command or data message body: the values one after another."""
    out = bytearray()
    for value in values:
        _encode(value, out, 0, max_depth)
    return bytes(out)
