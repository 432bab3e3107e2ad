"""Article 16: 60 days at least, then purged, unless held. The clock travels; nothing sleeps."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select

from livegate.app import Platform
from livegate.core.clock import ManualClock
from livegate.core.models import AuditEntry, ControlOrder
from livegate.core.policy import PolicyError, default_policy_text, parse_policy
from livegate.media.models import PublishAttempt, StreamSession
from livegate.retention.errors import HoldAlreadyLifted, InvalidScope
from livegate.retention.models import AccountLogEntry, LegalHold, StoredObject
from livegate.retention.service import record_account_event
from tests.retention.helpers import ended_session, make_publisher, make_room


def _sessions(p: Platform) -> set[int]:
    with p.db.session() as s:
        return set(s.scalars(select(StreamSession.id)).all())


def _objects(p: Platform) -> set[str]:
    with p.db.session() as s:
        return set(s.scalars(select(StoredObject.key)).all())


def test_59_days_kept_61_purged_held_kept(rp: Platform, clock: ManualClock) -> None:
    pub, held_pub = make_publisher(rp, "pub-a"), make_publisher(rp, "pub-b")
    free_room, held_room, owned_room = make_room(rp, pub), make_room(rp, pub), make_room(rp, held_pub)
    free = ended_session(rp, free_room)
    held = ended_session(rp, held_room)
    owned = ended_session(rp, owned_room)
    with rp.db.session() as s:
        s.add(ControlOrder(kind="cutoff", target=free_room, payload={}, created_at=clock.now(), created_by="t"))
        record_account_event(s, pub, "sign_in", at=clock.now(), ip="10.0.0.1", user_agent="ua")
        rp.retention.place_hold(s, scope_type="room", scope_id=held_room, reason="police request 7", actor="officer")
        rp.retention.place_hold(s, scope_type="account", scope_id=held_pub, reason="case 9", actor="officer")

    clock.advance(days=59)
    report = rp.retention.purge()
    assert report.total == 0
    assert free.recording.exists() and all(p.exists() for p in free.segments)
    assert _sessions(rp) == {free.id, held.id, owned.id}

    clock.advance(days=2)  # 61 days
    plan = rp.retention.purge(dry_run=True)
    by_kind = {k.kind: k for k in plan.kinds}
    assert by_kind["recordings"].count == 2  # the free session's FLV and index
    assert by_kind["segments"].count == 2
    assert by_kind["stream_sessions"].count == 1
    assert by_kind["control_orders"].count == 1
    assert by_kind["recordings"].held_skipped == 4  # held room + held account's room
    assert free.recording.exists(), "a dry run deletes nothing"

    report = rp.retention.purge(actor="test")
    assert not free.recording.exists() and not any(p.exists() for p in free.segments)
    assert _sessions(rp) == {held.id, owned.id}
    assert all(k.startswith(f"media/recordings/{held_room}/") or k.startswith(f"media/recordings/{owned_room}/")
               for k in _objects(rp))
    for kept in (held, owned):
        assert kept.recording.exists() and all(p.exists() for p in kept.segments)
    with rp.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ControlOrder)) == 0
        # network logs are kept 180 days by default
        assert s.scalar(select(func.count()).select_from(AccountLogEntry)) == 1
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "retention.purge")
                          .order_by(AuditEntry.seq)).all()
        assert audit[-1].details["deleted"]["stream_sessions"] == 1

    clock.advance(days=120)  # 181 days: network logs go too
    rp.retention.purge()
    with rp.db.session() as s:
        assert s.scalar(select(func.count()).select_from(AccountLogEntry)) == 0


def test_lifting_a_hold_lets_content_age_out(rp: Platform, clock: ManualClock) -> None:
    room = make_room(rp, make_publisher(rp, "pub-c"))
    sess = ended_session(rp, room)
    with rp.db.session() as s:
        hold_id = rp.retention.place_hold(s, scope_type="room", scope_id=room, reason="inquiry", actor="officer:1")
        assert rp.retention.is_held(s, "room", room)
    clock.advance(days=90)
    rp.retention.purge()
    assert sess.recording.exists()
    with rp.db.session() as s:
        rp.retention.lift_hold(s, hold_id, reason="inquiry closed", actor="officer:2")
        assert not rp.retention.is_held(s, "room", room)
        with pytest.raises(HoldAlreadyLifted):
            rp.retention.lift_hold(s, hold_id, reason="again", actor="officer:2")
    rp.retention.purge()
    assert not sess.recording.exists()
    with rp.db.session() as s:
        actions = [(e.action, e.actor, e.reason) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.action.like("retention.hold_%")).order_by(AuditEntry.seq))]
        hold = s.get(LegalHold, hold_id)
        assert hold is not None and hold.lifted_by == "officer:2"
    assert actions == [("retention.hold_place", "officer:1", "inquiry"),
                       ("retention.hold_lift", "officer:2", "inquiry closed")]


def test_case_holds_resolve_through_registered_resolvers(rp: Platform, clock: ManualClock) -> None:
    room = make_room(rp, make_publisher(rp, "pub-d"))
    sess = ended_session(rp, room)
    rp.retention.register_case_resolver(lambda s, case_id: [("room", room)] if case_id == "42" else [])
    with rp.db.session() as s:
        rp.retention.place_hold(s, scope_type="case", scope_id="42", reason="review case 42", actor="officer")
        with pytest.raises(InvalidScope):
            rp.retention.place_hold(s, scope_type="room", scope_id="nope", reason="x", actor="officer")
        with pytest.raises(InvalidScope):
            rp.retention.place_hold(s, scope_type="planet", scope_id="1", reason="x", actor="officer")
    clock.advance(days=61)
    rp.retention.purge()
    assert sess.recording.exists()


def test_policy_periods_never_below_60_and_longer_is_honoured(rp: Platform, clock: ManualClock) -> None:
    text = default_policy_text().replace("by_kind: {}", "by_kind: {recordings: 59}")
    with pytest.raises(PolicyError) as err:
        parse_policy(text)
    assert "by_kind.recordings" in str(err.value) and "60" in str(err.value)
    with pytest.raises(PolicyError):
        parse_policy(default_policy_text().replace("default_days: 60", "default_days: 30"))

    rp.apply_policy(default_policy_text().replace("by_kind: {}", "by_kind: {recordings: 90}"), source="t",
                    actor="admin")
    assert rp.retention.days("recordings") == 90
    assert rp.retention.days("stream_sessions") == 90  # a session row outlives its media
    assert rp.retention.days("account_log") == 180
    room = make_room(rp, make_publisher(rp, "pub-e"))
    sess = ended_session(rp, room)
    clock.advance(days=61)
    rp.retention.purge()
    assert sess.recording.exists() and not any(p.exists() for p in sess.segments)
    assert _sessions(rp) == {sess.id}
    clock.advance(days=30)
    rp.retention.purge()
    assert not sess.recording.exists() and _sessions(rp) == set()


def test_publish_attempts_are_network_logs(rp: Platform, clock: ManualClock) -> None:
    room = make_room(rp, make_publisher(rp, "pub-f"))
    with rp.db.session() as s:
        s.add(PublishAttempt(room_id=room, at=clock.now(), peer="10.1.1.1:5000", accepted=False, reason="r", rule="x"))
    clock.advance(days=179)
    assert {k.kind: k.count for k in rp.retention.purge().kinds}["publish_attempts"] == 0
    clock.advance(days=2)
    assert {k.kind: k.count for k in rp.retention.purge().kinds}["publish_attempts"] == 1


def test_comments_are_purged_when_the_chat_table_exists(rp: Platform, clock: ManualClock) -> None:
    rp.retention.collect_peer_kinds()
    if "chat_messages" not in rp.retention.kinds:
        pytest.skip("no chat_messages table in this build")
    from livegate.core.db import Base

    table = Base.metadata.tables["chat_messages"]
    room = make_room(rp, make_publisher(rp, "pub-g"))
    held_room = make_room(rp, make_publisher(rp, "pub-h"))

    def row(room_id: str, i: int) -> dict[str, object]:
        values: dict[str, object] = {"room_id": room_id, "body": f"hi {i}", "status": "published",
                                     "created_at": clock.now()}
        for c in table.c:
            if c.name not in values and not c.nullable and c.default is None and not c.primary_key:
                values[c.name] = {"JSON": {}, "Boolean": False}.get(type(c.type).__name__, "")
        return values

    with rp.db.session() as s:
        s.execute(table.insert(), [row(room, i) for i in range(5)] + [row(held_room, 9)])
        rp.retention.place_hold(s, scope_type="room", scope_id=held_room, reason="evidence", actor="officer")
    clock.advance(days=61)
    report = rp.retention.purge()
    assert {k.kind: k.count for k in report.kinds}["chat_messages"] == 5
    with rp.db.session() as s:
        assert s.scalar(select(func.count()).select_from(table)) == 1


def test_the_scheduled_purge_runs_once_across_nodes(rp: Platform, clock: ManualClock, settings) -> None:  # noqa: ANN001
    from tests.conftest import make_platform

    other = make_platform(settings.model_copy(update={"node_name": "other-node"}), clock=clock, start_rtmp=False)
    try:
        room = make_room(rp, make_publisher(rp, "pub-i"))
        sess = ended_session(rp, room)
        clock.advance(days=61)

        async def both() -> tuple[list[str], list[str]]:
            return await rp.scheduler.tick(), await other.scheduler.tick()

        ran_here, ran_there = asyncio.run(both())
        assert "retention.purge" in ran_here and "retention.purge" not in ran_there
        assert not sess.recording.exists()
        with rp.db.session() as s:
            assert s.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.action == "retention.purge")) == 1
    finally:
        other.close()


def test_the_audit_log_is_never_purged(rp: Platform, clock: ManualClock) -> None:
    with rp.db.session() as s:
        before = s.scalar(select(func.count()).select_from(AuditEntry))
    clock.advance(days=400)
    rp.retention.purge()
    with rp.db.session() as s:
        assert s.scalar(select(func.min(AuditEntry.seq))) == 1
        assert (s.scalar(select(func.count()).select_from(AuditEntry)) or 0) > (before or 0)
    assert "audit_log" not in rp.retention.kinds


def test_sign_ins_are_recorded_in_the_account_log(rp: Platform) -> None:
    acc = make_publisher(rp, "pub-j")
    with rp.db.session() as s:
        account = rp.accounts.authenticate(s, "pub-j", "correct horse battery", ip="192.0.2.7")
        rp.accounts.open_session(s, account, ip="192.0.2.7", user_agent="Firefox/140")
    with rp.db.session() as s:
        rows = s.scalars(select(AccountLogEntry).where(AccountLogEntry.account_id == acc)).all()
    assert [(r.event, r.ip, r.user_agent) for r in rows] == [("sign_in", "192.0.2.7", "Firefox/140")]
    assert rows[0].at == rp.clock.now()
    assert isinstance(rows[0].at, dt.datetime)


def test_a_failing_backend_does_not_stop_the_other_kinds(rp: Platform, clock: ManualClock) -> None:
    from livegate.retention.builtin_kinds import recording_kind
    from livegate.retention.errors import StorageError
    from livegate.retention.storage import LocalStorage

    class Down(LocalStorage):
        def delete(self, key: str) -> bool:
            raise StorageError("bucket unreachable")

    rp.retention.kinds._kinds["recordings"] = recording_kind(Down(rp.settings.data_dir))
    room = make_room(rp, make_publisher(rp, "pub-down"))
    sess = ended_session(rp, room)
    with rp.db.session() as s:
        s.add(ControlOrder(kind="cutoff", target=room, payload={}, created_at=clock.now(), created_by="t"))
    clock.advance(days=61)
    report = {k.kind: k for k in rp.retention.purge().kinds}
    assert "bucket unreachable" in report["recordings"].error
    assert report["control_orders"].count == 1 and report["segments"].count == 2
    assert sess.recording.exists() and _objects(rp), "nothing lost: the objects stay indexed for the next run"
    assert _sessions(rp) == {sess.id}, "the session row outlives its media, so it waits too"
