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
              f"(previous key {result['previous_key']} kept in the key file until `livegate vault retire`)")


@app.command("keys")
@needs(Permission.IDENTITY_REVEAL)
def vault_keys(data_dir: Path | None = DataDir, as_user: str | None = AsUser) -> None:
    """The master keys in the key file and how many stored values each wraps (no value is opened)."""
    p = _platform(data_dir)
    _actor(p, as_user, Permission.IDENTITY_REVEAL)
    current = p.identity.vault.provider.current_key_id()
    with p.db.session() as s:
        usage = p.identity.key_usage(s)
    for key_id, count in sorted(usage.items()):
        out.print(f"{key_id}  {count} values{'  (current)' if key_id == current else ''}")


@app.command("retire")
@needs(Permission.IDENTITY_REVEAL)
def vault_retire(key_id: str = typer.Argument(..., help="a key id from `livegate vault keys`"),
                 data_dir: Path | None = DataDir, as_user: str | None = AsUser) -> None:
    """Remove a previous master key from the key file; refused while any stored value needs it. Audited."""
    p = _platform(data_dir)
    actor = _actor(p, as_user, Permission.IDENTITY_REVEAL)
    result = p.identity.retire_master_key(key_id, actor=actor)
    out.print(f"master key {result['retired']} retired; the key file holds {', '.join(result['keys'])}")
