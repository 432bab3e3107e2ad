"""Two Chromium browsers on one room: one comments, the other sees it fly over the video as
danmaku and in the list; a room manager removes it and it vanishes from both at once."""

from __future__ import annotations

from typing import Any

import httpx

from livegate.core.permissions import Role
from tests.chat.helpers import make_room, make_viewer
from tests.e2e.conftest import LiveServer


def _context_as(browser: Any, live: LiveServer, username: str) -> Any:
    with httpx.Client(base_url=live.url) as http:
        r = http.post("/api/v1/auth/signin", json={"username": username, "password": "correct horse battery"})
        assert r.status_code == 200, r.text
        cookie = r.cookies["lg_session"]
    ctx = browser.new_context()
    ctx.add_cookies([{"name": "lg_session", "value": cookie, "url": live.url}])
    return ctx


def test_a_comment_flies_over_the_video_and_a_manager_removes_it_everywhere(live: LiveServer, browser: Any) -> None:
    room = make_room(live.platform)
    make_viewer(live.platform, "viewer-a")
    make_viewer(live.platform, "manager-b", role=Role.ROOM_MANAGER, scope=room)
    ctx_a, ctx_b = _context_as(browser, live, "viewer-a"), _context_as(browser, live, "manager-b")
    try:
        a, b = ctx_a.new_page(), ctx_b.new_page()
        for page in (a, b):
            page.goto(f"{live.url}/r/{room}")
            page.wait_for_selector("body[data-chat=ready]", timeout=15_000)
        a.fill("[data-testid=comment-input]", "弹幕你好 hello")
        a.click("[data-testid=comment-send]")
        flying = b.locator("[data-testid=danmaku] .danmaku-item", has_text="弹幕你好 hello")
        flying.wait_for(timeout=10_000)
        # it is drawn over the video: inside the stage, overlapping the player's box
        box, video = flying.bounding_box(), b.locator("[data-testid=player]").bounding_box()
        assert box and video and video["y"] <= box["y"] <= video["y"] + video["height"]
        b.locator("[data-testid=comment-list] li", has_text="弹幕你好 hello").wait_for(timeout=10_000)
        a.locator("[data-testid=comment-list] li", has_text="弹幕你好 hello").wait_for(timeout=10_000)
        b.on("dialog", lambda d: d.accept("off topic"))
        b.locator("[data-testid=comment-list] li", has_text="弹幕你好 hello").locator(
            "[data-testid=comment-remove]").click()
        for page in (a, b):
            page.locator("[data-testid=comment-list] li", has_text="弹幕你好 hello").wait_for(state="detached",
                                                                                          timeout=5_000)
            assert page.locator("[data-testid=danmaku] .danmaku-item", has_text="弹幕你好 hello").count() == 0
        # a refused comment shows its reason to the sender
        a.fill("[data-testid=comment-input]", "x" * 5)
        a.evaluate("document.querySelector('[data-testid=comment-input]').value = 'y'.repeat(300)")
        a.click("[data-testid=comment-send]")
        a.wait_for_selector("[data-testid=comment-status][data-state=refused]", timeout=10_000)
        assert "200" in a.inner_text("[data-testid=comment-status]")
    finally:
        ctx_a.close()
        ctx_b.close()
