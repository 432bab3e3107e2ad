from __future__ import annotations

from fastapi.testclient import TestClient

from livegate.app import Platform
from livegate.core.models import AuditEntry
from livegate.media.rooms import key_hash
from tests.conftest import sign_in
from tests.identity.helpers import make_verified_publisher


def test_a_publisher_creates_a_room_rotates_the_key_and_the_studio_shows_it(platform: Platform,
                                                                            client: TestClient) -> None:
    make_verified_publisher(platform, "streamer")
    pub = sign_in(client, "streamer")
    r = pub.post("/api/v1/studio/rooms", json={"title": "My room", "category": "gaming"})
    assert r.status_code == 201, r.text
    room = r.json()
    key1 = room["stream_key"]
    assert len(key1) >= 32 and room["rtmp_url"].startswith("rtmp://")
    page = pub.get("/studio", headers={"accept": "text/html"})
    assert page.status_code == 200 and room["id"] in page.text and key1 in page.text  # behind "Show"
    r = pub.post(f"/api/v1/studio/rooms/{room['id']}/rotate-key")
    key2 = r.json()["stream_key"]
    assert key2 != key1
    with platform.db.session() as s:
        assert platform.rooms.by_key(s, key1) is None
        assert platform.rooms.by_key(s, key2) is not None
        # only the hash is used for lookup; the key itself never reaches the audit log
        entries = s.query(AuditEntry).all()
        assert all(key1 not in str(e.details) and key2 not in str(e.details) for e in entries)
        assert platform.rooms.get(s, room["id"]).stream_key_hash == key_hash(key2)


def test_unknown_category_and_someone_elses_room_are_refused(platform: Platform, client: TestClient) -> None:
    make_verified_publisher(platform, "streamer")
    make_verified_publisher(platform, "other")
    pub = sign_in(client, "streamer")
    other = sign_in(client, "other")
    assert pub.post("/api/v1/studio/rooms", json={"title": "x", "category": "nope"}).status_code == 404
    room = pub.post("/api/v1/studio/rooms", json={"title": "Mine", "category": "gaming"}).json()
    assert other.post(f"/api/v1/studio/rooms/{room['id']}/rotate-key").status_code == 403
