"""A head written out daily proves later rewriting or truncation of the audit chain."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import delete, select
from typer.testing import CliRunner

from livegate.app import Platform
from livegate.core.audit import entry_hash
from livegate.core.clock import ManualClock
from livegate.core.models import AuditEntry
from livegate.retention.models import AuditHead


def _audit(rp: Platform, n: int) -> None:
    with rp.db.session() as s:
        for i in range(n):
            rp.audit.record(s, actor="test", action="test.event", target=f"t:{i}")


def _rewrite_from(rp: Platform, seq: int) -> None:
    """What an attacker with database access does: edit an entry and recompute every hash after it."""
    with rp.db.session() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.seq >= seq).order_by(AuditEntry.seq)).all()
        prev = s.scalar(select(AuditEntry.entry_hash).where(AuditEntry.seq == seq - 1))
        for e in rows:
            if e.seq == seq:
                e.reason = "nothing to see here"
            e.prev_hash = prev
            e.entry_hash = entry_hash(e)
            prev = e.entry_hash


def test_daily_head_job_and_verification(rp: Platform, clock: ManualClock, tmp_path: Path) -> None:
    _audit(rp, 5)
    ran = asyncio.run(rp.scheduler.tick())
    assert "retention.audit_head" in ran
    assert asyncio.run(rp.scheduler.tick()) == []  # once a day
    with rp.db.session() as s:
        head = s.scalars(select(AuditHead)).one()
    data = rp.storage.get_bytes(head.key)
    assert head.key == f"audit-heads/{clock.now().date().isoformat()}.json"
    doc = json.loads(data)
    assert doc["seq"] == head.seq and doc["verified"] is True
    _audit(rp, 3)
    check = rp.retention.verify_head(data)
    assert check.ok and check.key_is_platform, check.message

    # rewriting the chain from an entry the head covers is caught, though the chain itself verifies
    _rewrite_from(rp, 3)
    check = rp.retention.verify_head(data)
    assert not check.ok and "rewritten" in check.message and f"entry {doc['seq']}" in check.message

    saved = tmp_path / "head.json"
    saved.write_bytes(data)
    from livegate.cli import app

    r = CliRunner().invoke(app, ["retention", "head", "verify", str(saved), "--data-dir", str(rp.settings.data_dir)],
                           env={"LIVEGATE_DATABASE_URL": rp.settings.effective_database_url,
                                "LIVEGATE_SECRET_KEY": rp.settings.secret_key.get_secret_value()})
    assert r.exit_code == 1 and "TAMPERED" in r.output, r.output


def test_truncation_and_forged_heads_are_caught(rp: Platform) -> None:
    _audit(rp, 4)
    doc = rp.retention.write_audit_head()
    data = json.dumps(doc).encode()
    forged = json.dumps({**doc, "hash": "0" * 64}).encode()
    from livegate.retention.errors import HeadFileInvalid

    try:
        rp.retention.verify_head(forged)
        raise AssertionError("a forged head must not verify")
    except HeadFileInvalid as exc:
        assert "signature" in exc.message
    with rp.db.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq >= doc["seq"]))
    check = rp.retention.verify_head(data)
    assert not check.ok and "truncated" in check.message
