"""The room WebSocket's wire format, version 1, as a state machine without sockets.

:class:`ClientConnection` is fed each frame the client sent (``str`` for a text frame,
``bytes`` for a binary one) together with ``now``, and returns events: a valid request
(:class:`CommentRequest`, :class:`Ping`), a typed :class:`ProtocolError` to answer with an
``error`` frame, or :class:`CloseConnection` when the client abuses the connection. The
asyncio adapter (:mod:`livegate.chat.gateway`) only moves frames. See ``docs/protocol.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PROTOCOL_VERSION = 1

#: A client frame larger than this is refused with ``frame_too_large`` (the server's socket
#: layer closes anything over 64 KiB outright).
MAX_FRAME_BYTES = 4096
#: The longest client reference (``ref``) echoed back in acks and refusals.
MAX_REF_CHARS = 64
#: Frames a connection may send: a burst of ``FRAME_BURST``, then ``FRAME_RATE`` per second.
FRAME_BURST = 20
FRAME_RATE = 10.0
#: Protocol errors tolerated in ``ERROR_WINDOW_SECONDS`` before the connection is closed.
MAX_ERRORS = 10
ERROR_WINDOW_SECONDS = 10.0
#: Frames refused for flooding before the connection is closed.
MAX_FLOOD_REFUSALS = 50

POSITIONS = ("scroll", "top", "bottom")
#: The colours a danmaku may take (the viewer page offers exactly these).
COLORS = ("#ffffff", "#fe0302", "#ff7204", "#ffaa02", "#ffd302", "#00cd00", "#00a1d6", "#4266be", "#cc0273")

CLOSE_POLICY_VIOLATION = 1008
#: The close code of a viewer that fell too far behind the room's events (after a ``too_slow``
#: error frame); the client may reconnect.
CLOSE_TOO_SLOW = 4408


@dataclass(frozen=True)
class Ping:
    ref: str = ""


@dataclass(frozen=True)
class CommentRequest:
    ref: str
    text: str
    position: str = "scroll"
    color: str = "#ffffff"


@dataclass(frozen=True)
class ProtocolError:
    """Answer with ``{"type": "error", "code", "message", "ref"?}``; the connection stays open."""

    code: str
    message: str
    ref: str = ""

    def frame(self) -> dict[str, Any]:
        out: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": "error", "code": self.code, "message": self.message}
        if self.ref:
            out["ref"] = self.ref
        return out


@dataclass(frozen=True)
class CloseConnection:
    """Send the final error frame, then close with ``code``."""

    code: int
    reason: str
    error: ProtocolError


Event = Ping | CommentRequest | ProtocolError | CloseConnection


class ClientConnection:
    """One client's side of the protocol: parsing, limits, and when to give up on it."""

    def __init__(self, *, max_frame_bytes: int = MAX_FRAME_BYTES, frame_burst: int = FRAME_BURST,
                 frame_rate: float = FRAME_RATE, max_errors: int = MAX_ERRORS,
                 error_window: float = ERROR_WINDOW_SECONDS) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.frame_burst = frame_burst
        self.frame_rate = frame_rate
        self.max_errors = max_errors
        self.error_window = error_window
        self._tokens = float(frame_burst)
        self._updated: float | None = None
        self._errors: list[float] = []
        self._flood_refusals = 0
        self.closed = False
        self.frames = 0

    def receive(self, frame: str | bytes, now: float) -> Event:
        if self.closed:
            return CloseConnection(CLOSE_POLICY_VIOLATION, "closed", ProtocolError("closed", "connection closed"))
        self.frames += 1
        if not self._take_token(now):
            self._flood_refusals += 1
            err = ProtocolError("flood", "too many frames; slow down", _peek_ref(frame))
            if self._flood_refusals > MAX_FLOOD_REFUSALS:
                return self._close("flood", err)
            return err
        event = self._parse(frame)
        if isinstance(event, ProtocolError):
            self._errors = [t for t in self._errors if now - t < self.error_window]
            self._errors.append(now)
            if len(self._errors) > self.max_errors:
                return self._close("too many invalid frames", event)
        return event

    def _close(self, reason: str, err: ProtocolError) -> CloseConnection:
        self.closed = True
        return CloseConnection(CLOSE_POLICY_VIOLATION, reason,
                               ProtocolError("abuse", f"connection closed: {reason}", err.ref))

    def _take_token(self, now: float) -> bool:
        if self._updated is not None and now > self._updated:
            self._tokens = min(float(self.frame_burst), self._tokens + (now - self._updated) * self.frame_rate)
        self._updated = now if self._updated is None else max(self._updated, now)
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def _parse(self, frame: str | bytes) -> Event:
        if isinstance(frame, bytes):
            if len(frame) > self.max_frame_bytes:
                return ProtocolError("frame_too_large", f"frames are limited to {self.max_frame_bytes} bytes")
            try:
                text = frame.decode("utf-8")
            except UnicodeDecodeError:
                return ProtocolError("bad_utf8", "frames must be UTF-8 text")
        else:
            text = frame
            if len(text) > self.max_frame_bytes or len(text.encode("utf-8", "surrogatepass")) > self.max_frame_bytes:
                return ProtocolError("frame_too_large", f"frames are limited to {self.max_frame_bytes} bytes")
        if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
            return ProtocolError("bad_utf8", "frames must be UTF-8 text")
        try:
            msg = json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            return ProtocolError("bad_json", "frames must be JSON objects")
        if not isinstance(msg, dict):
            return ProtocolError("bad_json", "frames must be JSON objects")
        ref = msg.get("ref", "")
        if not isinstance(ref, str) or len(ref) > MAX_REF_CHARS:
            return ProtocolError("invalid_field", f"ref must be a string of at most {MAX_REF_CHARS} characters")
        version = msg.get("v", PROTOCOL_VERSION)
        if version != PROTOCOL_VERSION or isinstance(version, bool):
            return ProtocolError("unsupported_version", f"this server speaks version {PROTOCOL_VERSION}", ref)
        kind = msg.get("type")
        if kind == "ping":
            return Ping(ref)
        if kind == "comment":
            return _comment(msg, ref)
        return ProtocolError("unknown_type", "unknown message type", ref)


def _comment(msg: dict[str, Any], ref: str) -> Event:
    text = msg.get("text")
    if not isinstance(text, str):
        return ProtocolError("invalid_field", "text must be a string", ref)
    position = msg.get("position", "scroll")
    if position not in POSITIONS:
        return ProtocolError("invalid_field", f"position must be one of {', '.join(POSITIONS)}", ref)
    color = msg.get("color", COLORS[0])
    if not isinstance(color, str) or color.lower() not in COLORS:
        return ProtocolError("invalid_field", "color must be one of the allowed colours", ref)
    return CommentRequest(ref, text, str(position), color.lower())


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _peek_ref(frame: str | bytes) -> str:
    """The ``ref`` of a frame refused before parsing, so the client can match the refusal."""
    if len(frame) > MAX_FRAME_BYTES:
        return ""
    try:
        msg = json.loads(frame)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return ""
    ref = msg.get("ref") if isinstance(msg, dict) else None
    return ref if isinstance(ref, str) and len(ref) <= MAX_REF_CHARS else ""


def encode(message: dict[str, Any]) -> str:
    """One server frame; ``v`` first."""
    return json.dumps({"v": PROTOCOL_VERSION, **message}, ensure_ascii=False, separators=(",", ":"))


