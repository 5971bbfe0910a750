"""``govlake users …`` (the SQL server's users file) and ``govlake serve sql``."""

from __future__ import annotations

import asyncio
import signal
import ssl
import sys
from pathlib import Path

import click

from jobs.serving.auth import users as users_file

_USERS_OPTION = click.option(
    "--users",
    "users_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The users file (JSON, mode 0600).",
)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _fail(e: Exception):
    raise click.ClickException(str(e)) from None


@click.group()
def users() -> None:
    """The SQL server's users: name, role, division and a SCRAM-SHA-256 verifier."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, help="A role of conf/access.yaml.")
@click.option("--division", help="Division code, for district roles.")
@click.option(
    "--department", help="Department id (conf/catalog department_id), for department_liaison."
)
@_USERS_OPTION
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_add(*, name, role, division, department, users_path, password_stdin) -> None:
    """Add user NAME with ROLE (and DIVISION or DEPARTMENT); asks for the password."""
    try:
        users_file.check_name(name)
        users_file._check_role(role, division, department)
        user = users_file.add(
            users_path,
            name=name,
            role=role,
            division=division,
            department=department,
            password=_password(password_stdin),
        )
    except users_file.UsersFileError as e:
        _fail(e)
    bound = user.division or user.department
    click.echo(f"added {user.name} ({user.role}{' ' + bound if bound else ''})")


@users.command("list")
@_USERS_OPTION
def users_list(users_path) -> None:
    """The users, without their verifiers."""
    try:
        known = users_file.load(users_path)
    except users_file.UsersFileError as e:
        _fail(e)
    for u in known.values():
        state = "disabled" if u.disabled else "enabled"
        bound = u.division or u.department or "-"
        click.echo(f"{u.name}\t{u.role}\t{bound}\t{state}\t{u.updated_at}")


@users.command("disable")
@click.argument("name")
@_USERS_OPTION
def users_disable(name, users_path) -> None:
    """Refuse NAME's logins from now on (no restart needed)."""
    _set_disabled(users_path, name, True)


@users.command("enable")
@click.argument("name")
@_USERS_OPTION
def users_enable(name, users_path) -> None:
    """Accept NAME's logins again."""
    _set_disabled(users_path, name, False)


def _set_disabled(users_path, name: str, disabled: bool) -> None:
    try:
        users_file.set_disabled(users_path, name, disabled=disabled)
    except users_file.UsersFileError as e:
        _fail(e)
    click.echo(f"{'disabled' if disabled else 'enabled'} {name}")


@users.command("passwd")
@click.argument("name")
@_USERS_OPTION
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_passwd(*, name, users_path, password_stdin) -> None:
    """Set NAME's password."""
    try:
        if name not in users_file.load(users_path):
            raise users_file.UsersFileError(f"{users_path}: no user {name}")
        users_file.set_password(users_path, name, password=_password(password_stdin))
    except users_file.UsersFileError as e:
        _fail(e)
    click.echo(f"password of {name} changed")


@click.group()
def serve() -> None:
    """Serve the lake to other programs."""


def listening(port: int):
    """The options every server of the lake takes: the lake, where to listen, the users file
    and a TLS certificate (``serve sql``, ``serve web``)."""

    def wrap(command):
        for option in reversed(
            (
                click.option(
                    "--lake",
                    "lake_dir",
                    default="var/lake",
                    show_default=True,
                    type=click.Path(file_okay=False, path_type=Path),
                ),
                click.option(
                    "--host", default="127.0.0.1", show_default=True, help="Address to listen on."
                ),
                click.option(
                    "--port", default=port, show_default=True, type=click.IntRange(0, 65535)
                ),
                _USERS_OPTION,
                click.option(
                    "--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path)
                ),
                click.option(
                    "--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path)
                ),
            )
        ):
            command = option(command)
        return command

    return wrap


@serve.command("sql")
@listening(port=5433)
@click.option("--require-tls", is_flag=True, help="Refuse clients that do not use TLS.")
def serve_sql(*, lake_dir, host, port, users_path, tls_cert, tls_key, require_tls) -> None:
    """A PostgreSQL-protocol server over the lake (psql, JDBC, psycopg, BI tools)."""
    from jobs.serving.server.pgwire import ServerConfig, SqlServer

    if not lake_dir.is_dir():
        raise click.ClickException(f"lake {lake_dir} does not exist")
    if bool(tls_cert) != bool(tls_key):
        raise click.ClickException("--tls-cert and --tls-key go together")
    if require_tls and not tls_cert:
        raise click.ClickException("--require-tls needs --tls-cert and --tls-key")
    context = None
    if tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(tls_cert, tls_key)
    config = ServerConfig(
        lake=lake_dir,
        users_file=users_path,
        host=host,
        port=port,
        ssl_context=context,
        require_tls=require_tls,
    )
    try:
        server = SqlServer(config)
    except (users_file.UsersFileError, ValueError) as e:
        _fail(e)
    asyncio.run(_run(server, tls="required" if require_tls else "optional" if context else "off"))


async def _run(server, *, tls: str) -> None:
    host, port = await server.start()
    click.echo(f"govlake SQL server listening on {host}:{port} (TLS {tls})", err=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    forever = asyncio.create_task(server.serve_forever())
    await stop.wait()
    forever.cancel()
    await server.close()
    click.echo("govlake SQL server stopped", err=True)
