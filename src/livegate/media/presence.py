"""Nodes and their audiences.

Viewer counts across nodes: each node writes its own count per room; the room's count is the
sum of rows refreshed in the last ``FRESH`` (a dead node's rows stop counting).

Node liveness: each node writes its heartbeat every ``NODE_BEAT``. A stream session still open
on a node silent for ``NODE_LOST`` (or never heard of since the session started that long
ago) is ended as lost, once across nodes, and its room goes offline: a node that dies
mid-stream does not leave its rooms "live" in listings, patrols and the gate. A node that
restarts under the same name ends the sessions it left open before it takes a stream.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select

from livegate.media.models import Node, Room, RoomPresence, StreamSession

if TYPE_CHECKING:
    from livegate.app import Platform

FRESH = dt.timedelta(seconds=30)
NODE_BEAT = dt.timedelta(seconds=10)
NODE_LOST = dt.timedelta(seconds=60)
LOST_REASON = "node_lost: the node serving this stream stopped answering"
RESTART_REASON = "node_restarted: the node serving this stream restarted"


def write_presence(p: Platform, counts: dict[str, int]) -> dict[str, int]:
    now = p.clock.now()
    node = p.settings.node_name
    totals: dict[str, int] = {}
    with p.db.session() as s:
        for room_id, count in counts.items():
            row = s.get(RoomPresence, (room_id, node))
            if row is None:
                s.add(RoomPresence(room_id=room_id, node=node, viewers=count, updated_at=now))
            else:
                row.viewers = count
                row.updated_at = now
        s.flush()
        for room_id in counts:
            total = s.scalar(
                select(func.coalesce(func.sum(RoomPresence.viewers), 0)).where(
                    RoomPresence.room_id == room_id, RoomPresence.updated_at >= now - FRESH)
            ) or 0
            totals[room_id] = int(total)
            room = s.get(Room, room_id)
            if room is not None and room.viewers != total:
                room.viewers = int(total)
    return totals


def beat(p: Platform, *, started: bool = False) -> None:
    """This node is alive now (``started``: and has just started)."""
    now = p.clock.now()
    with p.db.session() as s:
        row = s.get(Node, p.settings.node_name)
        if row is None:
            s.add(Node(name=p.settings.node_name, started_at=now, seen_at=now))
        else:
            row.seen_at = now
            if started:
                row.started_at = now


def _end(p: Platform, sessions: list[StreamSession], reason: str) -> list[str]:
    """End ``sessions`` (open, of nodes that cannot be streaming them); the rooms that went offline."""
    offline: list[str] = []
    with p.db.session() as s:
        for ss in sessions:
            current = s.get(StreamSession, ss.id)
            if current is None or current.ended_at is not None:
                continue
            room = s.get(Room, current.room_id)
            was_live = room is not None and room.live_session_id == current.id and room.status == "live"
            p.rooms.end_session(s, current.id, f"{reason} ({current.node})")
            if was_live:
                offline.append(current.room_id)
    return offline


def end_own_leftovers(p: Platform) -> list[str]:
    """At start: end the sessions this node's name still holds open (it crashed or was killed)."""
    with p.db.session() as s:
        left = list(s.scalars(select(StreamSession).where(StreamSession.node == p.settings.node_name,
                                                          StreamSession.ended_at.is_(None))))
    return _end(p, left, RESTART_REASON) if left else []


def end_lost_sessions(p: Platform) -> list[str]:
    """Once across nodes: end the open sessions of nodes not heard of for ``NODE_LOST``."""
    cutoff = p.clock.now() - NODE_LOST
    with p.db.session() as s:
        lost = list(s.scalars(
            select(StreamSession).outerjoin(Node, Node.name == StreamSession.node).where(
                StreamSession.ended_at.is_(None),
                StreamSession.node != p.settings.node_name,
                or_(Node.seen_at < cutoff, (Node.name.is_(None)) & (StreamSession.started_at < cutoff)))))
    return _end(p, lost, LOST_REASON) if lost else []
