from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text, update

from livegate.app import Platform
from livegate.core.audit import GENESIS, verify_chain
from livegate.core.models import AuditEntry


def _append(platform: Platform, n: int) -> None:
    with platform.db.session() as s:
        for i in range(n):
            platform.audit.record(s, actor="test", action="thing.do", target=f"t:{i}", reason="because",
                                  details={"i": i, "nested": {"b": [1, 2], "a": "é"}})


def test_chain_links_each_entry_to_the_previous(platform: Platform) -> None:
    _append(platform, 5)
    with platform.db.session() as s:
        rows = s.query(AuditEntry).order_by(AuditEntry.seq).all()
        assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
        assert rows[0].prev_hash == GENESIS
        for a, b in zip(rows, rows[1:], strict=False):
            assert b.prev_hash == a.entry_hash
        result = verify_chain(s)
    assert result.ok and result.count == 5 and result.head == rows[-1].entry_hash


@pytest.mark.parametrize("column,value", [("reason", "edited"), ("actor", "someone-else"),
                                          ("details", {"i": 99}), ("action", "thing.undo")])
def test_an_edited_entry_is_named(platform: Platform, column: str, value: object) -> None:
    _append(platform, 6)
    with platform.db.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 4).values({column: value}))
    with platform.db.session() as s:
        result = verify_chain(s)
    assert not result.ok
    assert result.first_broken == 4
    assert result.count == 3


def test_a_deleted_entry_is_named(platform: Platform) -> None:
    _append(platform, 5)
    with platform.db.session() as s:
        s.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    with platform.db.session() as s:
        result = verify_chain(s)
    assert not result.ok and result.first_broken == 3


def test_reordered_entries_are_detected(platform: Platform) -> None:
    _append(platform, 5)
    with platform.db.session() as s:
        s.execute(text("UPDATE audit_log SET seq = 100 WHERE seq = 2"))
        s.execute(text("UPDATE audit_log SET seq = 2 WHERE seq = 3"))
        s.execute(text("UPDATE audit_log SET seq = 3 WHERE seq = 100"))
    with platform.db.session() as s:
        result = verify_chain(s)
    assert not result.ok and result.first_broken == 2


def test_a_failed_transaction_leaves_no_entry(platform: Platform) -> None:
    _append(platform, 1)
    with pytest.raises(RuntimeError), platform.db.session() as s:
        platform.audit.record(s, actor="x", action="y")
        raise RuntimeError("state change failed")
    with platform.db.session() as s:
        assert verify_chain(s).count == 1


def test_cli_verify_passes_then_names_an_entry_edited_in_the_sqlite_file(platform: Platform) -> None:
    from typer.testing import CliRunner

    from livegate.cli import app

    if platform.db.dialect != "sqlite":
        pytest.skip("edits the SQLite file directly")
    platform.bootstrap_admin()
    _append(platform, 3)
    data_dir = str(platform.settings.data_dir)
    env = {"LIVEGATE_DATABASE_URL": platform.settings.effective_database_url}
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--data-dir", data_dir], env=env)
    assert ok.exit_code == 0, ok.output
    assert "4 entries" in ok.output
    db_file = platform.settings.effective_database_url.removeprefix("sqlite:///")
    conn = sqlite3.connect(db_file)
    conn.execute("UPDATE audit_log SET reason = 'nothing happened' WHERE seq = 2")
    conn.commit()
    conn.close()
    bad = runner.invoke(app, ["audit", "verify", "--data-dir", data_dir], env=env)
    assert bad.exit_code == 1
    assert "entry 2" in bad.output
