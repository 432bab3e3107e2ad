"""Comments are stored by group commit: those that arrive while a transaction is written go in
together, each is acknowledged only once its transaction committed, the gate (mutes,
sanctions) is still applied per sender, and one comment that cannot be stored costs no other."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import event, func, select

from livegate.app import Platform
from livegate.chat.classifier import ClassifierOutcome
from livegate.chat.models import ChatMessage
from livegate.chat.service import RoomModes, Sender, _StoreJob
from livegate.identity.accounts import principal_for
from tests.chat.helpers import make_room, make_viewer


def _sender(platform: Platform, account_id: int) -> Sender:
    with platform.db.session() as s:
        return Sender(principal_for(platform.accounts.get(s, account_id)), "10.0.0.2", "unit")


def _stored(platform: Platform, message_id: int | None) -> ChatMessage | None:
    with platform.db.session() as s:
        return None if message_id is None else s.get(ChatMessage, message_id)


def test_concurrent_comments_share_commits_and_each_is_acked_after_its_commit(platform: Platform) -> None:
    room = make_room(platform)
    senders = [_sender(platform, make_viewer(platform, f"crowd-{i}")) for i in range(8)]
    muted = _sender(platform, make_viewer(platform, "muted-one"))
    suspended = _sender(platform, make_viewer(platform, "suspended-one"))
    commits: list[int] = []

    def count(_conn: object) -> None:  # the chat's own transactions, not the test's reads
        if threading.current_thread().name.startswith("chat-db"):
            commits.append(1)

    async def run() -> None:
        chat = platform.chat
        await chat.mute(room, muted.account_id or 0, minutes=10, actor="test", reason="spam")
        await platform.enforcement.sanction(suspended.account_id or 0, reason_code="prohibited.national_security",
                                            actor="test", kind="suspension", days=3, scope=["comment"],
                                            escalate=False)
        await chat.post_comment(room, senders[0], "warm-up")  # the room's state is cached from here on
        event.listen(platform.db.engine, "commit", count)
        try:
            posts = [(s, f"{s.principal.username if s.principal else ''} says {n}")
                     for n in range(3) for s in (*senders, muted, suspended)]
            acked_rows_present: list[bool] = []
            acked_order: list[int | None] = []

            async def post(sender: Sender, text: str) -> object:
                result = await chat.post_comment(room, sender, text, ref=text)
                acked_order.append(result.message_id)
                # acknowledged means durable: a new transaction sees it at once
                acked_rows_present.append(_stored(platform, result.message_id) is not None)
                return result

            results = await asyncio.gather(*(post(s, t) for s, t in posts))
        finally:
            event.remove(platform.db.engine, "commit", count)
        by_text = {t: r for (_, t), r in zip(posts, results, strict=True)}
        assert all(acked_rows_present) and len(acked_rows_present) == len(posts)
        for (sender, text), r in zip(posts, results, strict=True):
            if sender is muted:
                assert r.status == "refused" and r.rule == "chat.muted", r  # type: ignore[attr-defined]
            elif sender is suspended:
                assert r.status == "refused" and r.rule == "sanction.suspended", r  # type: ignore[attr-defined]
            else:
                assert r.status == "published", r  # type: ignore[attr-defined]
        # every comment is a row of its own, refused ones included (Art. 16)
        ids = [r.message_id for r in results]  # type: ignore[attr-defined]
        assert None not in ids and len(set(ids)) == len(posts)
        with platform.db.session() as s:
            rows = {m.id: m for m in s.scalars(select(ChatMessage).where(ChatMessage.id.in_(ids)))}
        assert all(rows[by_text[t].message_id].body == t for _, t in posts)  # type: ignore[attr-defined]
        if platform.db.dialect == "sqlite":
            # One group commit at a time, and no Redis round trips before or after the store
            # (rate limits, broker) to reorder them: stored in posting order, acknowledged in
            # the order they were stored.
            assert ids == sorted(ids) and acked_order == ids
        # fewer transactions than comments: they were committed in groups
        assert 0 < len(commits) < len(posts), (len(commits), len(posts))

    asyncio.run(run())


def test_a_comment_that_cannot_be_stored_fails_alone_and_the_others_are_stored(platform: Platform) -> None:
    room = make_room(platform)
    sender = _sender(platform, make_viewer(platform, "steady"))

    async def run() -> None:
        chat = platform.chat
        await chat.post_comment(room, sender, "warm-up")

        def job(room_id: str, text: str) -> _StoreJob:
            return _StoreJob(room_id, (False, RoomModes(False, 0)), sender, text, text, "scroll", "#ffffff",
                             chat.moderate(text), ClassifierOutcome(None), None)

        # Queued in one go: the first starts a transaction, the rest wait for the next one,
        # where the comment for a room that does not exist breaks the insert.
        jobs = [job(room, "first"), job(room, "second"), job("no-such-room", "orphan"), job(room, "third")]
        outcomes = await asyncio.gather(*(chat._store(j) for j in jobs), return_exceptions=True)
        assert isinstance(outcomes[2], Exception)
        for j, out in zip(jobs, outcomes, strict=True):
            if j.room_id != room:
                continue
            assert not isinstance(out, BaseException), out
            result, frame, _held = out
            assert result.status == "published" and frame is not None and frame["text"] == j.text
            row = _stored(platform, result.message_id)
            assert row is not None and row.body == j.text
        with platform.db.session() as s:
            assert s.scalar(select(func.count()).select_from(ChatMessage)
                            .where(ChatMessage.body == "orphan")) == 0
        # and the writer goes on
        assert (await chat.post_comment(room, sender, "after")).status == "published"

    asyncio.run(run())
