"""``livegate identity``: offline document checks, and the verification queue for operators."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

from livegate.cli import AsUser, DataDir, _actor, _platform, needs, out
from livegate.core.permissions import Permission
from livegate.identity.documents import DOC_TYPES, check_document

app = typer.Typer(help="Identity verification (Art. 12).", no_args_is_help=True)


@app.command("check-document")
@needs(None)
def identity_check_document(
    number: str = typer.Argument(..., help="The document number."),
    doc_type: str = typer.Option(..., "--type", help="One of: " + ", ".join(DOC_TYPES)),
) -> None:
    """Check a document number offline; prints {"valid", "reason", "normalized"} (exit 0 valid, 1 invalid)."""
    result = check_document(doc_type, number, today=dt.datetime.now(dt.UTC).date())
    typer.echo(json.dumps({"valid": result.valid, "rule": result.rule, "reason": result.reason,
                           "normalized": result.normalized}, ensure_ascii=False))
    if not result.valid:
        raise typer.Exit(1)


@app.command("queue")
@needs(Permission.IDENTITY_REVIEW)
def identity_queue(data_dir: Path | None = DataDir, as_user: str | None = AsUser) -> None:
    """List submissions awaiting review (masked)."""
    p = _platform(data_dir)
    _actor(p, as_user, Permission.IDENTITY_REVIEW)
    with p.db.session() as s:
        for rec, acc in p.identity.queue(s):
            out.print(f"{rec.id}\taccount {acc.id} ({acc.nickname})\t{rec.status}\t{rec.doc_type} {rec.doc_masked}"
                      f"\t{rec.name_masked}\t{rec.check_rule}")
