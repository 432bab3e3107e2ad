"""The viewer page shows a news room's source prominently (Art. 10) and image-text posts as
they are published (Art. 2)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.e2e.conftest import LiveServer
from tests.e2e.helpers import make_room


def test_news_source_and_image_text_posts_on_the_viewer_page(live: LiveServer, browser: Any) -> None:
    p = live.platform
    room_id, _ = make_room(p, username="reporter", category="news", title="Evening news")
    with p.db.session() as s:
        room = p.rooms.get(s, room_id)
        plan = p.review.editorial.submit_plan(s, room, title="Evening news", summary="today", sources=["Xinhua"],
                                              reprint_source="Xinhua News Agency", actor="test:reporter")
        plan_id = plan.id
    with p.db.session() as s:
        p.review.editorial.decide_plan(s, plan_id, approve=True, reason="ok", actor="test:editor")
    with p.db.session() as s:
        assert "Xinhua News Agency" in p.media.settings_for(p.rooms.get(s, room_id), s).news_source
    page = browser.new_page()
    page.goto(f"{live.url}/r/{room_id}")
    page.wait_for_selector("[data-testid=news-source]:not([hidden])", timeout=10_000)
    assert "Xinhua News Agency" in page.locator("[data-testid=news-source]").inner_text()
    page.wait_for_function("window.livegateWs && window.livegateWs.readyState === 1", timeout=10_000)
    post = {"id": 9001, "room_id": room_id, "text": "Breaking: a test post", "source": "Xinhua", "image": None,
            "status": "published", "at": "2026-01-01T00:00:00+00:00"}
    asyncio.run_coroutine_threadsafe(p.media.hub.publish(room_id, {"type": "post", "post": post}),
                                     live.loop).result(10)
    page.wait_for_selector("[data-testid=posts] li[data-id='9001']", timeout=10_000)
    assert "Breaking: a test post" in page.locator("[data-testid=posts]").inner_text()
