"""``livegate lexicon``: import, list and export the moderation lexicon (versioned, reloaded
live on every node)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import typer

from livegate.cli import AsUser, DataDir, _actor, _platform, err, needs, out
from livegate.core.permissions import Permission

app = typer.Typer(help="The comment moderation lexicon (Art. 9, 11).", no_args_is_help=True)


@app.command("import")
@needs(Permission.POLICY_MANAGE)
def lexicon_import(
    file: Path = typer.Argument(..., help="TSV: term, category, severity (1-5), action (block|hold|mask|flag)."),
    merge: bool = typer.Option(False, "--merge", help="Add to the lexicon in service instead of replacing it."),
    data_dir: Path | None = DataDir,
    as_user: str | None = AsUser,
) -> None:
    """Validate FILE and put it in service on every node (audited); an invalid file changes nothing."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"[red]cannot read[/red] {file}: {exc}")
        raise typer.Exit(1) from None
    p = _platform(data_dir)
    actor = _actor(p, as_user, Permission.POLICY_MANAGE)
    info = p.chat.import_lexicon(text, source=str(file), actor=actor, merge=merge)

    async def announce() -> None:
        try:
            await p.chat.announce_lexicon()
        finally:
            await p.broker.close()

    asyncio.run(announce())
    out.print(f"lexicon {info['id']} ({info['version']}, {info['entries']} terms) in service; "
              "running nodes adopt it within seconds")


@app.command("list")
@needs(Permission.POLICY_MANAGE)
def lexicon_list(data_dir: Path | None = DataDir) -> None:
    """The stored lexicon versions, newest first."""
    p = _platform(data_dir)
    with p.db.session() as s:
        for v in p.chat.lexicon_versions(s):
            out.print(f"{v['id']}\t{v['version']}\t{v['entries']} terms\t{v['created_at']}\t{v['created_by']}"
                      f"\t{v['source']}")


@app.command("export")
@needs(Permission.POLICY_MANAGE)
def lexicon_export(data_dir: Path | None = DataDir) -> None:
    """Print the lexicon in service as TSV."""
    p = _platform(data_dir)
    sys.stdout.write(p.chat.current_lexicon_text())
