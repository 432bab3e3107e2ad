"""After a stream ends, its recording goes into ``p.storage``; a bundle carries the comments."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from livegate.app import Platform
from livegate.core.clock import ManualClock
from livegate.core.db import Base
from livegate.media.pipeline import StreamEnded
from livegate.retention.export import parse_period, verify_bundle
from livegate.retention.models import StoredObject
from tests.retention.helpers import ended_session, make_publisher, make_room


def test_the_media_service_tells_retention_when_a_stream_ends(rp: Platform, clock: ManualClock) -> None:
    assert rp.retention.on_stream_ended in rp.media.ended_listeners
    assert rp.storage is rp.retention.storage  # type: ignore[attr-defined]
    room = make_room(rp, make_publisher(rp, "pub-arch"))
    sess = ended_session(rp, room, archive=False)
    ended = StreamEnded(room=room, session=f"s{sess.id}", reason="ended", code="ok", detail="",
                        ended_at=clock.now(), segments_published=2, segments_withheld=0, recording=sess.recording)

    async def on_loop() -> None:
        rp.retention.on_stream_ended(ended)  # called on the event loop by the media service
        await asyncio.wait_for(asyncio.gather(*rp.retention._archive_tasks), 10)

    asyncio.run(on_loop())
    with rp.db.session() as s:
        kinds = {o.kind: o for o in s.scalars(select(StoredObject).where(StoredObject.session_id == sess.id))}
    assert set(kinds) == {"recording", "recording_index"}
    assert kinds["recording"].backend == "local" and kinds["recording"].size == sess.recording.stat().st_size
    assert sess.recording.exists(), "local storage: the recording stays where it is"
    assert rp.retention.archive_session(sess.id) == []  # idempotent
    assert rp.retention.archive_pending() == 0


def test_a_bundle_carries_comments_with_their_decisions(rp: Platform, clock: ManualClock, tmp_path: Path) -> None:
    table = Base.metadata.tables.get("chat_messages")
    if table is None:
        pytest.skip("no chat table in this build")
    room = make_room(rp, make_publisher(rp, "pub-com"))
    ended_session(rp, room)
    values: dict[str, object] = {"room_id": room, "body": "hello", "status": "blocked", "created_at": clock.now()}
    for c in table.c:
        if c.name not in values and not c.nullable and c.default is None and not c.primary_key:
            values[c.name] = {"JSON": {}, "Boolean": False}.get(type(c.type).__name__, "")
    if "decision" in table.c:
        values["decision"] = {"action": "block", "rule": "lexicon"}
    with rp.db.session() as s:
        s.execute(table.insert(), [values])
    day = clock.now().date().isoformat()
    a, b = parse_period(day, day)
    rp.retention.export_inspection(scope_type="room", scope_id=room, start=a, end=b, requester="r",
                                   legal_basis="Art. 16", actor="officer", out_dir=tmp_path / "b")
    lines = (tmp_path / "b" / "records" / "chat_messages.jsonl").read_text().splitlines()
    row = json.loads(lines[0])
    assert row["body"] == "hello" and row["status"] == "blocked" and row["created_at"].startswith(day)
    assert verify_bundle(tmp_path / "b").ok
