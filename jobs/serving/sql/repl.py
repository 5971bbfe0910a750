"""`govlake sql`: one query from the command line, or an interactive prompt."""

from __future__ import annotations

import sys

import click

from jobs.serving.sql.guard import Denied
from jobs.serving.sql.render import FORMATS, render
from jobs.serving.sql.session import QueryFailed, SqlSession

HELP = """\\d                 the tables your role reads
\\d layer.table     its columns and how each is shown to you
\\dialect NAME      write duckdb, spark or mysql from now on
\\format NAME       table, csv or json
\\q                 quit
End a query with ; (it may span lines)."""


def run_one(session: SqlSession, sql: str, *, dialect: str, fmt: str) -> int:
    """Run a query and print its result; the exit status: 0 ran, 1 failed, 2 denied."""
    try:
        result = session.query(sql, dialect)
    except Denied as e:
        click.secho(f"denied: {e.reason}", fg="red", err=True)
        return 2
    except QueryFailed as e:
        click.secho(f"failed: {e}", fg="red", err=True)
        return 1
    click.echo(render(result.table, fmt), nl=False)
    note = f"{result.table.num_rows:,} row(s) in {result.duration_ms:.0f} ms"
    if result.truncated:
        note += (
            f"; the result has more rows than the {session.max_rows:,} shown "
            "(aggregate, add a LIMIT, or raise --max-rows)"
        )
    click.echo(f"-- {note}", err=True)
    return 0


def _describe(session: SqlSession, arg: str) -> None:
    if not arg:
        for table in session.tables():
            click.echo(table)
        return
    try:
        rows = session.describe(arg)
    except Denied as e:
        click.secho(f"denied: {e.reason}", fg="red", err=True)
        return
    width = max(len(r[0]) for r in rows)
    for name, kind, shown in rows:
        click.echo(f"{name:<{width}}  {kind[:60]:<60}  {shown}")


def interactive(session: SqlSession, dialect: str, *, fmt: str) -> None:
    """A prompt: queries end with `;`; backslash commands as in HELP."""
    who = session.role + (f"@{session.division}" if session.division else "")
    click.echo(f"govlake sql as {session.user} ({who}); \\? for help, \\q to quit", err=True)
    buffer: list[str] = []
    while True:
        try:
            line = input(f"{dialect}> " if not buffer else "   ...> ")
        except EOFError:
            click.echo("", err=True)
            return
        except KeyboardInterrupt:
            buffer = []
            click.echo("", err=True)
            continue
        stripped = line.strip()
        if not buffer and stripped.startswith("\\"):
            command, _, arg = stripped.partition(" ")
            arg = arg.strip()
            if command == "\\q":
                return
            if command == "\\d":
                _describe(session, arg)
            elif command == "\\dialect" and arg in ("duckdb", "spark", "mysql"):
                dialect = arg
            elif command == "\\format" and arg in FORMATS:
                fmt = arg
            else:
                click.echo(HELP, err=True)
            continue
        buffer.append(line)
        if stripped.endswith(";"):
            run_one(session, "\n".join(buffer), dialect=dialect, fmt=fmt)
            buffer = []
            sys.stdout.flush()
