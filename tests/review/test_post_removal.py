"""A sanction takes the account's image-text posts off public surfaces; the rows stay."""

from __future__ import annotations

import asyncio

from livegate.app import Platform
from livegate.core.models import AuditEntry
from livegate.review.models import ImageTextPost
from tests.e2e.helpers import make_room


def test_remove_account_posts_hides_them_but_keeps_the_rows(platform: Platform) -> None:
    room_id, _ = make_room(platform, username="poster")
    with platform.db.session() as s:
        owner = platform.rooms.get(s, room_id).owner_id
        for i in range(3):
            s.add(ImageTextPost(room_id=room_id, account_id=owner, text=f"post {i}", status="published",
                                created_at=platform.clock.now()))

    async def run() -> int:
        return await platform.review.remove_account_posts(owner, actor="test:officer", reason="violation")

    assert asyncio.run(run()) == 3
    with platform.db.session() as s:
        assert platform.review.editorial.posts(s, room_id) == []
        rows = s.query(ImageTextPost).filter_by(account_id=owner).all()
        assert len(rows) == 3 and {r.status for r in rows} == {"removed"}
        assert s.query(AuditEntry).filter_by(action="review.posts_removed").count() == 1
