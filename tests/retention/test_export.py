"""Inspection bundles: signed, hashed, checkable offline; a changed byte is named."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from livegate.app import Platform
from livegate.core.audit import verify_chain
from livegate.core.clock import ManualClock
from livegate.core.models import AuditEntry
from livegate.core.permissions import Role
from livegate.retention.export import parse_period, verify_bundle
from livegate.retention.models import InspectionExport
from livegate.retention.service import record_account_event
from livegate.retention.signing import KEY_FILE
from tests.retention.helpers import ended_session, make_flv, make_publisher, make_room


@pytest.fixture
def flv(tmp_path: Path) -> Path:
    return make_flv(tmp_path / "src.flv")


def _bundle(rp: Platform, clock: ManualClock, flv: Path, out: Path) -> tuple[str, int]:
    pub = make_publisher(rp, "pub-x")
    room = make_room(rp, pub)
    other_room = make_room(rp, make_publisher(rp, "pub-y"))
    ended_session(rp, room, flv=flv)
    ended_session(rp, other_room, flv=flv)
    with rp.db.session() as s:
        record_account_event(s, pub, "sign_in", at=clock.now(), ip="198.51.100.4", user_agent="OBS")
    day = clock.now().date()
    a, b = parse_period(day.isoformat(), day.isoformat())
    result = rp.retention.export_inspection(scope_type="account", scope_id=pub, start=a, end=b,
                                            requester="Beijing Municipal Internet Information Office",
                                            legal_basis="Measures Art. 16; letter 2026-117", actor="officer:7",
                                            out_dir=out)
    return room, result.export_id


def test_a_bundle_verifies_and_names_a_changed_file(rp: Platform, clock: ManualClock, flv: Path,
                                                     tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    room, export_id = _bundle(rp, clock, flv, out)
    manifest = json.loads((out / "manifest.json").read_text())
    paths = {f["path"] for f in manifest["files"]}
    flv_path = next(p for p in paths if p.endswith(".flv"))
    assert flv_path.startswith(f"media/{room}/")
    assert flv_path.replace(".flv", ".mp4") in paths, "a playable MP4 remux rides along"
    assert "records/account_log.jsonl" in paths and "records/stream_sessions.jsonl" in paths
    assert "decisions/audit.jsonl" in paths and "README.txt" in paths
    assert not any("pub-y" in p for p in paths)
    with rp.db.session() as s:
        head = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert head is not None and head.action == "retention.inspection_export"
        assert head.details["requester"].startswith("Beijing") and "Art. 16" in head.details["legal_basis"]
        assert manifest["audit_head"]["seq"] == head.seq - 1
        assert manifest["audit_head"]["hash"] == head.prev_hash
        assert verify_chain(s).ok
        assert s.get(InspectionExport, export_id) is not None
    key_file = rp.settings.data_dir / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    check = verify_bundle(out, expected_public_key=rp.retention.key.public_b64)
    assert check.ok, check.problems

    # the MP4 plays: PyAV decodes a frame
    import av

    with av.open(str(out / flv_path.replace(".flv", ".mp4"))) as c:
        assert next(c.decode(video=0)) is not None

    target = out / flv_path
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    check = verify_bundle(out)
    assert not check.ok and check.changed == [flv_path]
    assert flv_path in check.summary()

    runner = CliRunner()
    from livegate.cli import app

    r = runner.invoke(app, ["export", "verify", str(out)])
    assert r.exit_code == 1 and flv_path in r.output


def test_tampering_with_the_manifest_or_adding_files_is_named(rp: Platform, clock: ManualClock, flv: Path,
                                                             tmp_path: Path) -> None:
    out = tmp_path / "b2"
    _bundle(rp, clock, flv, out)
    (out / "records" / "smuggled.jsonl").write_text("{}\n")
    check = verify_bundle(out)
    assert check.extra == ["records/smuggled.jsonl"]
    (out / "records" / "smuggled.jsonl").unlink()
    raw = (out / "manifest.json").read_text().replace("Beijing", "Shanghai")
    (out / "manifest.json").write_text(raw)
    check = verify_bundle(out)
    assert not check.ok and check.changed == ["manifest.json"]


def test_cli_exports_a_room_and_verifies(rp: Platform, clock: ManualClock, flv: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from livegate.cli import app

    room = make_room(rp, make_publisher(rp, "pub-z"))
    ended_session(rp, room, flv=flv)
    with rp.db.session() as s:
        rp.accounts.create(s, username="officer", password="correct horse battery",
                           roles=[(Role.COMPLIANCE_OFFICER, None)], actor="test")
        rp.accounts.create(s, username="viewer", password="correct horse battery", roles=[(Role.AUDIENCE, None)],
                           actor="test")
    monkeypatch.setenv("LIVEGATE_DATABASE_URL", rp.settings.effective_database_url)
    monkeypatch.setenv("LIVEGATE_SECRET_KEY", rp.settings.secret_key.get_secret_value())
    day = clock.now().date().isoformat()
    runner = CliRunner()
    base = ["export", "inspection", "--room", room, "--from", day, "--to", day, "--requester", "Public Security",
            "--legal-basis", "Art. 16", "--data-dir", str(rp.settings.data_dir)]
    refused = runner.invoke(app, [*base, "--out", str(tmp_path / "no"), "--as", "viewer"])
    assert refused.exit_code == 2 and "inspection:export" in refused.output
    r = runner.invoke(app, [*base, "--out", str(tmp_path / "cli"), "--as", "officer"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["export", "verify", str(tmp_path / "cli")])
    assert r.exit_code == 0 and "OK" in r.output, r.output


def test_period_parsing() -> None:
    a, b = parse_period("2026-01-01", "2026-01-01")
    assert (a, b) == (dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
    from livegate.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        parse_period("2026-01-02", "2026-01-01")
    with pytest.raises(ValidationFailed):
        parse_period("yesterday", "2026-01-01")
