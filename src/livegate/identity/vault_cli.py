"""``livegate vault``: the identity vault's master keys."""

from __future__ import annotations

from pathlib import Path

import typer

from livegate.cli import AsUser, DataDir, _actor, _platform, needs, out
from livegate.core.permissions import Permission

app = typer.Typer(help="The identity vault (Art. 12).", no_args_is_help=True)


@app.command("rotate")
@needs(Permission.IDENTITY_REVEAL)
def vault_rotate(data_dir: Path | None = DataDir, as_user: str | None = AsUser) -> None:
    """Add a new master key and re-wrap every data key under it (values are not re-encrypted); audited."""
    p = _platform(data_dir)
    actor = _actor(p, as_user, Permission.IDENTITY_REVEAL)
    result = p.identity.rotate_master_key(actor=actor)
    out.print(f"master key {result['current_key']} is current; {result['rewrapped']} values re-wrapped "
              f"(previous key {result['previous_key']} kept in the key file for running nodes)")
