"""The viewer page in Debian's Chromium: hls.js plays the live stream (currentTime advances),
and a cut-off stops it at once with the notice."""

from __future__ import annotations

from typing import Any

import httpx

from livegate.core.permissions import Role
from tests.conftest import create_account, sign_in_http
from tests.e2e.conftest import LiveServer
from tests.e2e.helpers import StreamWatch, ffmpeg_publish, make_room, use_policy


def test_chromium_plays_the_room_and_stops_with_the_notice_on_cutoff(live: LiveServer, browser: Any) -> None:
    use_policy(live.platform, education={"broadcast_delay_seconds": 0})
    room, key = make_room(live.platform, title="Chromium test")
    create_account(live.platform, "officer", Role.PATROL_OFFICER)
    watch = StreamWatch().attach(live.platform)
    proc = ffmpeg_publish(live.rtmp_url(key), seconds=60)
    try:
        watch.wait_segments(2, room)
        page = browser.new_page()
        page.goto(f"{live.url}/r/{room}")
        assert page.locator("h1").inner_text() == "Chromium test"
        page.wait_for_selector("[data-testid=live-badge]:not([hidden])", timeout=30_000)
        # playback: currentTime moves forward
        page.wait_for_function("document.querySelector('#player').currentTime > 0.5", timeout=30_000)
        t1 = page.evaluate("document.querySelector('#player').currentTime")
        page.wait_for_function(f"document.querySelector('#player').currentTime > {t1} + 0.5", timeout=30_000)
        assert page.locator("[data-testid=notice]").is_hidden()
        with httpx.Client(base_url=live.url) as http:
            headers = sign_in_http(http, "officer")
            r = http.post(f"/api/v1/rooms/{room}/cutoff", json={"reason": "chromium test"}, headers=headers)
            assert r.status_code == 200
        page.wait_for_selector("[data-testid=notice]:not([hidden])", timeout=10_000)
        assert page.evaluate("document.body.dataset.cutoff") == "true"
        assert page.evaluate("document.querySelector('#player').paused")
        # a page opened after the cut shows the notice straight away and plays nothing
        late = browser.new_page()
        late.goto(f"{live.url}/r/{room}")
        assert late.locator("[data-testid=notice]").is_visible()
    finally:
        proc.kill()
        proc.wait()
