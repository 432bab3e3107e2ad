"""``livegate filing``: the record filing of verified publishers by type (Art. 12)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from livegate.cli import AsUser, DataDir, _actor, _platform, err, needs
from livegate.core.permissions import Permission

app = typer.Typer(help="Filings with the provincial internet information office (Art. 12).", no_args_is_help=True)


@app.command("export")
@needs(Permission.FILING_EXPORT)
def filing_export(
    province: str | None = typer.Option(None, "--province", help="Two-digit province code (GB/T 2260); all if none."),
    kind: str = typer.Option("individual", "--type", help="individual or organisation."),
    fmt: str = typer.Option("csv", "--format", help="csv or json."),
    full: bool = typer.Option(False, "--full", help="Unmasked identity data (needs identity:reveal and --reason)."),
    reason: str = typer.Option("", "--reason", help="Why (recorded in the audit log)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    data_dir: Path | None = DataDir,
    as_user: str | None = AsUser,
) -> None:
    """Export verified publishers of one type; masked unless --full. Every export is audited."""
    p = _platform(data_dir)
    actor = _actor(p, as_user, Permission.FILING_EXPORT)
    if full:
        _actor(p, as_user, Permission.IDENTITY_REVEAL)
    with p.db.session() as s:
        export = p.identity.export_filing(s, province=province, kind=kind, fmt=fmt, full=full, reason=reason,
                                          actor=actor)
    if output is not None:
        output.write_text(export.content, encoding="utf-8")
        output.chmod(0o600)
        err.print(f"{export.count} publishers written to {output}")
    else:
        sys.stdout.write(export.content)
