from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from livegate.app import Platform
from livegate.cli import COMMAND_PERMISSIONS, app
from livegate.core.audit import verify_chain
from livegate.core.models import AuditEntry
from livegate.core.permissions import Role
from livegate.core.policy import load_default_policy
from tests.conftest import create_account

runner = CliRunner()


def _env(platform: Platform) -> dict[str, str]:
    return {"LIVEGATE_DATABASE_URL": platform.settings.effective_database_url,
            "LIVEGATE_SECRET_KEY": platform.settings.secret_key.get_secret_value()}


def _dd(platform: Platform) -> list[str]:
    return ["--data-dir", str(platform.settings.data_dir)]


def test_every_command_declares_its_permission() -> None:
    import typer.main

    click_app = typer.main.get_command(app)
    names: list[str] = []

    def walk(cmd: object) -> None:
        sub = getattr(cmd, "commands", None)
        if sub:
            for c in sub.values():
                walk(c)
        else:
            names.append(cmd.callback.__wrapped__.__name__)  # type: ignore[attr-defined]

    walk(click_app)
    assert names and all(n in COMMAND_PERMISSIONS for n in names), set(names) - set(COMMAND_PERMISSIONS)


def test_config_show_redacts_secrets(tmp_path: Path) -> None:
    env = {"LIVEGATE_DATABASE_URL": "postgresql://lg:hunter2secret@db.example/lg",
           "LIVEGATE_SECRET_KEY": "s3cr3t-value-that-must-not-show", "LIVEGATE_HTTP_PORT": "9090"}
    r = runner.invoke(app, ["config", "show", "--data-dir", str(tmp_path)], env=env)
    assert r.exit_code == 0, r.output
    assert "hunter2secret" not in r.output and "s3cr3t-value" not in r.output
    shown = json.loads(r.output)
    assert shown["http_port"] == 9090 and shown["secret_key"] == "**********"
    assert shown["effective_database_url"] == "postgresql://lg:***@db.example/lg"


def test_config_from_a_toml_file(tmp_path: Path) -> None:
    cfg = tmp_path / "livegate.toml"
    cfg.write_text('rtmp_port = 11935\nlog_json = true\n')
    # the environment outranks the file, so clear what a caller (newcomer-check sets ports) may have set
    env = {"LIVEGATE_CONFIG": str(cfg), "LIVEGATE_RTMP_PORT": None, "LIVEGATE_LOG_JSON": None}
    r = runner.invoke(app, ["config", "show", "--data-dir", str(tmp_path)], env=env)  # type: ignore[arg-type]
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["rtmp_port"] == 11935
    r = runner.invoke(app, ["config", "show", "--data-dir", str(tmp_path)],
                      env={**env, "LIVEGATE_RTMP_PORT": "2935"})  # type: ignore[dict-item]
    assert json.loads(r.output)["rtmp_port"] == 2935  # environment over file


def test_user_create_prints_a_generated_password_once_and_audits(platform: Platform) -> None:
    r = runner.invoke(app, ["user", "create", "rev1", "--role", "reviewer", *_dd(platform)], env=_env(platform))
    assert r.exit_code == 0, r.output
    assert "password:" in r.output
    with platform.db.session() as s:
        acc = platform.accounts.by_username(s, "rev1")
        assert acc is not None and {g.role for g in acc.roles} == {"reviewer"}
        assert s.query(AuditEntry).filter_by(action="account.create").count() == 1


def test_user_create_reads_the_password_from_stdin(platform: Platform) -> None:
    r = runner.invoke(app, ["user", "create", "rev2", "--role", "reviewer", "--password-stdin", *_dd(platform)],
                      input="a-long-password-123\n", env=_env(platform))
    assert r.exit_code == 0 and "password:" not in r.output
    with platform.db.session() as s:
        platform.accounts.authenticate(s, "rev2", "a-long-password-123")


def test_as_user_without_the_permission_is_refused(platform: Platform) -> None:
    create_account(platform, "rev", Role.REVIEWER)
    r = runner.invoke(app, ["user", "create", "x1", "--role", "administrator", "--as", "rev", *_dd(platform)],
                      env=_env(platform))
    assert r.exit_code == 2 and "permission_denied" in r.output
    with platform.db.session() as s:
        assert platform.accounts.by_username(s, "x1") is None


def test_policy_check_explains_errors_by_path(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    from livegate.core import policy as policy_mod

    default_text = (Path(policy_mod.__file__).parent / "default_policy.yaml").read_text()
    good.write_text(default_text)
    assert runner.invoke(app, ["policy", "check", str(good)]).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(default_text.replace("default_days: 60", "default_days: 30"))
    r = runner.invoke(app, ["policy", "check", str(bad)])
    assert r.exit_code == 1
    assert "retention.default_days" in r.output


def test_policy_reload_swaps_it_in_audited_and_an_invalid_file_changes_nothing(platform: Platform,
                                                                               tmp_path: Path) -> None:
    from livegate.core import policy as policy_mod

    text = (Path(policy_mod.__file__).parent / "default_policy.yaml").read_text()
    new = tmp_path / "new.yaml"
    new.write_text(text.replace("default_days: 60", "default_days: 90"))
    before = platform.policy.version
    r = runner.invoke(app, ["policy", "reload", str(new), *_dd(platform)], env=_env(platform))
    assert r.exit_code == 0, r.output
    assert platform.sync_policy_from_db()  # a running node adopts it
    assert platform.policy.get().retention.default_days == 90 and platform.policy.version != before
    bad = tmp_path / "bad.yaml"
    bad.write_text("categories: 12\n")
    r = runner.invoke(app, ["policy", "reload", str(bad), *_dd(platform)], env=_env(platform))
    assert r.exit_code == 1 and "nothing changed" in r.output
    assert not platform.sync_policy_from_db()
    with platform.db.session() as s:
        assert s.query(AuditEntry).filter_by(action="policy.reload").count() == 1
        assert verify_chain(s).ok


def test_the_default_policy_is_valid() -> None:
    assert load_default_policy().retention.default_days >= 60


@pytest.mark.parametrize("cmd", [["audit", "verify"], ["db", "upgrade"]])
def test_operational_commands_run(platform: Platform, cmd: list[str]) -> None:
    r = runner.invoke(app, [*cmd, *_dd(platform)], env=_env(platform))
    assert r.exit_code == 0, r.output
