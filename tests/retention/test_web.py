"""The console: storage charts with the alert, holds placed and lifted, inspections exported."""

from __future__ import annotations

import io
import zipfile

from fastapi.testclient import TestClient
from sqlalchemy import select

from livegate.app import Platform
from livegate.core.models import AuditEntry
from livegate.core.permissions import Role
from livegate.retention.storage import LocalStorage
from tests.conftest import create_account, sign_in
from tests.retention.helpers import ended_session, make_publisher, make_room


def test_storage_page_draws_charts_and_alerts(platform: Platform, client: TestClient) -> None:
    create_account(platform, "officer", Role.COMPLIANCE_OFFICER)
    create_account(platform, "reviewer", Role.REVIEWER)
    room = make_room(platform, make_publisher(platform, "pub-w"))
    ended_session(platform, room)
    officer = sign_in(client, "officer")
    r = officer.get("/console/storage")
    assert r.status_code == 200
    assert 'data-testid="chart-bytes-per-day"' in r.text and 'data-testid="chart-projection"' in r.text
    assert "<rect" in r.text and "<polyline" in r.text
    assert 'data-testid="storage-alert"' not in r.text
    assert "never purged by age" in r.text

    class Tiny(LocalStorage):
        def free_bytes(self) -> int | None:
            return 1

    platform.retention.storage = Tiny(platform.settings.data_dir)
    r = officer.get("/console/storage")
    assert 'data-testid="storage-alert"' in r.text and "free alert" in r.text
    assert officer.get("/api/v1/retention/storage").json()["alert"]
    assert sign_in(client, "reviewer").get("/console/storage").status_code == 403


def test_holds_from_the_console_are_audited(platform: Platform, client: TestClient) -> None:
    create_account(platform, "officer", Role.COMPLIANCE_OFFICER)
    room = make_room(platform, make_publisher(platform, "pub-v"))
    officer = sign_in(client, "officer")
    r = officer.post("/api/v1/retention/holds", json={"scope_type": "room", "scope_id": room, "reason": "inquiry 5"})
    assert r.status_code == 201, r.text
    hold_id = r.json()["id"]
    assert room in officer.get("/console/holds").text
    r = officer.post("/api/v1/retention/holds", json={"scope_type": "room", "scope_id": "000000", "reason": "x"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "retention_invalid_scope"
    r = officer.post(f"/api/v1/retention/holds/{hold_id}/lift", json={"reason": "closed"})
    assert r.status_code == 200 and r.json()["lifted_by"].startswith("account:")
    assert officer.post(f"/api/v1/retention/holds/{hold_id}/lift", json={"reason": "again"}).status_code == 409
    with platform.db.session() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("retention.hold%"))
                            .order_by(AuditEntry.seq)).all()
    assert actions == ["retention.hold_place", "retention.hold_lift"]


def test_inspection_export_from_the_console(platform: Platform, client: TestClient) -> None:
    create_account(platform, "officer", Role.COMPLIANCE_OFFICER)
    create_account(platform, "boss", Role.ADMINISTRATOR)
    room = make_room(platform, make_publisher(platform, "pub-t"))
    ended_session(platform, room)
    officer = sign_in(client, "officer")
    day = platform.clock.now().date().isoformat()
    body = {"scope_type": "room", "scope_id": room, "from": day, "to": day, "requester": "Cyberspace Administration",
            "legal_basis": "Art. 16 para. 2"}
    assert sign_in(client, "boss").post("/api/v1/retention/exports", json=body).status_code == 403
    r = officer.post("/api/v1/retention/exports", json=body)
    assert r.status_code == 201, r.text
    export = r.json()
    assert export["files"] >= 3
    assert "Cyberspace Administration" in officer.get("/console/inspections").text
    z = officer.get(export["download"])
    assert z.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    assert f"inspection-{export['id']}/manifest.json" in names and f"inspection-{export['id']}/manifest.sig" in names
    with platform.db.session() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action.like("retention.inspection%"))
                            .order_by(AuditEntry.seq)).all()
    assert [e.action for e in entries] == ["retention.inspection_export", "retention.inspection_download"]
    assert entries[0].details["requester"] == "Cyberspace Administration"
    assert entries[0].details["legal_basis"] == "Art. 16 para. 2"


def test_purge_plan_is_for_administrators(platform: Platform, client: TestClient) -> None:
    create_account(platform, "boss", Role.ADMINISTRATOR)
    r = sign_in(client, "boss").get("/api/v1/retention/purge/plan")
    assert r.status_code == 200 and r.json()["dry_run"] is True
    assert {k["kind"] for k in r.json()["kinds"]} >= {"recordings", "segments", "stream_sessions", "account_log"}
