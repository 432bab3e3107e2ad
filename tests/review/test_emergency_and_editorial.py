"""Emergency switches (audited, on an incident's timeline) and their gate check; news plans
and their gate check; image-text posts (marked, reviewed, approved in news rooms); profile
changes through the text signal; the audio tap's transcript."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image
from sqlalchemy import select

from livegate.app import Platform
from livegate.chat.lexicon import Lexicon
from livegate.core.models import AuditEntry
from livegate.core.permissions import Role
from livegate.media.models import Room
from livegate.media.rooms import GateContext
from livegate.media.sampler import AudioChunk
from livegate.review.editorial import NewsPlanApproved
from livegate.review.emergency import EmergencyPause
from livegate.review.models import ImageTextPost, ReviewCase
from livegate.review.signals.hashbank import example_picture
from tests.conftest import create_account

BAD = next(e.term for e in Lexicon.default().entries if e.action.value == "block")


def _room(p: Platform, category: str = "show", name: str = "pub") -> tuple[str, int]:
    acc = create_account(p, name, Role.PUBLISHER)
    with p.db.session() as s:
        room, _ = p.rooms.create(s, p.accounts.get(s, acc), title="t", category=category, actor="test")
        return room.id, acc


def _ctx(p: Platform, s: object, room_id: str) -> GateContext:
    room = s.get(Room, room_id)  # type: ignore[attr-defined]
    return GateContext(session=s, room=room, owner=p.accounts.get(s, room.owner_id), now=p.clock.now(),  # type: ignore[arg-type]
                       peer="test")


async def test_pause_switch_refuses_new_streams_and_lands_on_the_incident_timeline(platform: Platform) -> None:
    p = platform
    show, _ = _room(p, "show", "pub-a")
    gaming, _ = _room(p, "gaming", "pub-b")
    with p.db.session() as s:
        inc = p.review.emergency.open_incident(s, title="flood of violating streams", actor="user:chief").id
    await p.review.set_switch("pause_streams", True, actor="user:chief", reason="incident", incident_id=inc,
                              category="show")
    with p.db.session() as s:
        refusal = EmergencyPause().check(_ctx(p, s, show))
        assert refusal is not None and refusal.rule == "emergency.paused" and "show" in refusal.message
        assert EmergencyPause().check(_ctx(p, s, gaming)) is None
    await p.review.set_switch("pause_streams", True, actor="user:chief", reason="all", incident_id=inc)
    with p.db.session() as s:
        assert EmergencyPause().check(_ctx(p, s, gaming)) is not None
    await p.review.set_switch("pause_streams", False, actor="user:chief", reason="over", incident_id=inc)
    await p.review.set_switch("pause_streams", False, actor="user:chief", reason="over", incident_id=inc,
                              category="show")
    with p.db.session() as s:
        assert EmergencyPause().check(_ctx(p, s, show)) is None
        p.review.emergency.close_incident(s, inc, actor="user:chief", reason="resolved")
    with p.db.session() as s:
        [incident] = p.review.emergency.incidents(s)
        actions = [e["action"] for e in incident["timeline"]]
        assert actions == ["incident.open", "switch.on", "switch.on", "switch.off", "switch.off", "incident.close"]
        audit = list(s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("emergency.%"))))
        assert audit.count("emergency.pause_streams.on") == 2 and "emergency.incident_close" in audit


async def test_raise_sampling_tightens_new_streams_and_premoderation_reaches_chat(platform: Platform) -> None:
    p = platform
    room_id, _ = _room(p, "education")
    with p.db.session() as s:
        before = p.media.settings_for(s.get(Room, room_id), s).sample_interval_seconds
    await p.review.set_switch("raise_sampling", True, actor="user:chief", reason="incident", seconds=2)
    with p.db.session() as s:
        assert p.media.settings_for(s.get(Room, room_id), s).sample_interval_seconds == 2.0 < before
    await p.review.set_switch("raise_sampling", False, actor="user:chief", reason="over")
    with p.db.session() as s:
        assert p.media.settings_for(s.get(Room, room_id), s).sample_interval_seconds == before
    calls: list[tuple[bool, str]] = []

    class Chat:
        async def set_platform_premoderation(self, on: bool, *, actor: str, reason: str) -> None:
            calls.append((on, actor))

    real = getattr(p, "chat", None)
    p.chat = Chat()  # type: ignore[assignment]
    try:
        active = await p.review.set_switch("premoderate_comments", True, actor="user:chief", reason="incident")
    finally:
        p.chat = real  # type: ignore[assignment]
    assert calls == [(True, "user:chief")] and "premoderate_comments" in active


async def test_news_room_needs_an_approved_plan_and_shows_its_reprint_source(platform: Platform) -> None:
    p = platform
    room_id, _ = _room(p, "news")
    gate = NewsPlanApproved(p)
    with p.db.session() as s:
        refusal = gate.check(_ctx(p, s, room_id))
        assert refusal is not None and refusal.rule == "news.plan_required" and "chief editor" in refusal.message
        plan = p.review.editorial.submit_plan(s, s.get(Room, room_id), title="Flood update", summary="Live from",
                                              sources=["City water bureau"], reprint_source="Xinhua",
                                              actor="user:pub")
        assert gate.check(_ctx(p, s, room_id)) is not None  # pending is not approved
        p.review.editorial.decide_plan(s, plan.id, approve=True, reason="sources check out", actor="user:chief")
        assert gate.check(_ctx(p, s, room_id)) is None
        assert p.review.editorial.approved_plan(s, room_id).reprint_source == "Xinhua"  # type: ignore[union-attr]
    other, _ = _room(p, "show", "pub-b")
    with p.db.session() as s:
        assert gate.check(_ctx(p, s, other)) is None


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


async def test_image_text_posts_are_marked_reviewed_and_held_in_news_rooms(platform: Platform) -> None:
    p = platform
    room_id, acc = _room(p, "show")
    with p.db.session() as s:
        s.get(Room, room_id).kind = "image_text"
    pic = example_picture(9)
    view = await p.review.post(room_id, account_id=acc, text="hello from the show", image=_png(pic), actor="u")
    assert view["status"] == "published" and view["source"].startswith("livegate")
    with p.db.session() as s:
        post = s.get(ImageTextPost, view["id"])
        marked = np.asarray(Image.open(io.BytesIO(post.image_jpeg)).convert("RGB")).astype(int)
    assert np.abs(marked[:40, -120:] - pic[:40, -120:].astype(int)).mean() > 10  # the mark is in the pixels
    held = await p.review.post(room_id, account_id=acc, text=f"x {BAD}", image=None, actor="u")
    assert held["status"] == "held"
    with p.db.session() as s:
        case = s.scalars(select(ReviewCase).where(ReviewCase.target_type == "post")).one()
    view2 = await p.review.decide(case.id, decision="dismiss", reason="fine in context", actor="user:r")
    assert view2["status"] == "decided"
    with p.db.session() as s:
        assert s.get(ImageTextPost, held["id"]).status == "published"
    news_id, nacc = _room(p, "news", "newsie")
    with p.db.session() as s:
        s.get(Room, news_id).kind = "image_text"
    pending = await p.review.post(news_id, account_id=nacc, text="breaking", image=None, actor="u")
    assert pending["status"] == "pending"
    approved = await p.review.decide_post(pending["id"], approve=True, actor="user:chief", reason="ok")
    assert approved["status"] == "published"


def test_titles_and_nicknames_pass_the_text_signal_before_they_are_shown(platform: Platform) -> None:
    p = platform
    room_id, acc = _room(p)
    with p.db.session() as s:
        ok = p.review.request_profile_change(s, account_id=acc, field="room_title", target_id=room_id,
                                             text="Cooking night", actor="u")
        assert ok.status == "applied" and s.get(Room, room_id).title == "Cooking night"
        bad = p.review.request_profile_change(s, account_id=acc, field="nickname", target_id=str(acc),
                                              text=f"{BAD}", actor="u")
        assert bad.status == "pending" and bad.case_id is not None
        assert p.accounts.get(s, acc).nickname != BAD


def test_audio_transcript_opens_a_case(platform: Platform) -> None:
    p = platform
    room_id, _ = _room(p)

    class Heard:
        name = "scripted"

        def transcribe(self, pcm: np.ndarray, sample_rate: int) -> str:
            return f"he said {BAD}"

    p.review.use_speech_to_text(Heard())
    assert p.review.audio_chunk_seconds() == 10.0
    cid = p.review.analyse_audio(room_id, AudioChunk(room_id, "s1", 3.0, 16000, np.zeros(1600, np.int16)))
    with p.db.session() as s:
        assert p.review.cases.get(s, cid).kinds == ["transcript"]  # type: ignore[arg-type]
    assert base64  # keeps the import list stable for helpers below
