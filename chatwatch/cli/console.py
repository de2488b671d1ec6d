"""`chatwatch console` (the compliance console's web server) and `chatwatch users add|list|disable|enable|reset`."""

from __future__ import annotations

import getpass

import typer
from rich.table import Table

from chatwatch.cli.root import cli, console, err, load_settings, setup_logging
from chatwatch.console.access import ROLES
from chatwatch.console.server import ConsoleServer
from chatwatch.console.users import UserError, Users
from chatwatch.sinks.clickhouse.client import ClickHouseError, ClickHouseTarget, Client
from chatwatch.sinks.clickhouse.ddl import Renderer
from chatwatch.sinks.clickhouse.migrate import migrate

EMBEDDED_BUSY = ("the embedded ClickHouse folder {path} is in use (a worker owns it: chdb serves one folder per "
                 "process). Stop the worker, or serve the console from it (CHATWATCH_CONSOLE_IN_WORKER=true) and "
                 "manage users on its Users page.")


def store() -> Client:
    """The archive, migrated (the console's tables come with migration 5)."""
    settings = load_settings()
    try:
        client = ClickHouseTarget.from_settings(settings).connect()
        migrate(client, Renderer(settings.clickhouse_database, settings.clickhouse_cluster, settings.retention_days))
    except ClickHouseError as exc:
        message = str(exc)
        if settings.clickhouse_url is None and ("lock" in message.lower() or "cannot open" in message.lower()):
            message = EMBEDDED_BUSY.format(path=settings.clickhouse_path)
        err.print(f"[red]{message}[/]")
        raise typer.Exit(2) from None
    return client


@cli.command("console")
def console_cmd(loglevel: str = typer.Option("info", help="debug, info, warning, error")) -> None:
    """Serve the compliance console (CHATWATCH_CONSOLE_HOST/PORT) on the archive: alert queue, cases, audit."""
    settings = load_settings()
    setup_logging(loglevel, settings.log_format)
    client = store()
    server = ConsoleServer(settings, client)
    console.print(f"chatwatch console on [bold]{server.url}[/] (Ctrl-C stops it)")
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        client.close()


users_cli = typer.Typer(no_args_is_help=True, help="Console users: add, list, disable, enable, reset.")
cli.add_typer(users_cli, name="users")
ACTOR = typer.Option(getpass.getuser(), help="Who does it (recorded in the audit trail).")


def _users(action):
    client = store()
    try:
        return action(Users(client))
    except UserError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    finally:
        client.close()


@users_cli.command("add")
def add(username: str, role: str = typer.Option(..., help=f"One of {', '.join(ROLES)}."),
        team: list[str] = typer.Option([], help="A team the manager sees (repeat for several)."),
        name: str = typer.Option("", help="Display name."), email: str = typer.Option(""),
        language: str = typer.Option("", help="es, pt or en (default: the browser's)."), actor: str = ACTOR) -> None:
    """Create a user with a random password, printed once."""
    password = _users(lambda u: u.add(username, role, actor, teams=team, display_name=name, email=email,
                                      language=language))
    console.print(f"user [bold]{username.lower()}[/] ({role}) created; password (shown once): [bold]{password}[/]")


@users_cli.command("reset")
def reset(username: str, actor: str = ACTOR) -> None:
    """Give a user a new random password (printed once) and end their sessions."""
    password = _users(lambda u: u.reset(username, actor))
    console.print(f"new password for [bold]{username}[/] (shown once): [bold]{password}[/]")


@users_cli.command("disable")
def disable(username: str, actor: str = ACTOR) -> None:
    """Stop a user from signing in; their sessions end at the next request."""
    _users(lambda u: u.set_active(username, False, actor))
    console.print(f"{username} disabled")


@users_cli.command("enable")
def enable(username: str, actor: str = ACTOR) -> None:
    _users(lambda u: u.set_active(username, True, actor))
    console.print(f"{username} enabled")


@users_cli.command("list")
def list_users() -> None:
    table = Table("user", "name", "role", "teams", "state")
    for u in _users(lambda users: users.all()):
        table.add_row(u.username, u.display_name, u.role, ", ".join(u.teams), "enabled" if u.active else "disabled")
    console.print(table)
