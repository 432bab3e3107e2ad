"""The fan-out path on real sockets: uvicorn (both of its ``websockets`` protocols) serving the
platform, real WebSocket clients. Under uvicorn every server frame is written straight to the
connection's transport as ready-made frame bytes; these tests hold the protocol to what
docs/protocol.md says over that path, with compression negotiated, with batches, and with a
viewer that stops reading."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader
from websockets.sync.client import ClientConnection, connect

from livegate.app import Platform, create_app
from livegate.chat import gateway
from livegate.chat.hub import MAX_BATCH_BYTES, batch_frame, batch_frames, text_frame
from livegate.core.permissions import Role
from tests.chat.helpers import Frames, make_room, make_viewer
from tests.conftest import sign_in_http
from tests.e2e.conftest import start_live_server, stop_live_server

WS_IMPLEMENTATIONS = ["websockets-sansio", "websockets"]


class Live:
    def __init__(self, platform: Platform, url: str, loop: asyncio.AbstractEventLoop) -> None:
        self.platform = platform
        self.url = url
        self.loop = loop

    def ws_url(self, room: str) -> str:
        return self.url.replace("http://", "ws://") + f"/ws/rooms/{room}"

    def call(self, coro: Any) -> Any:
        """Run ``coro`` on the server's event loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def viewers(self, room: str) -> list[gateway.SocketViewer]:
        async def get() -> list[Any]:
            return list(self.platform.media.hub._viewers.get(room, ()))
        return self.call(get())  # type: ignore[no-any-return]


@contextmanager
def serve(platform: Platform, ws: str) -> Iterator[Live]:
    srv = start_live_server(platform, ws)
    try:
        yield Live(platform, srv.url, srv.loop)
    finally:
        stop_live_server(srv)


def _connect(url: str, **kw: Any) -> ClientConnection:
    return connect(url, proxy=None, open_timeout=10, **kw)


@pytest.mark.parametrize("ws", WS_IMPLEMENTATIONS)
def test_every_frame_goes_straight_to_the_socket_and_follows_the_protocol(platform: Platform, ws: str) -> None:
    room = make_room(platform)
    make_viewer(platform, "ann")
    make_viewer(platform, "mod", role=Role.ROOM_MANAGER, scope=room)
    with serve(platform, ws) as live, httpx.Client(base_url=live.url) as http, \
            httpx.Client(base_url=live.url) as http_mod:
        sign_in_http(http, "ann")
        csrf = sign_in_http(http_mod, "mod")
        cookie = {"cookie": f"lg_session={http.cookies['lg_session']}"}
        with _connect(live.ws_url(room), additional_headers=cookie) as ann, \
                _connect(live.ws_url(room)) as anon, _connect(live.ws_url(room)) as rude:
            fa, fb, fr = Frames(ann), Frames(anon), Frames(rude)
            assert fa.until("hello")["you"]["can_comment"]
            assert fb.until("hello")["you"]["can_comment"] is False
            fr.until("hello")
            viewers = live.viewers(room)
            assert len(viewers) == 3 and all(v.direct is not None for v in viewers)
            # compression was negotiated, and the uncompressed frames written directly are valid in it
            assert [e.name for e in ann.protocol.extensions] == ["permessage-deflate"]

            for i in range(5):
                ann.send(json.dumps({"type": "comment", "ref": f"c{i}", "text": f"burst {i}"}))
            acks = [fa.until("ack", ref=f"c{i}") for i in range(5)]
            assert all(a["status"] == "published" for a in acks)
            seen = [fb.until("comment", id=a["id"]) for a in acks]  # every one, in order
            assert [s["text"] for s in seen] == [f"burst {i}" for i in range(5)]

            anon.send('{"type": "ping", "ref": "p1"}')
            assert fb.until("pong")["ref"] == "p1"
            anon.send("not json")
            assert fb.until("error")["code"] == "bad_json"

            r = http_mod.post(f"/api/v1/rooms/{room}/comments/{acks[0]['id']}/remove", json={"reason": "test"},
                              headers=csrf)
            assert r.status_code == 200, r.text
            assert fb.until("removed")["ids"] == [acks[0]["id"]]
            assert fa.until("removed")["ids"] == [acks[0]["id"]]

            # abuse closes that connection only: its last frame is the typed error, then 1008
            for _ in range(11):  # the 11th error within 10 s
                rude.send("{")
            assert fr.until("error", code="abuse")
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    fr.next()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
            anon.send('{"type": "ping", "ref": "p2"}')
            assert fb.until("pong")["ref"] == "p2"

            # a control event carried out by this node reaches its viewers
            assert live.call(live.platform.media.hub.send_local(room, {"type": "cutoff", "room": room,
                                                                      "reason": "test"})) == 2
            assert fb.until("cutoff")["reason"] == "test"
            assert fa.until("cutoff")["reason"] == "test"


@pytest.mark.parametrize("ws", WS_IMPLEMENTATIONS)
def test_a_busy_rooms_events_are_coalesced_into_batches_in_order(platform: Platform, ws: str) -> None:
    room = make_room(platform)
    with serve(platform, ws) as live, _connect(live.ws_url(room), compression=None) as viewer:
        f = Frames(viewer)
        f.until("hello")
        hub = live.platform.media.hub
        # Make the room's fan-out look expensive: its flushes then start at most every 0.2 s.
        hub.batch_window, hub.fanout_share = 0.2, 1e-9

        async def burst() -> None:
            await hub.send_local(room, {"type": "notice", "code": "n", "text": "first"})
            for i in range(10):
                await hub.send_local(room, {"type": "notice", "code": "n", "text": f"then {i}"})

        live.call(burst())
        assert f.until("notice")["text"] == "first"
        raw = json.loads(viewer.recv(10))  # the next frame holds the ten that came within the window
        assert raw["type"] == "batch" and raw["v"] == 1
        assert [e["text"] for e in raw["events"]] == [f"then {i}" for i in range(10)]
        assert hub.interval(room) == pytest.approx(0.2)


@pytest.mark.parametrize("ws", WS_IMPLEMENTATIONS)
def test_a_viewer_that_stops_reading_is_dropped_and_the_room_goes_on(platform: Platform, ws: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gateway, "MAX_BUFFERED_BYTES", 64 * 1024)
    room = make_room(platform)
    with serve(platform, ws) as live:
        # The slow viewer's client stops reading from its socket once two frames wait unread.
        with _connect(live.ws_url(room), max_queue=(2, 1)) as slow:
            Frames(slow).until("hello")
            (slow_viewer,) = live.viewers(room)
            with _connect(live.ws_url(room), max_queue=None) as fast:
                ff = Frames(fast)
                ff.until("hello")
                hub = live.platform.media.hub
                filler = "x" * 30_000
                sent = 0
                while not slow_viewer.too_slow:  # the kernel's buffers fill first, then the transport's
                    assert sent < 1000, "the slow viewer was never dropped"
                    live.call(hub.send_local(room, {"type": "notice", "code": "fill", "text": f"{sent} {filler}"}))
                    sent += 1
                # the slow one, once it reads again, gets what was buffered, the typed error, then 4408
                fs = Frames(slow)
                last: dict[str, Any] = {}
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        last = fs.next()
                assert last["type"] == "error" and last["code"] == "too_slow"
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408
                # the room went on: the fast viewer got every event, in order
                got = [int(ff.until("notice", code="fill")["text"].split()[0]) for _ in range(sent)]
                assert got == list(range(sent))


def test_the_test_client_uses_the_queued_path(platform: Platform) -> None:
    from fastapi.testclient import TestClient

    room = make_room(platform)
    with TestClient(create_app(platform)) as client, client.websocket_connect(f"/ws/rooms/{room}") as ws:
        Frames(ws).until("hello")
        viewers = list(platform.media.hub._viewers[room])
        assert len(viewers) == 1 and viewers[0].direct is None


def _parse(data: bytes) -> list[Frame]:
    reader = StreamReader()
    reader.feed_data(data)
    frames = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=False, max_size=None, extensions=None)
        try:
            while True:
                next(parser)
        except StopIteration as done:
            frames.append(done.value)
    return frames


def test_frames_are_whole_unmasked_uncompressed_text_frames() -> None:
    for n in (0, 1, 125, 126, 127, 65535, 65536, 70000):
        text = "é" * (n // 2) + "x" * (n % 2)
        (frame,) = _parse(text_frame(text))
        assert frame.opcode is Opcode.TEXT and frame.fin and not (frame.rsv1 or frame.rsv2 or frame.rsv3)
        assert bytes(frame.data).decode() == text
    texts = [json.dumps({"v": 1, "type": "comment", "id": i, "text": "弹" * 300}, ensure_ascii=False)
             for i in range(300)]
    groups = batch_frames(texts)
    assert len(groups) > 1 and all(len(g) <= MAX_BATCH_BYTES + 100 for g in groups)
    frames = _parse(b"".join(text_frame(g) for g in groups))
    events = [e for fr in frames for e in json.loads(bytes(fr.data))["events"]]
    assert [e["id"] for e in events] == list(range(300))
    assert batch_frames(texts[:1]) == [texts[0]] and batch_frame(texts[:1]) == texts[0]
