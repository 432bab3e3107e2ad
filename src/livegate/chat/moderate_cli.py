"""``livegate moderate``: lines on stdin, one JSON decision per line on stdout, for operators
to test the rules (the lexicon in service, or ``--lexicon FILE``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from livegate.chat.lexicon import Lexicon, Moderator, moderate_lines
from livegate.cli import DataDir, needs

app = typer.Typer(help="Moderate stdin lines and print one JSON object per line (action, category, matched).")


@app.callback(invoke_without_command=True)
@needs(None)
def moderate(
    lexicon: Path | None = typer.Option(None, "--lexicon", help="Use this TSV instead of the lexicon in service."),
    data_dir: Path | None = DataDir,
    stored: bool = typer.Option(True, "--stored/--packaged",
                                help="Use the lexicon stored in the data dir (default) or the packaged one."),
) -> None:
    """Read lines from stdin; print {"action", "category", "matched", ...} for each."""
    if lexicon is not None:
        moderator = Moderator(Lexicon.load(lexicon), Moderator.default().allow_list)
    elif stored:
        from livegate.cli import _platform

        p = _platform(data_dir)
        p.chat.sync_lexicon()
        moderator = p.chat.slot.current
    else:
        moderator = Moderator.default()
    stdin = sys.stdin
    for decision in moderate_lines(moderator, stdin):
        sys.stdout.write(json.dumps(decision, ensure_ascii=False) + "\n")
        sys.stdout.flush()
