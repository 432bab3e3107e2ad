"""``livegate export``: inspection bundles for the authorities (Art. 16), and checking one."""

from __future__ import annotations

from pathlib import Path

import typer

from livegate.cli import AsUser, DataDir, _actor, _platform, err, needs, out
from livegate.core.permissions import Permission

app = typer.Typer(help="Inspection exports (Art. 16).", no_args_is_help=True)


@app.command("inspection")
@needs(Permission.INSPECTION_EXPORT)
def export_inspection(
    out_dir: Path = typer.Option(..., "--out", help="An empty or new directory for the bundle."),
    account: int | None = typer.Option(None, "--account", help="Account id."),
    room: str | None = typer.Option(None, "--room", help="Room id."),
    start: str = typer.Option(..., "--from", help="First day (YYYY-MM-DD, UTC)."),
    end: str = typer.Option(..., "--to", help="Last day, included (YYYY-MM-DD, UTC)."),
    requester: str = typer.Option(..., "--requester", help="The authority asking (recorded)."),
    legal_basis: str = typer.Option(..., "--legal-basis", help="The legal basis of the request (recorded)."),
    data_dir: Path | None = DataDir,
    as_user: str | None = AsUser,
) -> None:
    """Build a signed bundle of the media, comments, logs and decisions of an account or a room."""
    from livegate.retention.export import parse_period

    if (account is None) == (room is None):
        err.print("[red]error[/red] give exactly one of --account or --room")
        raise typer.Exit(2)
    p = _platform(data_dir)
    actor = _actor(p, as_user, Permission.INSPECTION_EXPORT)
    a, b = parse_period(start, end)
    scope_type, scope_id = ("account", str(account)) if account is not None else ("room", str(room))
    result = p.retention.export_inspection(scope_type=scope_type, scope_id=scope_id, start=a, end=b,
                                           requester=requester, legal_basis=legal_basis, actor=actor,
                                           out_dir=out_dir)
    out.print(f"export {result.export_id}: {result.files} files, {result.bytes} bytes in {result.directory}")
    out.print(f"manifest SHA-256 {result.manifest_sha256}; key {p.retention.key.fingerprint}")


@app.command("verify")
@needs(None)
def export_verify(
    directory: Path,
    public_key: str | None = typer.Option(None, "--public-key", help="Expected signer (base64 Ed25519)."),
) -> None:
    """Check a bundle's signature and every file; exit 1 naming each file that changed."""
    from livegate.retention.export import verify_bundle

    check = verify_bundle(directory, expected_public_key=public_key)
    if check.ok:
        out.print(f"OK: {check.summary()}")
        return
    for problem in check.problems:
        out.print(f"FAILED: {problem}")
    raise typer.Exit(1)
