"""The patrol wall in Chromium: a live room's thumbnail from the frame tap, a logged watch,
and a one-click cut-off that really ends the stream; and the emergency switch that pauses
new streams refusing a real ffmpeg publisher with the reason."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from sqlalchemy import select

from livegate.core.permissions import Role
from livegate.review.models import PatrolLook
from tests.conftest import PASSWORD, create_account, sign_in_http
from tests.e2e.conftest import LiveServer
from tests.e2e.helpers import StreamWatch, ffmpeg_publish, make_room, use_policy


def test_patrol_wall_shows_the_live_room_and_cuts_it_off_in_one_click(live: LiveServer, browser: Any) -> None:
    p = live.platform
    use_policy(p, education={"broadcast_delay_seconds": 0, "frame_sampling_seconds": 1})
    room, key = make_room(p)
    create_account(p, "officer", Role.PATROL_OFFICER)
    analysed = threading.Event()
    p.review.verdict_listeners.append(lambda v: analysed.set() if v.room == room else None)
    cut = threading.Event()
    p.media.cutoff_listeners.append(lambda r: cut.set() if r.room == room and r.stream_cut else None)
    watch = StreamWatch().attach(p)
    proc = ffmpeg_publish(live.rtmp_url(key), seconds=60, audio=False)
    try:
        assert analysed.wait(30), "no frame reached review"
        page = browser.new_page()
        page.goto(f"{live.url}/signin")
        page.fill("input[name=username]", "officer")
        page.fill("input[name=password]", PASSWORD)
        page.click("[data-testid=signin-submit]")
        page.wait_for_url(lambda url: "/signin" not in url)
        page.goto(f"{live.url}/console/patrol")
        tile = page.locator(f"[data-testid=tile-{room}]")
        tile.wait_for()
        thumb_ok = page.evaluate(
            "sel => { const i = document.querySelector(sel); return i.complete && i.naturalWidth > 0; }",
            f"[data-testid=tile-{room}] img")
        assert thumb_ok, "the thumbnail did not load"
        with page.expect_navigation():
            tile.locator("[data-action=watch]").click()
        assert page.url.endswith(f"/r/{room}")
        page.goto(f"{live.url}/console/patrol")
        page.locator(f"[data-testid=tile-{room}] [data-action=wall-cutoff]").click()
        page.wait_for_selector(f"[data-testid=tile-{room}].cut")
        assert cut.wait(15)
        proc.wait(timeout=20)  # the publisher was hung up on
        watch.wait_ended(room)
    finally:
        proc.kill()
        proc.wait()
    with p.db.session() as s:
        looks = [(lk.action, lk.room_id) for lk in s.scalars(select(PatrolLook).order_by(PatrolLook.id))]
        assert ("watch", room) in looks and ("cutoff", room) in looks and looks[0] == ("wall", None)
        assert p.rooms.get(s, room).blocked


def test_pause_switch_refuses_a_real_publisher_and_lifting_it_admits(live: LiveServer) -> None:
    p = live.platform
    use_policy(p, education={"broadcast_delay_seconds": 0})
    room, key = make_room(p)
    create_account(p, "chief", Role.CHIEF_EDITOR)
    with httpx.Client(base_url=live.url) as http:
        hdr = sign_in_http(http, "chief")
        r = http.post("/api/v1/emergency/switches", headers=hdr,
                      json={"name": "pause_streams", "on": True, "reason": "drill", "category": "education"})
        assert r.status_code == 200, r.text
        proc = ffmpeg_publish(live.rtmp_url(key), seconds=5, audio=False)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode != 0 and b"paused" in err
        with p.db.session() as s:
            assert "emergency.paused" in p.rooms.get(s, room).last_refusal
        r = http.post("/api/v1/emergency/switches", headers=hdr,
                      json={"name": "pause_streams", "on": False, "reason": "over", "category": "education"})
        assert r.status_code == 200
    watch = StreamWatch().attach(p)
    proc = ffmpeg_publish(live.rtmp_url(key), seconds=4, audio=False)
    try:
        watch.wait_segments(1, room)
    finally:
        proc.kill()
        proc.wait()
