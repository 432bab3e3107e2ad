"""Covers and avatars pass the image signals before they are shown (Art. 7): a clean picture
is applied at once, a picture from the hash bank waits for a reviewer and is not served."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from PIL import Image

from livegate.app import Platform
from livegate.core.permissions import Role
from livegate.review.models import ProfileChange
from livegate.review.signals.hashbank import example_picture
from tests.conftest import create_account, sign_in


def _png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(example_picture(seed)).save(buf, format="PNG")
    return buf.getvalue()


def _jpeg_with_exif(seed: int) -> bytes:
    img = Image.fromarray(example_picture(seed))
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"  # Make
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    return buf.getvalue()


def test_a_clean_avatar_is_applied_at_once_without_its_metadata(platform: Platform, client: TestClient) -> None:
    acc = create_account(platform, "viewer1", Role.AUDIENCE)
    me = sign_in(client, "viewer1")
    original = _jpeg_with_exif(3)
    assert b"SecretCameraMaker" in original
    r = me.post("/api/v1/me/avatar", files={"file": ("a.jpg", original, "image/jpeg")})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "applied"
    served = client.get(f"/api/v1/accounts/{acc}/avatar")
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert b"SecretCameraMaker" not in served.content


def test_a_banked_cover_waits_for_a_reviewer_and_is_shown_only_once_dismissed(platform: Platform,
                                                                              client: TestClient) -> None:
    p = platform
    create_account(p, "rev", Role.REVIEWER)
    acc = create_account(p, "streamer", Role.PUBLISHER)
    with p.db.session() as s:
        room, _ = p.rooms.create(s, p.accounts.get(s, acc), title="Room", category="show", actor="t")
        room_id = room.id
        p.review.add_hash(s, actor="test", label="known", image=_png(31))
    p.review.sync_bank(force=True)
    pub = sign_in(client, "streamer")
    r = pub.post(f"/api/v1/studio/rooms/{room_id}/cover", files={"file": ("c.png", _png(31), "image/png")})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "pending"
    assert client.get(f"/api/v1/rooms/{room_id}/cover").status_code == 404
    with p.db.session() as s:
        change = s.get(ProfileChange, r.json()["change"])
        assert change is not None and change.case_id is not None
        case_id = change.case_id
    import asyncio

    asyncio.run(p.review.decide(case_id, decision="dismiss", reason="a false match", actor="account:x:rev"))
    assert client.get(f"/api/v1/rooms/{room_id}/cover").status_code == 200


def test_bad_uploads_are_refused_with_typed_errors(platform: Platform, client: TestClient) -> None:
    acc = create_account(platform, "streamer", Role.PUBLISHER)
    create_account(platform, "other", Role.PUBLISHER)
    with platform.db.session() as s:
        room, _ = platform.rooms.create(s, platform.accounts.get(s, acc), title="Room", category="show", actor="t")
        room_id = room.id
    pub = sign_in(client, "streamer")
    r = pub.post(f"/api/v1/studio/rooms/{room_id}/cover", files={"file": ("x.png", b"not an image", "image/png")})
    assert r.status_code == 422
    other = sign_in(client, "other")
    r = other.post(f"/api/v1/studio/rooms/{room_id}/cover", files={"file": ("c.png", _png(1), "image/png")})
    assert r.status_code == 403
    with platform.db.session() as s:
        assert s.query(ProfileChange).count() == 0
