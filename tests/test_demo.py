"""``livegate serve --demo`` seeds a demo room with fully onboarded accounts, once, and refuses a
data dir that holds anything else."""

from __future__ import annotations

import json
import stat

import pytest

from livegate.app import Platform
from livegate.core.permissions import Role
from livegate.demo import NotADemoDataDir, seed_demo
from livegate.media.rooms import GateContext
from tests.conftest import create_account


def test_seeding_writes_demo_json_once_and_the_publisher_passes_the_gate(platform: Platform) -> None:
    platform.bootstrap_admin()
    info = seed_demo(platform)
    path = platform.settings.data_dir / "demo.json"
    assert json.loads(path.read_text())["room"] == info["room"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert seed_demo(platform) == info  # a restart reuses the demo
    with platform.db.session() as s:
        room = platform.rooms.get(s, info["room"])
        owner = platform.accounts.get(s, room.owner_id)
        refusal = platform.gate.evaluate(GateContext(session=s, room=room, owner=owner, now=platform.clock.now(),
                                                     peer="127.0.0.1"))
    assert refusal is None
    assert set(info["accounts"]) >= {"demo-publisher", "demo-viewer", "demo-reviewer"}


def test_a_data_dir_with_real_accounts_is_refused(platform: Platform) -> None:
    create_account(platform, "real-user", Role.AUDIENCE)
    with pytest.raises(NotADemoDataDir):
        seed_demo(platform)
    assert not (platform.settings.data_dir / "demo.json").exists()
