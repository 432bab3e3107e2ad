"""The blacklist (Art. 15): four eyes, closing the identity's accounts, neutral refusals at
phone and publisher verification, imports that keep no plain value, reports, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from livegate.app import Platform
from livegate.config import Settings
from livegate.core.models import Account, AuditEntry
from livegate.core.permissions import Role
from livegate.enforcement.models import BlacklistEntry
from tests.conftest import As
from tests.identity.conftest import signup
from tests.identity.helpers import make_verified_publisher, resident_id, verify_phone_directly

PHONE = "+8613912340000"


def _code(platform: Platform, phone: str = PHONE) -> str:
    assert platform.identity.outbox is not None
    code = platform.identity.outbox.last_code(phone)
    assert code is not None
    return code


def test_four_eyes_then_existing_accounts_close_and_the_phone_cannot_verify_again(
        platform: Platform, client: TestClient, officer: As, officer2: As) -> None:
    holder = make_verified_publisher(platform, "pub-bl")
    verify_phone_directly(platform, holder, PHONE)
    r = officer.post("/api/v1/enforcement/blacklist", json={"kind": "phone", "value": "139 1234 0000",
                                                            "reason": "repeated fraud livestreams"})
    assert r.status_code == 201 and r.json()["status"] == "proposed" and r.json()["masked"] == "+86 139****0000"
    entry = r.json()["id"]
    same = officer.post(f"/api/v1/enforcement/blacklist/{entry}/confirm")
    assert same.status_code == 403 and same.json()["error"]["code"] == "different_staff_required"
    ok = officer2.post(f"/api/v1/enforcement/blacklist/{entry}/confirm")
    assert ok.status_code == 200 and len(ok.json()["closure_sanctions"]) == 1
    with platform.db.session() as s:
        acc = s.get(Account, holder)
        assert acc is not None and acc.status == "closed"
        assert platform.enforcement.get_sanction(s, ok.json()["closure_sanctions"][0]).reason_code == "blacklist.listed"
    viewer = signup(client, "new-viewer")
    assert viewer.post("/api/v1/me/phone/code", json={"phone": PHONE}).status_code == 200
    refused = viewer.post("/api/v1/me/phone/verify", json={"phone": PHONE, "code": _code(platform)})
    assert refused.status_code == 403
    err = refused.json()["error"]
    assert err["code"] == "identity_not_accepted" and "blacklist" not in err["message"].lower()
    with platform.db.session() as s:
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "blacklist.refused")) is not None
    check = officer.post("/api/v1/enforcement/blacklist/check", json={"kind": "phone", "value": PHONE})
    assert check.json()["listed"] is True


def test_a_listed_document_cannot_verify_a_new_publisher(platform: Platform, client: TestClient, officer: As,
                                                         officer2: As) -> None:
    import datetime as dt

    number = resident_id(dt.date(1990, 5, 17), 321)
    r = officer.post("/api/v1/enforcement/blacklist", json={"kind": "document", "value": number.lower(),
                                                            "reason": "industry circular 2026-11"})
    officer2.post(f"/api/v1/enforcement/blacklist/{r.json()['id']}/confirm")
    newcomer = signup(client, "newcomer")
    sub = newcomer.post("/api/v1/me/verification", json={"doc_type": "resident_id", "number": number,
                                                          "real_name": "张三"})
    assert sub.status_code == 403 and sub.json()["error"]["code"] == "identity_not_accepted"
    other = newcomer.post("/api/v1/me/verification", json={"doc_type": "resident_id",
                                                            "number": resident_id(dt.date(1991, 1, 2), 5),
                                                            "real_name": "李四"})
    assert other.status_code == 201


def test_import_keeps_no_plain_value_and_report_lists_new_entries(platform: Platform, client: TestClient,
                                                                   officer: As, officer2: As) -> None:
    import datetime as dt

    number = resident_id(dt.date(1985, 3, 3), 42)
    csv_text = f"kind,value,reason\nphone,13812345678,fraud\ndocument,{number},fraud\nphone,not-a-phone,x\n"
    r = officer.post("/api/v1/enforcement/blacklist/import", json={"text": csv_text, "source": "Office circular 7"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["added"] == 2 and body["rejected_rows"] == [4]
    with platform.db.session() as s:
        dump = json.dumps([[str(v) for v in row] for row in s.execute(text("SELECT * FROM blacklist_entries"))])
        audit = json.dumps([[str(v) for v in row] for row in s.execute(text("SELECT * FROM audit_log"))])
    for plain in ("13812345678", number):
        assert plain not in dump and plain not in audit
    c = officer2.post(f"/api/v1/enforcement/blacklist/batches/{body['batch']}/confirm")
    assert c.status_code == 200 and c.json()["confirmed"] == 2
    rep = officer.post("/api/v1/enforcement/blacklist/report", json={})
    doc = json.loads(rep.text)
    assert doc["format"] == "livegate.blacklist-report/1" and doc["count"] == 2
    assert {e["kind"] for e in doc["entries"]} == {"phone", "document"} and "value" not in doc["entries"][0]
    assert json.loads(officer.post("/api/v1/enforcement/blacklist/report", json={}).text)["count"] == 0
    with platform.db.session() as s:
        assert all(e.reported_at is not None for e in s.scalars(select(BlacklistEntry)))


def test_cli_import_export_check(platform: Platform, settings: Settings, tmp_path: Path) -> None:
    from livegate.cli import app

    runner = CliRunner()
    env = {"LIVEGATE_DATABASE_URL": settings.effective_database_url, "LIVEGATE_SECRET_KEY": "test-secret-" + "x" * 20}
    base = ["--data-dir", str(settings.data_dir)]
    f = tmp_path / "list.json"
    f.write_text(json.dumps({"source": "Industry list", "entries": [
        {"kind": "phone", "value": "+86 137 0000 2222", "reason": "fraud ring"}]}))
    r = runner.invoke(app, ["blacklist", "import", str(f), *base], env=env)
    assert r.exit_code == 0, r.output
    batch = r.output.split("batch ")[1].split(":")[0]
    same = runner.invoke(app, ["blacklist", "confirm", "--batch", batch, *base], env=env)
    assert same.exit_code == 2 and "different_staff_required" in same.output
    with platform.db.session() as s:
        platform.accounts.create(s, username="officer-9", password="correct horse battery",
                                 roles=[(Role.COMPLIANCE_OFFICER, None)], actor="test")
    ok = runner.invoke(app, ["blacklist", "confirm", "--batch", batch, "--as", "officer-9", *base], env=env)
    assert ok.exit_code == 0, ok.output
    listed = runner.invoke(app, ["blacklist", "check", "--phone", "13700002222", *base], env=env)
    assert listed.exit_code == 1 and "listed" in listed.output and "13700002222" not in listed.output
    clean = runner.invoke(app, ["blacklist", "check", "--phone", "13700003333", *base], env=env)
    assert clean.exit_code == 0 and "not listed" in clean.output
    out = runner.invoke(app, ["blacklist", "export", *base], env=env)
    assert out.exit_code == 0 and json.loads(out.stdout)["count"] == 1
