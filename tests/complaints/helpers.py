"""Helpers for complaints tests: policy tweaks, rooms marked live, and anonymous reports
that solve their proof of work the way report.ts does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from livegate.app import Platform
from livegate.complaints.pow import solve
from livegate.core import policy as policy_mod
from livegate.core.permissions import Role
from livegate.core.policy import parse_policy
from livegate.media.models import Room
from tests.conftest import As, create_account


def use_complaints_policy(platform: Platform, **changes: Any) -> None:
    """Swap in the default policy with ``complaints`` keys changed (nested dicts merge one level)."""
    doc = yaml.safe_load((Path(policy_mod.__file__).parent / "default_policy.yaml").read_text())
    section = doc["complaints"]
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(section.get(key), dict):
            section[key] = {**section[key], **value}
        else:
            section[key] = value
    platform.policy.swap(parse_policy(yaml.safe_dump(doc, allow_unicode=True), source="test"))


def make_plain_room(platform: Platform, owner: str = "streamer", *, live: bool = False) -> str:
    account_id = create_account(platform, owner, Role.PUBLISHER)
    with platform.db.session() as s:
        room, _key = platform.rooms.create(s, platform.accounts.get(s, account_id), title="Room", category="education",
                                           actor="test")
        if live:
            s.get(Room, room.id).status = "live"  # type: ignore[union-attr]
        return room.id


def report(who: As, target_type: str, target_id: str, *, category: str = "illegal.obscenity",
           description: str = "", contact: str = "", pow_: bool = True,
           **extra: Any) -> Any:
    """POST a report as ``who``; anonymous callers fetch and solve a challenge first."""
    body: dict[str, Any] = {"target_type": target_type, "target_id": target_id, "category": category,
                            "description": description, "contact": contact, **extra}
    if pow_ and not who.session:
        c = who.get("/api/v1/complaints/challenge")
        assert c.status_code == 200, c.text
        data = c.json()
        body["challenge"] = data["challenge"]
        body["nonce"] = solve(data["challenge"], data["bits"])
    return who.post("/api/v1/complaints", json=body)
