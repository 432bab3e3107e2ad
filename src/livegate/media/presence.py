"""Viewer counts across nodes: each node writes its own count per room; the room's count is
the sum of rows refreshed in the last ``FRESH`` (a dead node's rows stop counting)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from livegate.media.models import Room, RoomPresence

if TYPE_CHECKING:
    from livegate.app import Platform

FRESH = dt.timedelta(seconds=30)


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
