"""Both storage backends answer one contract; S3 against a real S3-compatible server (moto)."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import pytest
from sqlalchemy import select

from livegate.app import Platform
from livegate.config import Settings
from livegate.core.clock import ManualClock
from livegate.media.pipeline import StreamEnded
from livegate.retention.errors import ObjectMissing, StorageError
from livegate.retention.models import StoredObject
from livegate.retention.storage import LocalStorage, ObjectStorage, S3Storage, make_storage
from tests.conftest import make_platform
from tests.retention.helpers import days, ended_session, make_publisher, make_room, new_s3_storage

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStorage:
    if request.param == "local":
        return LocalStorage(tmp_path / "data")
    return new_s3_storage(request.getfixturevalue("s3_endpoint"))


def test_round_trip(storage: ObjectStorage, tmp_path: Path) -> None:
    src = tmp_path / "rec.flv"
    src.write_bytes(b"FLV" + secrets.token_bytes(300_000))
    info = storage.put_file("media/recordings/100001/s1.flv", src)
    assert info.size == src.stat().st_size
    storage.put_bytes("audit-heads/2026-01-01.json", b'{"seq": 1}')
    assert storage.exists("media/recordings/100001/s1.flv")
    assert storage.get_bytes("audit-heads/2026-01-01.json") == b'{"seq": 1}'
    dest = tmp_path / "back.flv"
    storage.download("media/recordings/100001/s1.flv", dest)
    assert dest.read_bytes() == src.read_bytes()
    assert {o.key for o in storage.list("media/")} == {"media/recordings/100001/s1.flv"}
    assert storage.delete("media/recordings/100001/s1.flv") is True
    assert storage.delete("media/recordings/100001/s1.flv") is False
    assert not storage.exists("media/recordings/100001/s1.flv")
    with pytest.raises(ObjectMissing):
        storage.get_bytes("media/recordings/100001/s1.flv")
    with pytest.raises(StorageError):
        storage.put_bytes("../secret.key", b"x")
    assert isinstance(storage, ObjectStorage)


def test_local_storage_stays_inside_its_prefixes(tmp_path: Path) -> None:
    st = LocalStorage(tmp_path)
    with pytest.raises(StorageError):
        st.put_bytes("livegate.db", b"x")
    assert make_storage("", tmp_path).backend == "local"
    s3 = make_storage("s3://bucket/pre?endpoint=http://127.0.0.1:9&region=eu-west-1&capacity_gb=1", tmp_path)
    assert isinstance(s3, S3Storage) and s3.prefix == "pre" and s3.capacity_bytes == 1024**3


def test_recordings_are_archived_to_s3_after_a_stream_and_purged_from_it(
        s3_endpoint: str, settings: Settings, clock: ManualClock) -> None:
    p: Platform = make_platform(settings, clock=clock, start_rtmp=False)
    try:
        s3 = new_s3_storage(s3_endpoint)
        p.retention.storage = s3
        p.storage = s3  # type: ignore[attr-defined]
        from livegate.retention.builtin_kinds import recording_kind

        p.retention.kinds._kinds["recordings"] = recording_kind(s3)
        room = make_room(p, make_publisher(p, "pub-s3"))
        sess = ended_session(p, room, archive=False)
        original = sess.recording.read_bytes()
        ended = StreamEnded(room=room, session=f"s{sess.id}", reason="ended", code="ok", detail="",
                            ended_at=clock.now(), segments_published=2, segments_withheld=0,
                            recording=sess.recording)
        p.retention.on_stream_ended(ended)  # no running loop here: archives at once
        key = f"media/recordings/{room}/s{sess.id}.flv"
        assert s3.get_bytes(key) == original
        assert not sess.recording.exists(), "uploaded and checked: the local copy is dropped"
        with p.db.session() as s:
            obj = s.scalars(select(StoredObject).where(StoredObject.key == key)).one()
            assert obj.backend == "s3" and obj.size == len(original)
        clock.advance(days=59)
        p.retention.purge()
        assert s3.exists(key)
        clock.advance(days=2)
        p.retention.purge()
        assert not s3.exists(key)
        assert not list(s3.list("media/"))
    finally:
        p.close()


def test_storage_usage_projection_and_alert(rp: Platform, clock: ManualClock) -> None:
    room = make_room(rp, make_publisher(rp, "pub-u"))
    for _ in range(3):
        ended_session(rp, room)
        clock.advance(days=1)
    u = rp.retention.usage()
    assert len(u.days) == 60 and sum(b for _, b in u.days) == u.stored_bytes > 0
    assert u.projected_bytes == int(u.average_daily * 60)
    assert u.alert == ""

    class Tiny(LocalStorage):
        def free_bytes(self) -> int | None:
            return 10

    rp.retention.storage = Tiny(rp.settings.data_dir)
    u = rp.retention.usage()
    assert u.alert and "free" in u.alert
    _ = dt  # keep the import for readers
    _ = days
