"""Building content at a moved clock: rooms, ended sessions with recordings and segments."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from livegate.app import Platform
from livegate.core.permissions import Role
from livegate.media.layout import MediaLayout
from livegate.media.models import StreamSession
from livegate.retention.storage import S3Storage

PASSWORD = "correct horse battery"


def make_flv(path: Path, *, seconds: float = 1.0, fps: int = 10) -> Path:
    """A real, playable H.264 FLV (tiny), encoded with PyAV."""
    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="flv") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = 64, 48, "yuv420p"
        st.time_base = Fraction(1, fps)
        st.options = {"preset": "ultrafast"}
        for i in range(int(seconds * fps)):
            img = np.full((48, 64, 3), (i * 20) % 255, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for pkt in st.encode(frame):
                out.mux(pkt)
        for pkt in st.encode(None):
            out.mux(pkt)
    return path


def make_publisher(p: Platform, name: str) -> int:
    with p.db.session() as s:
        return p.accounts.create(s, username=name, password=PASSWORD, roles=[(Role.PUBLISHER, None)],
                                 actor="test").id


def make_room(p: Platform, owner_id: int, title: str = "room") -> str:
    with p.db.session() as s:
        owner = p.accounts.get(s, owner_id)
        room, _key = p.rooms.create(s, owner, title=title, category="other", actor="test")
        return room.id


@dataclass
class Session:
    id: int
    room: str
    recording: Path
    segments: list[Path]


def ended_session(p: Platform, room_id: str, *, flv: Path | None = None, segments: int = 2,
                  archive: bool = True) -> Session:
    """A stream that started and ended now (per the platform clock), with its files on disk."""
    with p.db.session() as s:
        room = p.rooms.get(s, room_id)
        ss = p.rooms.start_session(s, room, p.settings.node_name, "overlay", 0)
        sid = ss.id
    layout = MediaLayout(p.settings.data_dir / "media")
    name = f"s{sid}"
    rec = layout.recording(room_id, name)
    rec.parent.mkdir(parents=True, exist_ok=True)
    if flv is not None:
        rec.write_bytes(flv.read_bytes())
    else:
        rec.write_bytes(b"FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x00")
    layout.recording_index(room_id, name).write_text(f'{{"session": "{name}"}}')
    segs = []
    layout.hls_dir(room_id).mkdir(parents=True, exist_ok=True)
    for i in range(segments):
        seg = layout.segment(room_id, name, i)
        seg.write_bytes(b"\x47" * 188)
        segs.append(seg)
    with p.db.session() as s:
        p.rooms.end_session(s, sid, "ended")
        ss2 = s.get(StreamSession, sid)
        assert ss2 is not None
        ss2.recording_path = str(rec)
    if archive:
        p.retention.archive_session(sid)
    return Session(sid, room_id, rec, segs)


def days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


def new_s3_storage(endpoint: str) -> S3Storage:
    """A fresh bucket on the moto server at ``endpoint``."""
    import pytest

    boto3 = pytest.importorskip("boto3")
    bucket = f"lg-{secrets.token_hex(4)}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    st = S3Storage(bucket, prefix="node-a", client=client)
    st.ensure_bucket()
    return st
