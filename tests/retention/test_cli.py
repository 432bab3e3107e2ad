"""``livegate retention purge --dry-run`` says what it would delete; holds from the CLI."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from livegate.app import Platform
from livegate.cli import app
from tests.retention.helpers import ended_session, make_publisher, make_room


def _env(p: Platform) -> dict[str, str]:
    return {"LIVEGATE_DATABASE_URL": p.settings.effective_database_url,
            "LIVEGATE_SECRET_KEY": p.settings.secret_key.get_secret_value()}


def test_purge_dry_run_and_holds(platform: Platform) -> None:
    room = make_room(platform, make_publisher(platform, "pub-cli"))
    ended_session(platform, room)
    runner = CliRunner()
    dd = ["--data-dir", str(platform.settings.data_dir)]
    r = runner.invoke(app, ["retention", "purge", "--dry-run", *dd], env=_env(platform))
    assert r.exit_code == 0, r.output
    assert "would delete" in r.output and "recordings" in r.output and "dry run: 0 records" in r.output
    r = runner.invoke(app, ["retention", "purge", "--dry-run", "--json", *dd], env=_env(platform))
    report = json.loads(r.output)
    assert report["dry_run"] is True and report["kinds"][0]["days"] >= 60

    r = runner.invoke(app, ["retention", "hold", "place", "room", room, "--reason", "inquiry", *dd],
                      env=_env(platform))
    assert r.exit_code == 0 and "placed" in r.output, r.output
    r = runner.invoke(app, ["retention", "hold", "list", *dd], env=_env(platform))
    assert room in r.output
    with platform.db.session() as s:
        assert platform.retention.is_held(s, "room", room)
        hold_id = platform.retention.holds.active(s)[0].id
    r = runner.invoke(app, ["retention", "hold", "lift", str(hold_id), "--reason", "done", *dd], env=_env(platform))
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["retention", "purge", *dd], env=_env(platform))
    assert r.exit_code == 0 and "0 records deleted" in r.output
    r = runner.invoke(app, ["retention", "head", "write", *dd], env=_env(platform))
    assert r.exit_code == 0 and "head of" in r.output
    r = runner.invoke(app, ["retention", "storage", *dd], env=_env(platform))
    assert r.exit_code == 0 and "backend local" in r.output
