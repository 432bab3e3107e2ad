"""A finished live is offered as a replay when the category allows it; the publisher can
withdraw it, after which it answers 410 while the recording stays."""

from __future__ import annotations

import httpx

from tests.conftest import sign_in_http
from tests.e2e.conftest import LiveServer
from tests.e2e.helpers import StreamWatch, ffmpeg_publish, make_room, use_policy


def test_replay_then_withdraw(live: LiveServer) -> None:
    use_policy(live.platform, education={"broadcast_delay_seconds": 0, "replay_allowed": True})
    room, key = make_room(live.platform, username="replayer")
    watch = StreamWatch().attach(live.platform)
    proc = ffmpeg_publish(live.rtmp_url(key), seconds=4)
    proc.wait(timeout=60)
    ended = watch.wait_ended(room)
    assert ended.replay is not None
    with httpx.Client(base_url=live.url) as http:
        watch.wait_recorded(room)  # the node writes the end to the database after on_ended
        replays = http.get(f"/api/v1/rooms/{room}/replays").json()["replays"]
        assert len(replays) == 1
        playlist = http.get(replays[0]["playlist"])
        assert playlist.status_code == 200 and "#EXT-X-ENDLIST" in playlist.text
        headers = sign_in_http(http, "replayer")
        r = http.post(f"/api/v1/studio/rooms/{room}/replays/{replays[0]['session']}/withdraw",
                      json={"reason": "not my best"}, headers=headers)
        assert r.status_code == 200, r.text
        assert http.get(replays[0]["playlist"]).status_code == 410
        assert http.get(f"/api/v1/rooms/{room}/replays").json()["replays"] == []
    assert ended.recording.exists()
