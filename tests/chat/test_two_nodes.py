"""Two app instances sharing the database and Redis (PostgreSQL in CI): a comment sent on one
reaches a viewer of the other, and a removal made on one disappears on the other; a lexicon
imported on one is in service on the other."""

from __future__ import annotations

import json
import threading

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from livegate.app import Platform
from livegate.config import Settings
from tests.chat.helpers import Frames, make_room, make_viewer
from tests.conftest import REDIS_URL, make_platform, sign_in_http
from tests.e2e.conftest import start_live_server, stop_live_server

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs LIVEGATE_TEST_REDIS_URL")


def _ws_url(base: str, room: str) -> str:
    return base.replace("http://", "ws://") + f"/ws/rooms/{room}"


def test_comments_and_removals_cross_nodes(platform: Platform, settings: Settings) -> None:
    room = make_room(platform)
    make_viewer(platform, "sender")
    from livegate.core.permissions import Role
    make_viewer(platform, "mgr", role=Role.ROOM_MANAGER, scope=room)
    other = make_platform(settings.model_copy(update={"node_name": "node-b"}))
    a = start_live_server(platform)
    b = start_live_server(other)
    try:
        with httpx.Client(base_url=a.url) as http_a, httpx.Client(base_url=b.url) as http_b:
            csrf = sign_in_http(http_a, "sender")
            mgr = sign_in_http(http_b, "mgr")
            with ws_connect(_ws_url(b.url, room)) as viewer_b, ws_connect(
                    _ws_url(a.url, room), additional_headers={"cookie": f"lg_session={http_a.cookies['lg_session']}"}
            ) as sender_a:
                fb, fa = Frames(viewer_b), Frames(sender_a)
                fb.until("hello")
                fa.until("hello")
                sender_a.send(json.dumps({"type": "comment", "ref": "x", "text": "from node a"}))
                ack = fa.until("ack", ref="x")
                seen = fb.until("comment", id=ack["id"])
                assert seen["text"] == "from node a"
                r = http_b.post(f"/api/v1/rooms/{room}/comments/{ack['id']}/remove", json={"reason": "test"},
                                headers=mgr)
                assert r.status_code == 200, r.text
                assert fa.until("removed")["ids"] == [ack["id"]]
                assert fb.until("removed")["ids"] == [ack["id"]]
            assert csrf
            # the lexicon: imported through node a, in service on node b at once (broker) or by the poll
            changed = threading.Event()
            other.chat.lexicon_listeners.append(lambda version: changed.set())
            platform.chat.import_lexicon("新词测试\tspam.advertising\t3\tblock\n", source="test", actor="test",
                                         merge=True)
            import asyncio
            asyncio.run_coroutine_threadsafe(platform.chat.announce_lexicon(), _loop_of(a)).result(10)
            assert changed.wait(15)
            assert other.chat.moderate("新词测试").action.value == "block"
    finally:
        stop_live_server(b)
        stop_live_server(a)
        other.close()


def _loop_of(live: object) -> object:
    return live.platform.chat._tasks[0].get_loop()  # type: ignore[attr-defined]
