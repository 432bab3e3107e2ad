"""``livegate retention``: the purge (dry or real), legal holds, the audit-chain head, storage use."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from livegate.cli import AsUser, DataDir, _actor, _platform, err, needs, out
from livegate.core.permissions import Permission

app = typer.Typer(help="Retention (Art. 16): purge, legal holds, audit-chain heads, storage.", no_args_is_help=True)
hold_app = typer.Typer(help="Legal holds on an account, room or case.", no_args_is_help=True)
head_app = typer.Typer(help="The audit chain's signed head, written out daily.", no_args_is_help=True)
app.add_typer(hold_app, name="hold")
app.add_typer(head_app, name="head")


@app.command("purge")
@needs(Permission.RETENTION_PURGE)
def retention_purge(
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be deleted; delete nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    data_dir: Path | None = DataDir,
    as_user: str | None = AsUser,
) -> None:
    """Delete every record older than its retention period and not under a legal hold (audited)."""
    p = _platform(data_dir)
    actor = _actor(p, as_user, Permission.RETENTION_PURGE)
    report = p.retention.purge(dry_run=dry_run, actor=actor)
    if as_json:
        out.print_json(json.dumps(report.as_dict()))
        return
    verb = "would delete" if dry_run else "deleted"
    table = Table("kind", "period (days)", "older than", verb, "bytes", "kept by a hold")
    for k in report.kinds:
        table.add_row(k.kind, str(k.days), k.cutoff.strftime("%Y-%m-%d %H:%M"), str(k.count), str(k.bytes),
                      str(k.held_skipped))
    out.print(table)
    for k in report.kinds:
        if k.error:
            err.print(f"[red]failed[/red] {k.kind}: {k.error}")
    out.print(f"{'dry run: ' if dry_run else ''}{report.total} records {verb}")
    if any(k.error for k in report.kinds):
        raise typer.Exit(1)


@hold_app.command("place")
@needs(Permission.LEGAL_HOLD)
def hold_place(
    scope: str = typer.Argument(..., help="account, room or case"),
    scope_id: str = typer.Argument(..., help="its id"),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log)."),
    data_dir: Path | None = DataDir,
    as_user: str | None = AsUser,
) -> None:
    """Place a legal hold: nothing of the scope is purged until it is lifted."""
    p = _platform(data_dir)
    actor = _actor(p, as_user, Permission.LEGAL_HOLD)
    with p.db.session() as s:
        hold_id = p.retention.place_hold(s, scope_type=scope, scope_id=scope_id, reason=reason, actor=actor)
    out.print(f"legal hold {hold_id} placed on {scope} {scope_id}")


@hold_app.command("lift")
@needs(Permission.LEGAL_HOLD)
def hold_lift(
    hold_id: int,
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log)."),
    data_dir: Path | None = DataDir,
    as_user: str | None = AsUser,
) -> None:
    """Lift a legal hold; the scope's records age out normally again."""
    p = _platform(data_dir)
    actor = _actor(p, as_user, Permission.LEGAL_HOLD)
    with p.db.session() as s:
        p.retention.lift_hold(s, hold_id, reason=reason, actor=actor)
    out.print(f"legal hold {hold_id} lifted")


@hold_app.command("list")
@needs(Permission.LEGAL_HOLD)
def hold_list(data_dir: Path | None = DataDir, all_: bool = typer.Option(False, "--all", help="Lifted too.")) -> None:
    """List legal holds."""
    p = _platform(data_dir)
    table = Table("id", "scope", "placed", "by", "reason", "lifted")
    with p.db.session() as s:
        rows = p.retention.holds.history(s) if all_ else p.retention.holds.active(s)
        for h in rows:
            table.add_row(str(h.id), f"{h.scope_type} {h.scope_id}", h.placed_at.strftime("%Y-%m-%d"), h.placed_by,
                          h.reason, h.lifted_at.strftime("%Y-%m-%d") if h.lifted_at else "")
    out.print(table)


@head_app.command("write")
@needs(Permission.AUDIT_READ)
def head_write(data_dir: Path | None = DataDir, copy_to: Path | None = typer.Option(
        None, "--copy-to", help="Also write the signed head to this file (keep it off the server).")) -> None:
    """Write the audit chain's signed head into storage now (the scheduler does it daily)."""
    p = _platform(data_dir)
    doc = p.retention.write_audit_head()
    if copy_to is not None:
        copy_to.write_text(json.dumps(doc, sort_keys=True) + "\n", encoding="utf-8")
    out.print(f"head of {doc['day']}: entry {doc['seq']} {doc['hash']}")


@head_app.command("verify")
@needs(Permission.AUDIT_READ)
def head_verify(head_file: Path, data_dir: Path | None = DataDir) -> None:
    """Check the chain against an earlier head file; exit 1 if it was rewritten or truncated since."""
    from livegate.core.errors import LivegateError

    p = _platform(data_dir, migrate=False)
    try:
        check = p.retention.verify_head(head_file.read_bytes())
    except LivegateError as exc:
        err.print(f"[red]invalid head file[/red] {head_file}: {exc.message}")
        raise typer.Exit(1) from None
    who = "the platform key" if check.key_is_platform else "a key that is NOT this platform's"
    out.print(f"head of {check.day} signed by {who} ({check.key_fingerprint})")
    if check.ok:
        out.print(f"OK: {check.message}")
        return
    out.print(f"TAMPERED: {check.message}")
    raise typer.Exit(1)


@app.command("storage")
@needs(Permission.STORAGE_VIEW)
def retention_storage(data_dir: Path | None = DataDir) -> None:
    """Bytes stored per day, the projection, free space and any alert."""
    from livegate.retention.usage import human

    p = _platform(data_dir)
    u = p.retention.usage()
    out.print(f"backend {u.backend}: {human(u.stored_bytes)} stored; {human(u.average_daily)}/day lately; "
              f"next {u.projection_days} days ≈ {human(u.projected_bytes)}; free {human(u.free_bytes)}")
    if u.alert:
        out.print(f"[red]ALERT[/red] {u.alert}")
