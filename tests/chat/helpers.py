"""Helpers for chat tests: rooms, verified viewers, and WebSocket frames (unwrapping batches)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from livegate.app import Platform
from livegate.core.permissions import Role
from tests.conftest import create_account
from tests.identity.helpers import accept_current_agreements, verify_phone_directly


def make_room(platform: Platform, owner: str = "streamer", category: str = "education") -> str:
    from tests.e2e.helpers import make_room as _make_room

    room, _key = _make_room(platform, owner, category=category)
    return room


def make_viewer(platform: Platform, username: str, *, verified: bool = True, role: Role = Role.AUDIENCE,
                scope: str | None = None) -> int:
    account_id = create_account(platform, username, role, scope)
    if verified:
        n = int(hashlib.sha256(username.encode()).hexdigest(), 16) % 100_000_000
        verify_phone_directly(platform, account_id, f"+86139{n:08d}")
        accept_current_agreements(platform, account_id)
    return account_id


class Frames:
    """Reads server frames from a TestClient or websockets socket; unwraps ``batch`` frames."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.pending: list[dict[str, Any]] = []

    def _raw(self) -> str:
        if hasattr(self.ws, "receive_text"):
            return str(self.ws.receive_text())
        return str(self.ws.recv(10))

    def next(self) -> dict[str, Any]:
        while not self.pending:
            self.pending.extend(_flatten(json.loads(self._raw())))
        return self.pending.pop(0)

    def until(self, kind: str, **match: Any) -> dict[str, Any]:
        """The next frame of ``kind`` whose fields equal ``match`` (other frames are skipped)."""
        for _ in range(500):
            msg = self.next()
            if msg.get("type") == kind and all(msg.get(k) == v for k, v in match.items()):
                return msg
        raise AssertionError(f"no {kind} frame matching {match}")


def _flatten(msg: dict[str, Any]) -> list[dict[str, Any]]:
    if msg.get("type") != "batch":
        return [msg]
    return [inner for event in msg["events"] for inner in _flatten(event)]
