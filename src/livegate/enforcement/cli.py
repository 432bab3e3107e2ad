"""``livegate blacklist``: import circulated lists, report new entries, check an identity (Art. 15).

The formats are documented in :mod:`livegate.enforcement.blacklist`. Plain values given
here (a file's rows, ``--phone``, ``--document``) are turned into blind indexes at once and
never stored, printed or audited; only masked hints are.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import typer

from livegate.cli import AsUser, DataDir, _actor, _platform, err, needs, out
from livegate.core.permissions import Permission

app = typer.Typer(help="The blacklist (Art. 15).", no_args_is_help=True)


@app.command("import")
@needs(Permission.SANCTIONS_MANAGE)
def blacklist_import(
    file: Path = typer.Argument(..., help="CSV (kind,value,reason[,source]) or JSON {\"entries\": [...]}."),
    source: str = typer.Option("", "--source", help="Who circulated the list (default: the file's own)."),
    data_dir: Path | None = DataDir,
    as_user: str | None = AsUser,
) -> None:
    """Import a circulated list as proposed entries; a second staff member confirms the batch."""
    p = _platform(data_dir)
    actor = _actor(p, as_user, Permission.SANCTIONS_MANAGE)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        err.print(f"[red]cannot read[/red] {file}: {exc.strerror}")
        raise typer.Exit(1) from None
    with p.db.session() as s:
        r = p.enforcement.blacklist.import_text(s, text, source=source or file.name, actor=actor)
    rows = f" (rows {', '.join(map(str, r.rejected_rows[:20]))})" if r.rejected_rows else ""
    out.print(f"batch {r.batch}: {r.added} proposed, {r.already_listed} already listed or pending, "
              f"{len(r.rejected_rows)} rows rejected{rows}")
    out.print(f"a different staff member confirms with: livegate blacklist confirm --batch {r.batch} --as USER")


@app.command("confirm")
@needs(Permission.SANCTIONS_MANAGE)
def blacklist_confirm(
    entry: int | None = typer.Argument(None, help="The entry id."),
    batch: str | None = typer.Option(None, "--batch", help="Confirm every proposed entry of an import batch."),
    data_dir: Path | None = DataDir,
    as_user: str | None = AsUser,
) -> None:
    """Confirm proposed entries (four eyes: not the proposer); closes the identities' accounts."""
    p = _platform(data_dir)
    actor = _actor(p, as_user, Permission.SANCTIONS_MANAGE)
    if batch:
        n, closed = asyncio.run(p.enforcement.confirm_blacklist_batch(batch, actor=actor))
        out.print(f"{n} entries confirmed; {len(closed)} accounts closed")
    elif entry is not None:
        closed = asyncio.run(p.enforcement.confirm_blacklist(entry, actor=actor))
        out.print(f"entry {entry} confirmed; {len(closed)} accounts closed")
    else:
        err.print("name an entry id or --batch")
        raise typer.Exit(2)


@app.command("export")
@needs(Permission.SANCTIONS_MANAGE)
def blacklist_export(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    data_dir: Path | None = DataDir,
    as_user: str | None = AsUser,
) -> None:
    """Report entries not yet reported to the provincial office (JSON, masked); audited."""
    p = _platform(data_dir)
    actor = _actor(p, as_user, Permission.SANCTIONS_MANAGE)
    with p.db.session() as s:
        content, count = p.enforcement.blacklist.report(s, actor=actor)
    if output is not None:
        output.write_text(content, encoding="utf-8")
        output.chmod(0o600)
        err.print(f"{count} entries written to {output}")
    else:
        sys.stdout.write(content + "\n")


@app.command("check")
@needs(Permission.SANCTIONS_MANAGE)
def blacklist_check(
    phone: str | None = typer.Option(None, "--phone", help="A mobile number."),
    document: str | None = typer.Option(None, "--document", help="A document number."),
    data_dir: Path | None = DataDir,
    as_user: str | None = AsUser,
) -> None:
    """Is this identity listed? Prints 'listed' (exit 1) or 'not listed' (exit 0); audited."""
    if (phone is None) == (document is None):
        err.print("give exactly one of --phone or --document")
        raise typer.Exit(2)
    p = _platform(data_dir)
    actor = _actor(p, as_user, Permission.SANCTIONS_MANAGE)
    kind, value = ("phone", phone) if phone is not None else ("document", document)
    assert value is not None
    bl = p.enforcement.blacklist
    index, masked = bl.index_for(kind, value)
    with p.db.session() as s:
        listed = bl.is_listed(s, **{f"{kind}_index": index})
        p.audit.record(s, actor=actor, action="blacklist.check", target="blacklist",
                       details={"kind": kind, "masked": masked, "listed": listed})
    out.print(f"{masked}: {'listed' if listed else 'not listed'}")
    if listed:
        raise typer.Exit(1)
