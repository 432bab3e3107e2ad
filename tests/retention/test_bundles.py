"""Inspection bundles on several nodes (Art. 16): with shared object storage, a bundle built on
one node downloads from another and still verifies; the zip is streamed, and a bundle that is
gone answers 410 wherever it is asked for."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient

from livegate.app import Platform, create_app
from livegate.config import Settings
from livegate.core.permissions import Role
from livegate.retention.bundles import zip_stream
from livegate.retention.export import parse_period, verify_bundle
from livegate.retention.storage import LocalStorage
from tests.conftest import create_account, make_platform, sign_in
from tests.retention.helpers import ended_session, make_publisher, make_room, new_s3_storage


def _share(p: Platform, storage: object) -> None:
    p.retention.storage = storage  # type: ignore[assignment]
    p.storage = storage  # type: ignore[attr-defined]


def test_a_bundle_built_on_one_node_downloads_from_another_and_verifies(
        settings: Settings, tmp_path: Path, s3_endpoint: str) -> None:
    node_a = make_platform(settings, start_rtmp=False)
    node_b = make_platform(settings.model_copy(update={
        "node_name": "node-b", "data_dir": tmp_path / "node-b",
        "database_url": settings.effective_database_url}), start_rtmp=False)
    try:
        s3 = new_s3_storage(s3_endpoint)
        _share(node_a, s3)
        _share(node_b, s3)
        room = make_room(node_a, make_publisher(node_a, "pub-bundle"))
        flv = tmp_path / "big.flv"
        flv.write_bytes(b"FLV\x01\x05\x00\x00\x00\x09" + bytes(range(256)) * 12_000)  # 3 MiB: several chunks
        ended_session(node_a, room, flv=flv)
        day = node_a.clock.now().date()
        start, end = parse_period(day, day)
        built = node_a.retention.export_inspection(scope_type="room", scope_id=room, start=start, end=end,
                                                   requester="Cyberspace Administration", legal_basis="Art. 16",
                                                   actor="test")
        # Node B runs on another machine: node A's bundle directory is not there.
        shutil.rmtree(built.directory)
        create_account(node_b, "officer-b", Role.COMPLIANCE_OFFICER)
        create_account(node_b, "boss-b", Role.ADMINISTRATOR)
        url = f"/api/v1/retention/exports/{built.export_id}/bundle.zip"
        with TestClient(create_app(node_b)) as client:
            assert sign_in(client, "boss-b").get(url).status_code == 403
            officer = sign_in(client, "officer-b")
            z = officer.get(url)
            assert z.status_code == 200, z.text
            out = tmp_path / "unzipped"
            zipfile.ZipFile(io.BytesIO(z.content)).extractall(out)
            check = verify_bundle(out / f"inspection-{built.export_id}")
            assert check.ok, check.summary()
            assert check.files == built.files
            # gone from storage and not on this node: 410, not an empty zip
            for obj in list(s3.list(f"inspections/{built.export_id}/")):
                s3.delete(obj.key)
            assert officer.get(url).status_code == 410
    finally:
        node_b.close()
        node_a.close()


def test_the_zip_is_streamed_file_by_file(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "media").mkdir(parents=True)
    (bundle / "media" / "rec.flv").write_bytes(b"\x01" * (3 << 20))
    (bundle / "manifest.json").write_text("{}")
    chunks = list(zip_stream(LocalStorage(tmp_path / "data"), 7, bundle))
    assert len(chunks) > 3 and max(len(c) for c in chunks) <= (1 << 20) + 4096  # never the whole bundle
    z = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert sorted(z.namelist()) == ["inspection-7/manifest.json", "inspection-7/media/rec.flv"]
    assert z.read("inspection-7/media/rec.flv") == b"\x01" * (3 << 20) and z.testzip() is None
