"""A node that dies mid-stream does not leave its rooms live: streams of a node silent for
NODE_LOST are ended once across nodes and their viewers told; a node that restarts under the
same name ends what it left open. A node that keeps beating keeps its streams."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import select

from livegate.chat.hub import room_channel
from livegate.config import Settings
from livegate.core.clock import ManualClock
from livegate.core.models import AuditEntry
from livegate.media.models import Node, Room, StreamSession
from livegate.media.presence import NODE_LOST, beat
from tests.conftest import make_platform
from tests.e2e.helpers import make_room


def _start(p: Any, room_id: str, node: str) -> int:
    with p.db.session() as s:
        return int(p.rooms.start_session(s, p.rooms.get(s, room_id), node, "overlay", 0).id)


def _state(p: Any, room_id: str, session_id: int) -> tuple[str, str | None]:
    with p.db.session() as s:
        room, ss = s.get(Room, room_id), s.get(StreamSession, session_id)
        assert room is not None and ss is not None
        return room.status, None if ss.ended_at is None else ss.end_reason


def test_the_streams_of_a_silent_node_end_and_their_viewers_are_told(settings: Settings,
                                                                    clock: ManualClock) -> None:
    p = make_platform(settings, clock=clock, start_rtmp=False)
    try:
        dead_room, _ = make_room(p, "on-dead-node")
        alive_room, _ = make_room(p, "on-alive-node")
        new_room, _ = make_room(p, "on-new-node")
        now = clock.now()
        with p.db.session() as s:
            s.add(Node(name="node-dead", started_at=now - dt.timedelta(hours=1),
                       seen_at=now - NODE_LOST - dt.timedelta(seconds=1)))
            s.add(Node(name="node-alive", started_at=now - dt.timedelta(hours=1), seen_at=now))
        dead = _start(p, dead_room, "node-dead")
        alive = _start(p, alive_room, "node-alive")
        new = _start(p, new_room, "node-new")  # never beat yet: it gets NODE_LOST from its start
        job = p.scheduler.jobs["media.lost_nodes"]

        async def run() -> dict[str, Any]:
            async with p.broker.subscribe(room_channel(dead_room)) as sub:
                assert await p.scheduler.tick([job]) == ["media.lost_nodes"]
                return await asyncio.wait_for(anext(aiter(sub)), 10)

        told = asyncio.run(run())
        assert told["type"] == "offline" and told["room"] == dead_room
        status, reason = _state(p, dead_room, dead)
        assert status == "offline" and reason is not None and reason.startswith("node_lost") and "node-dead" in reason
        assert _state(p, alive_room, alive) == ("live", None)
        assert _state(p, new_room, new) == ("live", None)
        with p.db.session() as s:
            ends = s.scalars(select(AuditEntry).where(AuditEntry.action == "stream.end")
                             .order_by(AuditEntry.seq)).all()
            assert [e.target for e in ends] == [f"room:{dead_room}"]

        # A minute later the node that kept beating keeps its stream; the one never heard of loses it.
        clock.advance(seconds=NODE_LOST.total_seconds() + 1)
        with p.db.session() as s:
            row = s.get(Node, "node-alive")
            assert row is not None
            row.seen_at = clock.now()
        assert asyncio.run(p.scheduler.tick([job])) == ["media.lost_nodes"]
        assert _state(p, alive_room, alive) == ("live", None)
        assert _state(p, new_room, new)[0] == "offline"
    finally:
        p.close()


def test_a_node_restarting_under_its_name_ends_what_it_left_open(settings: Settings, clock: ManualClock) -> None:
    p = make_platform(settings, clock=clock, start_rtmp=False)
    try:
        room, _ = make_room(p, "crashed-streamer")
        left = _start(p, room, p.settings.node_name)  # as if this node had crashed while streaming
        beat(p)
        clock.advance(seconds=5)

        async def run() -> None:
            await p.media.start()
            await p.media.stop()

        asyncio.run(run())
        status, reason = _state(p, room, left)
        assert status == "offline" and reason is not None and reason.startswith("node_restarted")
        with p.db.session() as s:
            node = s.get(Node, p.settings.node_name)
            assert node is not None and node.started_at == clock.now() and node.seen_at == clock.now()
    finally:
        p.close()
