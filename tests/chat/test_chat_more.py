"""Slow mode, the classifier inside the flow, bulk removal and context, the lexicon over the
API and console, and that every valid frame gets its answer."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.testclient import TestClient

from livegate.app import Platform
from livegate.chat.classifier import ClassifierVerdict
from livegate.chat.lexicon import Action
from livegate.chat.service import Sender
from livegate.identity.accounts import principal_for
from tests.chat.helpers import Frames, make_room, make_viewer
from tests.conftest import As, sign_in


def _sender(platform: Platform, account_id: int) -> Sender:
    with platform.db.session() as s:
        return Sender(principal_for(platform.accounts.get(s, account_id)), "10.0.0.1", "unit")


class _Hook:
    name = "fake"

    def __init__(self) -> None:
        self.never = asyncio.Event()

    async def classify(self, text: str, *, room_id: str, account_id: int | None) -> ClassifierVerdict | None:
        if "hang" in text:
            await self.never.wait()
        if "scam" in text:
            return ClassifierVerdict(Action.BLOCK, "spam.fraud", "fraud pattern", "fake")
        return None


def test_slow_mode_classifier_and_bulk_removal(platform: Platform) -> None:
    room = make_room(platform)
    viewer = _sender(platform, make_viewer(platform, "frank"))

    async def run() -> None:
        chat = platform.chat
        await chat.set_room_modes(room, actor="test", reason="calm down", slow_seconds=30)
        first = await chat.post_comment(room, viewer, "one", ref="1")
        second = await chat.post_comment(room, viewer, "two", ref="2")
        assert first.status == "published"
        assert second.status == "refused" and second.rule == "chat.slow_mode" and 0 < (second.retry_after or 0) <= 30
        await chat.set_room_modes(room, actor="test", reason="ok", slow_seconds=0)
        chat.classifier, chat.classifier_timeout = _Hook(), 0.05
        blocked = await chat.post_comment(room, viewer, "great scam offer", ref="3")
        assert blocked.status == "blocked" and blocked.rule == "moderation.blocked"
        slow = await chat.post_comment(room, viewer, "hang on", ref="4")
        assert slow.status == "published"
        with platform.db.session() as s:
            from livegate.chat.models import ChatMessage

            b = s.get(ChatMessage, blocked.message_id)
            h = s.get(ChatMessage, slow.message_id)
            assert b is not None and b.decision["classifier"]["action"] == "block"
            assert h is not None and h.decision["classifier"] == {"fallback": "timeout"}
            assert b.ip == "10.0.0.1" and b.client == "unit"
            context = chat.message_context(s, blocked.message_id, before=1, after=1)
            assert [c["focus"] for c in context] == [False, True, False]
        removed = await chat.remove_account_messages(viewer.account_id or 0, actor="test", reason="spam wave")
        assert removed == 2  # the two published ones

    asyncio.run(run())


def test_every_valid_frame_gets_an_answer_even_in_a_burst(platform: Platform, client: TestClient) -> None:
    room = make_room(platform)
    make_viewer(platform, "gina")
    gina = sign_in(client, "gina")
    with client.websocket_connect(f"/ws/rooms/{room}", headers={"cookie": f"lg_session={gina.session}"}) as ws:
        f = Frames(ws)
        f.until("hello")
        refs = [f"b{i}" for i in range(30)]
        for ref in refs:
            ws.send_json({"type": "comment", "ref": ref, "text": f"burst {ref}"})
        answered: dict[str, str] = {}
        while len(answered) < len(refs):
            msg = f.next()
            if msg.get("ref") in refs and msg["type"] in ("ack", "refused", "error"):
                answered[msg["ref"]] = msg.get("status") or msg["code"]
        assert set(answered) == set(refs)
        assert "published" in answered.values() and "flood" in answered.values()


def test_lexicon_over_the_api_and_the_console(platform: Platform, client: TestClient, admin: As) -> None:
    r = admin.post("/api/v1/chat/lexicon", json={"tsv": "控制台词\tspam.advertising\t2\thold\n", "merge": True})
    assert r.status_code == 201, r.text
    bad = admin.post("/api/v1/chat/lexicon", json={"tsv": "x\tnot.a.category\t2\thold\n"})
    assert bad.status_code == 422 and bad.json()["error"]["details"]["line"] == 1
    listing: dict[str, Any] = admin.get("/api/v1/chat/lexicon").json()
    assert listing["versions"][0]["entries"] > 60
    page = admin.get("/console/chat/lexicon")
    assert page.status_code == 200 and listing["versions"][0]["version"] in page.text
    assert admin.post("/api/v1/chat/premoderation", json={"on": True, "reason": "drill"}).status_code == 200
    assert "on" in admin.get("/console/chat/lexicon").text
