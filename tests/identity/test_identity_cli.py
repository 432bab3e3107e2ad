"""``livegate identity check-document``, ``livegate vault rotate``, ``livegate filing export``."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from livegate.app import Platform
from livegate.cli import COMMAND_PERMISSIONS, app
from livegate.core.models import AuditEntry
from livegate.core.permissions import Permission, Role
from livegate.identity.models import DocumentPhoto, IdentityRecord, PhoneVerification
from livegate.identity.vault import FIELD_REAL_NAME, SealedValue
from tests.conftest import create_account
from tests.identity.helpers import (
    jpeg_bytes,
    make_verified_publisher,
    resident_id_for,
    verify_phone_directly,
)

runner = CliRunner()


def _env(platform: Platform) -> dict[str, str]:
    return {"LIVEGATE_DATABASE_URL": platform.settings.effective_database_url,
            "LIVEGATE_SECRET_KEY": platform.settings.secret_key.get_secret_value()}


def _dd(platform: Platform) -> list[str]:
    return ["--data-dir", str(platform.settings.data_dir)]


def test_check_document_prints_json_and_exits_by_validity() -> None:
    r = runner.invoke(app, ["identity", "check-document", "--type", "resident_id", "11010519491231002x"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["valid"] is True and out["normalized"] == "11010519491231002X" and out["reason"]
    r = runner.invoke(app, ["identity", "check-document", "--type", "resident_id", "110105194912310021"])
    assert r.exit_code == 1
    assert json.loads(r.output) | {} == {"valid": False, "rule": "gb11643.checksum", "normalized": None,
                                         "reason": json.loads(r.output)["reason"]}
    r = runner.invoke(app, ["identity", "check-document", "--type", "uscc", "91350100M000100Y43"])
    assert r.exit_code == 0
    r = runner.invoke(app, ["identity", "check-document", "--type", "passport", "E123"])
    assert r.exit_code == 2 and "identity_unknown_document_type" in r.output
    assert COMMAND_PERMISSIONS["vault_rotate"] == Permission.IDENTITY_REVEAL
    assert COMMAND_PERMISSIONS["filing_export"] == Permission.FILING_EXPORT


def test_vault_rotate_rewraps_every_data_key_and_values_still_open(platform: Platform) -> None:
    pid = make_verified_publisher(platform, "rot-a")
    verify_phone_directly(platform, pid)
    with platform.db.session() as s:  # a photo on an open submission of another account
        other = create_account(platform, "rot-b", Role.AUDIENCE)
        platform.identity.submit(s, other, doc_type="resident_id", number=resident_id_for("rot-b"),
                                 real_name="李四", province=None, actor="t")
        platform.identity.add_photo(s, other, jpeg_bytes(), "image/jpeg", actor="t")
    old_key = platform.identity.vault.provider.current_key_id()
    r = runner.invoke(app, ["vault", "rotate", *_dd(platform)], env=_env(platform))
    assert r.exit_code == 0, r.output
    assert "6 values re-wrapped" in r.output
    platform.identity.vault.provider.reload()  # type: ignore[attr-defined]
    new_key = platform.identity.vault.provider.current_key_id()
    assert new_key != old_key
    with platform.db.session() as s:
        for row in s.scalars(select(IdentityRecord)):
            assert SealedValue.parse(row.name_sealed).key_id == new_key
            assert SealedValue.parse(row.doc_sealed).key_id == new_key
        for phone in s.scalars(select(PhoneVerification)):
            assert SealedValue.parse(phone.phone_sealed).key_id == new_key
        for photo in s.scalars(select(DocumentPhoto)):
            assert SealedValue.from_bytes(photo.sealed).key_id == new_key
        rec = platform.identity.latest_record(s, pid)
        assert rec is not None
        assert platform.identity.vault.open(rec.name_sealed, record_id=rec.id, field=FIELD_REAL_NAME).startswith("测试")
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "vault.rotate")).all()
        assert entry.details["rewrapped"] == 6 and entry.details["to_key"] == new_key


def test_filing_export_cli_masked_and_refused_without_permission(platform: Platform) -> None:
    make_verified_publisher(platform, "cli-pub")
    create_account(platform, "cli-rev", Role.REVIEWER)
    r = runner.invoke(app, ["filing", "export", "--province", "11", "--type", "individual", "--format", "json",
                            *_dd(platform)], env=_env(platform))
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["count"] == 1 and resident_id_for("cli-pub") not in r.output
    r = runner.invoke(app, ["filing", "export", "--as", "cli-rev", *_dd(platform)], env=_env(platform))
    assert r.exit_code == 2 and "permission_denied" in r.output
    create_account(platform, "cli-officer", Role.COMPLIANCE_OFFICER)
    r = runner.invoke(app, ["filing", "export", "--full", "--reason", "provincial filing", "--as", "cli-officer",
                            "--format", "csv", *_dd(platform)], env=_env(platform))
    assert r.exit_code == 0 and resident_id_for("cli-pub") in r.output
    with platform.db.session() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "filing.export")
                             .order_by(AuditEntry.seq)).all()
        assert [(e.details["full"], e.actor.split(":")[0]) for e in entries] == [(False, "cli"), (True, "account")]


def test_vault_keys_and_retire_cover_every_sealed_value_and_refuse_while_one_needs_the_key(
        platform: Platform) -> None:
    import asyncio

    from livegate.complaints.models import ComplaintReport
    from livegate.complaints.service import CONTACT_FIELD, ReportIntake
    from tests.complaints.helpers import make_plain_room

    pid = make_verified_publisher(platform, "key-holder")
    verify_phone_directly(platform, pid, "+8613700001234")
    room = make_plain_room(platform, "reported-room")
    reporter = create_account(platform, "reporter-1", Role.AUDIENCE)
    asyncio.run(platform.complaints.submit(ReportIntake("room", room, "illegal.obscenity",
                                                        contact="reporter@example.com"),
                                           ip="192.0.2.1", account_id=reporter))
    provider = platform.identity.vault.provider
    old = provider.current_key_id()
    with platform.db.session() as s:
        report = s.scalars(select(ComplaintReport)).one()
        report_id, stale_contact = report.id, report.contact_sealed
    assert SealedValue.parse(stale_contact).key_id == old

    def vault(*args: str) -> str:
        r = runner.invoke(app, ["vault", *args, *_dd(platform)], env=_env(platform))
        return f"{r.exit_code} {r.output}"

    assert COMMAND_PERMISSIONS["vault_keys"] == COMMAND_PERMISSIONS["vault_retire"] == Permission.IDENTITY_REVEAL
    create_account(platform, "key-reviewer", Role.REVIEWER)
    for command in (("keys",), ("retire", old)):
        out = vault(*command, "--as", "key-reviewer")
        assert out.startswith("2 ") and "permission_denied" in out
    # phone, name, document number and the complaint contact: 4 values under the one key
    assert vault("keys").startswith(f"0 {old}  4 values  (current)")
    assert vault("retire", old).startswith("2 ") and "vault_key_in_use" in vault("retire", old)
    assert "vault_key_not_found" in vault("retire", "no-such-key")
    out = vault("rotate")
    assert out.startswith("0 ") and "4 values re-wrapped" in out
    new = provider.current_key_id()  # the running platform follows the key file by itself
    assert new != old
    with platform.db.session() as s:
        report = s.get(ComplaintReport, report_id)
        assert report is not None and SealedValue.parse(report.contact_sealed).key_id == new
        # as if a node that had not seen the rotation wrote a value under the old key
        report.contact_sealed = stale_contact
    out = vault("retire", old)
    assert out.startswith("2 ") and "vault_key_in_use" in out and "1 stored values" in out
    assert vault("rotate").startswith("0 ")  # re-wraps the straggler
    newest = provider.current_key_id()
    out = vault("keys")
    assert f"{old}  0 values" in out and f"{newest}  4 values  (current)" in out
    assert vault("retire", old).startswith(f"0 master key {old} retired")
    assert old not in vault("keys")
    with platform.db.session() as s:
        report = s.get(ComplaintReport, report_id)
        assert report is not None
        assert platform.identity.vault.open(report.contact_sealed, record_id=report_id,
                                            field=CONTACT_FIELD) == "reporter@example.com"
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "vault.retire")).all()
        assert entry.details["key"] == old and old not in json.dumps(entry.details["current_key"])
