"""The ``livegate`` command line.

Every command declares the permission it needs (``@needs``). Run by the operator on the
server, a command acts as ``cli:<os user>`` (shell access to the data dir is already
administrator-level); with ``--as USERNAME`` it acts as that account, and refuses when the
account lacks the permission. Either way, what a command changes is audited.
"""

from __future__ import annotations

import asyncio
import functools
import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from livegate.config import Settings, load_settings
from livegate.core.errors import LivegateError
from livegate.core.permissions import Permission, Role

app = typer.Typer(help="livegate: a live-streaming platform with the Measures built in.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
config_app = typer.Typer(help="Settings.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
user_app = typer.Typer(help="Accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
policy_app = typer.Typer(help="The platform policy.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(policy_app, name="policy")

out = Console(soft_wrap=True)
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

COMMAND_PERMISSIONS: dict[str, Permission | None] = {}

DataDir = typer.Option(None, "--data-dir", help="Data directory (default: $LIVEGATE_DATA_DIR or ./.data).")
AsUser = typer.Option(None, "--as", help="Act as this staff account (its permissions are checked).")


def needs(permission: Permission | None) -> Callable[[F], F]:
    """Declare the permission a command needs (None: reads nothing private, changes nothing)."""

    def deco(fn: F) -> F:
        COMMAND_PERMISSIONS[fn.__name__] = permission
        fn.__livegate_permission__ = permission  # type: ignore[attr-defined]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except LivegateError as exc:
                err.print(f"[red]error[/red] {exc.code}: {exc.message}")
                raise typer.Exit(2) from None

        return wrapper  # type: ignore[return-value]

    return deco


def _settings(data_dir: Path | None, **kw: Any) -> Settings:
    return load_settings(data_dir=data_dir, **kw)


def _platform(data_dir: Path | None, *, migrate: bool = True, **kw: Any) -> Any:
    from livegate.app import Platform

    p = Platform(_settings(data_dir, **kw), start_rtmp=False)
    if migrate:
        p.migrate()
    return p


def _actor(p: Any, as_user: str | None, permission: Permission | None) -> str:
    if not as_user:
        return f"cli:{getpass.getuser()}"
    from livegate.core.errors import NotFound, PermissionDenied
    from livegate.identity.accounts import principal_for

    with p.db.session() as s:
        acc = p.accounts.by_username(s, as_user)
        if acc is None:
            raise NotFound(f"no account named {as_user}")
        principal = principal_for(acc)
    if permission is not None and not principal.has(permission):
        raise PermissionDenied(f"{as_user} lacks the permission {permission.value}")
    return principal.actor


# serve ------------------------------------------------------------------------------------
@app.command()
@needs(None)
def serve(
    data_dir: Path | None = DataDir,
    http_port: int | None = typer.Option(None, "--http-port", help="HTTP port (default 8080)."),
    rtmp_port: int | None = typer.Option(None, "--rtmp-port", help="RTMP port (default 1935)."),
    host: str | None = typer.Option(None, "--host", help="Address to bind HTTP and RTMP to."),
    demo: bool = typer.Option(False, "--demo", help="Seed a demo room and stream a test pattern into it."),
) -> None:
    """Run the platform: HTTP/WebSocket, RTMP ingest, media workers and the scheduler, in one process."""
    import uvicorn

    from livegate.app import Platform, create_app
    from livegate.core.logging import configure_logging

    kw: dict[str, Any] = {"http_port": http_port, "rtmp_port": rtmp_port}
    if host:
        kw["http_host"] = host
        kw["rtmp_host"] = host
    settings = _settings(data_dir, **kw)
    configure_logging(settings.log_level, settings.log_json)
    platform = Platform(settings)
    platform.migrate()
    created = platform.bootstrap_admin()
    demo_info = None
    if demo:
        from livegate.demo import seed_demo

        try:
            demo_info = seed_demo(platform)
        except LivegateError as exc:
            err.print(f"[red]error[/red] {exc.code}: {exc.message}")
            raise typer.Exit(2) from None
    fastapi_app = create_app(platform)
    out.print(f"[bold]livegate[/bold] on {settings.effective_public_url}  (data: {settings.data_dir})")
    out.print(f"  RTMP ingest: {settings.effective_rtmp_url}/STREAM_KEY")
    out.print(f"  console:     {settings.effective_public_url}/console")
    if created:
        out.print(f"  administrator created: username [bold]{created[0]}[/bold] "
                  f"one-time password [bold]{created[1]}[/bold] (shown once; change it)")
    if demo_info:
        out.print(f"  demo room:   {settings.effective_public_url}/r/{demo_info['room']}  "
                  f"(accounts in {settings.data_dir / 'demo.json'})")
    config = uvicorn.Config(fastapi_app, host=settings.http_host, port=settings.http_port, log_config=None,
                            access_log=False, ws_max_size=64 * 1024, lifespan="on")
    server = _quiet_server(config)

    async def main() -> None:
        if demo_info:
            from livegate.demo import run_demo_publisher

            async def after_start() -> None:
                await asyncio.to_thread(platform.ready.wait)
                await run_demo_publisher(platform, demo_info)

            task = asyncio.create_task(after_start())
            await server.serve()
            task.cancel()
        else:
            await server.serve()

    try:
        # uvicorn's "auto" loop: uvloop where it is installed (uvicorn[standard] brings it),
        # which moves the RTMP reads, timers and WebSocket writes' loop work into C
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(main())
    finally:
        platform.close()


def _quiet_server(config: Any) -> Any:
    """uvicorn's server, ticking once a second instead of ten times.

    Its tick only refreshes the Date header (once a second anyway) and notices a request to
    exit; ten wake-ups a second were a good part of an idle node's CPU. Exiting takes up to a
    second longer. Built here because uvicorn is imported only when serving."""
    import uvicorn

    class QuietServer(uvicorn.Server):
        async def main_loop(self) -> None:
            counter = 0
            should_exit = await self.on_tick(counter)
            while not should_exit:
                counter = (counter + 10) % 864000  # multiples of 10: on_tick refreshes headers
                await asyncio.sleep(1.0)
                should_exit = await self.on_tick(counter)

    return QuietServer(config)


# config -----------------------------------------------------------------------------------
@config_app.command("show")
@needs(None)
def config_show(data_dir: Path | None = DataDir) -> None:
    """Print the effective settings, secrets redacted."""
    out.print_json(json.dumps(_settings(data_dir).redacted(), default=str))


# db ---------------------------------------------------------------------------------------
@db_app.command("upgrade")
@needs(Permission.POLICY_MANAGE)
def db_upgrade(data_dir: Path | None = DataDir) -> None:
    """Apply database migrations (also done at every start)."""
    from livegate.core import migrate

    p = _platform(data_dir, migrate=False)
    migrate.upgrade(p.db)
    out.print(f"database at revision {migrate.current(p.db)}")


# user -------------------------------------------------------------------------------------
@user_app.command("create")
@needs(Permission.USERS_MANAGE)
def user_create(
    username: str,
    role: Role = typer.Option(..., "--role", help="Role to grant."),
    scope: str | None = typer.Option(None, "--scope", help="Room for a room manager."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    data_dir: Path | None = DataDir,
    as_user: str | None = AsUser,
) -> None:
    """Create an account; the password comes from stdin or is generated and printed once."""
    from livegate.identity.accounts import generate_password

    p = _platform(data_dir)
    actor = _actor(p, as_user, Permission.USERS_MANAGE)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else generate_password()
    with p.db.session() as s:
        acc = p.accounts.create(s, username=username, password=password, roles=[(role, scope)], actor=actor)
    out.print(f"created {acc.username} (id {acc.id}) with role {role.value}")
    if not password_stdin:
        out.print(f"password: {password}  (shown once)")


# audit ------------------------------------------------------------------------------------
@audit_app.command("verify")
@needs(Permission.AUDIT_READ)
def audit_verify(data_dir: Path | None = DataDir) -> None:
    """Check the hash chain; exit 1 naming the first broken entry."""
    from livegate.core.audit import verify_chain

    p = _platform(data_dir, migrate=False)
    with p.db.session() as s:
        r = verify_chain(s)
    if r.ok:
        out.print(f"audit chain intact: {r.count} entries, head {r.head}")
        return
    out.print(f"audit chain BROKEN at entry {r.first_broken}: {r.problem} ({r.count} entries verified before it)")
    raise typer.Exit(1)


# policy -----------------------------------------------------------------------------------
@policy_app.command("check")
@needs(None)
def policy_check(file: Path) -> None:
    """Validate a policy file and explain every error by path."""
    from livegate.core.policy import PolicyHolder, load_policy

    try:
        policy = load_policy(file)
    except LivegateError as exc:
        err.print(f"[red]invalid policy[/red] {file}:\n{exc.message}")
        raise typer.Exit(1) from None
    out.print(f"policy {file} is valid (version {PolicyHolder(policy).version[:12]})")


@policy_app.command("reload")
@needs(Permission.POLICY_MANAGE)
def policy_reload(file: Path, data_dir: Path | None = DataDir, as_user: str | None = AsUser) -> None:
    """Swap in a policy file on every node at run time (audited); an invalid file changes nothing."""
    p = _platform(data_dir)
    actor = _actor(p, as_user, Permission.POLICY_MANAGE)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        err.print(f"[red]cannot read[/red] {file}: {exc.strerror}")
        raise typer.Exit(1) from None
    try:
        p.apply_policy(text, source=str(file), actor=actor)
    except LivegateError as exc:
        err.print(f"[red]invalid policy, nothing changed[/red]:\n{exc.message}")
        raise typer.Exit(1) from None
    out.print(f"policy {p.policy.version[:12]} applied; running nodes adopt it within seconds")


# cut-off ----------------------------------------------------------------------------------
@app.command()
@needs(Permission.STREAM_CUTOFF)
def cutoff(
    room: str,
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log)."),
    block_minutes: int | None = typer.Option(None, "--block-minutes", help="Lift the block after this long."),
    data_dir: Path | None = DataDir,
    as_user: str | None = AsUser,
) -> None:
    """Cut a room off now, on whichever node carries it, and block it."""
    p = _platform(data_dir)
    actor = _actor(p, as_user, Permission.STREAM_CUTOFF)
    with p.db.session() as s:
        order = p.rooms.cutoff(s, p.rooms.get(s, room), actor=actor, reason=reason, block_minutes=block_minutes)
        order_id = order.id
    asyncio.run(_announce(p, {"type": "cutoff", "room": room, "order": order_id}))
    out.print(f"cut-off order {order_id} issued for room {room}")


@app.command()
@needs(Permission.STREAM_UNBLOCK)
def unblock(
    room: str,
    reason: str = typer.Option(..., "--reason"),
    data_dir: Path | None = DataDir,
    as_user: str | None = AsUser,
) -> None:
    """Lift a room's block so it can go live again."""
    p = _platform(data_dir)
    actor = _actor(p, as_user, Permission.STREAM_UNBLOCK)
    with p.db.session() as s:
        p.rooms.unblock(s, p.rooms.get(s, room), actor=actor, reason=reason)
    out.print(f"room {room} unblocked")


async def _announce(p: Any, message: dict[str, Any]) -> None:
    """Tell running nodes at once where a shared broker exists; polling covers the rest."""
    try:
        await p.broker.publish("control", message)
    finally:
        await p.broker.close()


# users listing for operators ------------------------------------------------------------------
@user_app.command("list")
@needs(Permission.USERS_MANAGE)
def user_list(data_dir: Path | None = DataDir) -> None:
    """List accounts and their roles."""
    from sqlalchemy import select

    from livegate.core.models import Account

    p = _platform(data_dir)
    table = Table("id", "username", "nickname", "status", "roles")
    with p.db.session() as s:
        for a in s.scalars(select(Account).order_by(Account.id)):
            table.add_row(str(a.id), a.username, a.nickname, a.status,
                          ", ".join(sorted(f"{g.role}@{g.scope}" if g.scope else g.role for g in a.roles)))
    out.print(table)


# Domain command groups: each module exposes ``app`` (a Typer) and is mounted under ``name``.
_DOMAIN_COMMANDS: list[tuple[str, str]] = [
    ("livegate.identity.cli", "identity"),
    ("livegate.identity.vault_cli", "vault"),
    ("livegate.identity.filing_cli", "filing"),
    ("livegate.enforcement.cli", "blacklist"),
    ("livegate.chat.cli", "lexicon"),
    ("livegate.chat.moderate_cli", "moderate"),
    ("livegate.retention.cli", "retention"),
    ("livegate.retention.export_cli", "export"),
]


def _mount_domain_commands() -> None:
    import importlib

    for module_name, name in _DOMAIN_COMMANDS:
        module = importlib.import_module(module_name)
        app.add_typer(module.app, name=name)


_mount_domain_commands()


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()


if __name__ == "__main__":
    main()
