"""``govlake``: the command line of the lakehouse."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import sys
from pathlib import Path

import click

DEFAULT_LANDING = "var/landing"
DEFAULT_LAKE = "var/lake"


def _date(ctx, param, value):
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _published(lake_dir: Path, spark, as_of: dt.date | None):
    """The lake as readers see it: the tables at their published versions (for ``as_of``)."""
    from jobs.platform.lake import Lake
    from jobs.platform.publication import NotPublished

    try:
        return Lake.published(lake_dir, spark, as_of=as_of)
    except NotPublished as e:
        raise click.ClickException(str(e)) from None


def _reader(lake_dir: Path, role: str, division: str | None, user: str | None, as_of, client: str):
    """A reader's SQL session: the one policy masks, filters and audits what the command shows."""
    from jobs.platform.config import ConfigError
    from jobs.platform.publication import NotPublished
    from jobs.serving.sql.session import AccessDenied, SqlSession

    if not lake_dir.is_dir():
        raise click.ClickException(f"lake {lake_dir} does not exist (try `make demo`)")
    try:
        return SqlSession(
            lake_dir, role=role, division=division, user=user, as_of=as_of, client=client
        )
    except (AccessDenied, NotPublished, ConfigError) as e:
        raise click.ClickException(str(e)) from None


def _lookup(session, kind: str, table: str, column: str, key: str) -> dict:
    """The one row of ``table`` whose ``column`` is ``key``, as the reader sees it (audited)."""
    from jobs.platform.policy import column_rules, is_pseudonym
    from jobs.serving.sql.guard import Denied
    from jobs.serving.sql.session import QueryFailed
    from jobs.serving.sql.views import quote

    key = key.strip().upper()
    rule = column_rules(table).get(column)
    if rule is not None and not session.grant.in_clear(rule.level) and not is_pseudonym(key):
        raise click.ClickException(
            f"role {session.role} sees {column} as a pseudonym (P…, as its SQL shows it): "
            f"look the {kind} up by that; {column} in clear needs clearance {rule.level}"
        )
    try:
        result = session.query(
            f"SELECT * FROM {table} WHERE {quote(column)} = $1", params=[key], entities=[key]
        )
    except (Denied, QueryFailed) as e:
        raise click.ClickException(str(e)) from None
    if result.table.num_rows == 0:
        where = f" in division {session.division}" if session.division else ""
        when = f" as of {session.as_of}" if session.as_of else ""
        raise click.ClickException(f"no {kind} {key} in {table}{where}{when}")
    return result.table.to_pylist()[0]


_WHO = [
    click.option("--role", required=True, help="Your role (conf/access.yaml): what you may see."),
    click.option("--division", help="Your district's division code (district roles)."),
    click.option("--user", help="Who is asking (recorded in audit.queries; default: OS user)."),
]


def _who(f):
    for option in reversed(_WHO):
        f = option(f)
    return f


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(verbose: bool) -> None:
    """govlake: ingest departments' extracts into a governed Delta lake."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@main.command()
@click.option(
    "--landing", default=DEFAULT_LANDING, show_default=True, type=click.Path(path_type=Path)
)
@click.option(
    "--lake", "lake_dir", default=DEFAULT_LAKE, show_default=True, type=click.Path(path_type=Path)
)
@click.option(
    "--from", "date_from", callback=_date, help="First business date to run (YYYY-MM-DD)."
)
@click.option("--to", "date_to", callback=_date, help="Last business date to run (YYYY-MM-DD).")
@click.option("--stage", "stage_names", multiple=True, help="Run only these stages (default: all).")
@click.option(
    "--only",
    callback=_date,
    help="Build this one date alone (an old one is published for --as-of, not as current).",
)
@click.option(
    "--wait",
    type=float,
    is_flag=False,
    flag_value=3600.0,
    default=None,
    metavar="[SECONDS]",
    help="Wait for another writer to finish (default: fail at once; alone: up to an hour).",
)
@click.option(
    "--full",
    is_flag=True,
    help="Build every person profile, not only those the date's changes can touch, and derive "
    "the findings from the whole history, not from the previous date's.",
)
def run(
    *, landing: Path, lake_dir: Path, date_from, date_to, stage_names, only, wait, full
) -> None:
    """Run every stage for each business date found in the landing zone, in order.

    Each date is published (visible to readers) when all its stages are done. The lake never
    ends behind its latest published date: --from D rebuilds D and every later date.
    """
    from jobs.pipeline.runner import RunFailed, run_pipeline
    from jobs.platform.interrupt import Interrupted
    from jobs.platform.lease import LeaseHeld

    if not landing.is_dir():
        raise click.ClickException(
            f"landing zone {landing} does not exist (a sample city: `python -m samplecity` from a checkout)"
        )
    if only and (date_from or date_to):
        raise click.UsageError("--only builds one date: give it without --from/--to")
    from jobs.serving.progress import PlainProgress, TerminalProgress

    live = sys.stderr.isatty() and sys.stdout.isatty()
    progress = TerminalProgress() if live else PlainProgress(click.echo)
    try:
        with progress if live else contextlib.nullcontext():
            run_pipeline(
                landing,
                lake_dir,
                date_from=date_from,
                date_to=date_to,
                only=only,
                stages=list(stage_names) or None,
                wait=wait,
                echo=progress.echo if live else click.echo,
                progress=progress,
                full=full,
            )
    except LeaseHeld as e:
        click.secho(f"FAILED: {e}", fg="red", err=True)
        sys.exit(75)  # EX_TEMPFAIL: try again later
    except Interrupted as e:
        click.secho(
            f"STOPPED: {e}. Readers still see the last published date; run again to go on.",
            fg="yellow",
            err=True,
        )
        sys.exit(143 if "SIGTERM" in str(e) else 130)
    except RunFailed as e:
        click.secho(f"FAILED: {e}", fg="red", err=True)
        sys.exit(1)


@main.command()
@click.option(
    "--lake", "lake_dir", default=DEFAULT_LAKE, show_default=True, type=click.Path(path_type=Path)
)
def tables(lake_dir: Path) -> None:
    """List the lake's tables with their Delta version and row count."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    from jobs.platform import publication
    from jobs.platform.lake import Lake

    lake = Lake(lake_dir, spark=None)
    try:
        pub = publication.current(lake.root)
        click.echo(f"published: {pub.business_date} (at {pub.published_at:%Y-%m-%d %H:%M:%S}Z)")
    except publication.NotPublished:
        pub = None
        click.echo("published: nothing yet")
    for t in lake.tables():
        dtab = DeltaTable(lake.path(t))
        actions = pa.table(dtab.get_add_actions(flatten=True))  # arro3 → pyarrow (PyCapsule)
        rows = pc.sum(actions["num_records"]).as_py() or 0 if actions.num_rows else 0
        seen = pub.version(t) if pub else None
        mark = "" if seen is None or seen == dtab.version() else f" (readers: v{seen})"
        click.echo(f"{t:<28} v{dtab.version():<4} {rows:>12,} rows  {lake.path(t)}{mark}")


@main.command()
@click.argument("table")
@click.option(
    "--lake", "lake_dir", default=DEFAULT_LAKE, show_default=True, type=click.Path(path_type=Path)
)
@click.option("--limit", default=20, show_default=True)
def history(*, table: str, lake_dir: Path, limit: int) -> None:
    """Show a table's Delta commit history (newest first)."""
    from jobs.platform.lake import Lake

    for h in Lake(lake_dir, spark=None).history(table, limit):
        when = dt.datetime.fromtimestamp(h.get("timestamp", 0) / 1000, dt.UTC)
        click.echo(
            f"v{h.get('version')}  {when:%Y-%m-%d %H:%M:%S}Z  {h.get('operation')}  "
            f"{h.get('operationParameters', {})}"
        )


@main.command()
@click.argument("table")
@click.option(
    "--lake", "lake_dir", default=DEFAULT_LAKE, show_default=True, type=click.Path(path_type=Path)
)
@click.option("--retention-hours", default=168, show_default=True)
@click.option("--apply", is_flag=True, help="Delete the files (default: list them only).")
def vacuum(*, table: str, lake_dir: Path, retention_hours: int, apply: bool) -> None:
    """Remove data files no longer referenced by a table's recent versions."""
    from jobs.platform.lake import Lake
    from jobs.platform.lease import LeaseHeld

    lake = Lake(lake_dir, spark=None)
    try:
        files = lake.vacuum(table, retention_hours=retention_hours, dry_run=not apply)
    except LeaseHeld as e:
        raise click.ClickException(str(e)) from None
    finally:
        lake.close()
    click.echo(f"{'removed' if apply else 'would remove'} {len(files)} file(s)")


@main.command()
@click.option(
    "--lake", "lake_dir", default=DEFAULT_LAKE, show_default=True, type=click.Path(path_type=Path)
)
@click.option("--repair", is_flag=True, help="Repair what can be repaired.")
def doctor(lake_dir: Path, repair: bool) -> None:
    """Check the lake: a stale writer lease, staging left by a crash, unpublished partial state,
    bronze slices without audit rows and other broken invariants. Exits 1 while any remains."""
    from jobs.platform.lease import LeaseHeld
    from jobs.platform.maintenance import doctor as checkup

    try:
        report = checkup(lake_dir, repair=repair)
    except LeaseHeld as e:
        raise click.ClickException(str(e)) from None
    for f in report.findings:
        mark = "repaired" if f.repaired else "PROBLEM"
        click.echo(f"{mark:<9} {f.what:<12} {f.detail}")
        if f.fix and not f.repaired:
            click.echo(f"{'':<22} fix: {f.fix}")
    if not report.findings:
        click.echo("the lake is healthy")
    sys.exit(0 if report.healthy else 1)


@main.command()
@click.option(
    "--lake", "lake_dir", default=DEFAULT_LAKE, show_default=True, type=click.Path(path_type=Path)
)
@click.option(
    "--keep-as-of-days",
    type=int,
    help="Dates published this many days before the latest stay readable (conf/maintenance.yaml).",
)
@click.option(
    "--wait", type=float, is_flag=False, flag_value=3600.0, default=None, metavar="[SECONDS]"
)
def maintain(*, lake_dir: Path, keep_as_of_days: int | None, wait) -> None:
    """Compact small files, checkpoint the Delta logs, vacuum what no kept publication needs and
    expire the logs before the oldest kept version (holding the writer lease)."""
    from jobs.platform.lease import LeaseHeld
    from jobs.platform.maintenance import maintain as upkeep
    from jobs.platform.maintenance import upkeep_lines

    try:
        done = upkeep(lake_dir, keep_days=keep_as_of_days, wait=wait)
    except LeaseHeld as e:
        raise click.ClickException(str(e)) from None
    for line in upkeep_lines(done):
        click.echo(line)


@main.command()
@click.option(
    "--lake", "lake_dir", default=DEFAULT_LAKE, show_default=True, type=click.Path(path_type=Path)
)
@click.option(
    "--out", "out_dir", default="var/report", show_default=True, type=click.Path(path_type=Path)
)
@click.option(
    "--role",
    default="city_analyst",
    show_default=True,
    help="The role the report is written for (conf/access.yaml): values masked as it sees them.",
)
@click.option("--user", help="Who writes the report (recorded in audit.queries; default: OS user).")
@click.option(
    "--unmasked-lists",
    is_flag=True,
    help="Rectification lists with identifiers in clear (for the official channel; "
    "needs a role cleared for identifiers).",
)
def report(
    *, lake_dir: Path, out_dir: Path, role: str, user: str | None, unmasked_lists: bool
) -> None:
    """Write the quality report (index.html), rectification lists and Data Docs to --out."""
    import getpass

    from jobs.platform.engine import get_spark
    from jobs.platform.policy import AccessDenied, grant
    from jobs.serving.report.report import build_report

    try:
        reader = grant(role)
    except AccessDenied as e:
        raise click.ClickException(str(e)) from None
    if unmasked_lists and not reader.in_clear("L3"):
        raise click.ClickException(
            f"--unmasked-lists shows identifiers (L3); role {role} is cleared to {reader.clearance}"
        )
    try:
        files = build_report(
            _published(lake_dir, get_spark(), None),
            out_dir,
            reader=reader,
            user=user or getpass.getuser(),
            unmasked_lists=unmasked_lists,
        )
    except LookupError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"report: {files.index.resolve()}")
    for dep, paths in sorted(files.lists.items()):
        click.echo(f"  整改清单 {dep}: {paths['csv'].name}, {paths['xlsx'].name}")


@main.command()
@click.option("--write", is_flag=True, help="Rewrite expectations/*.json from the schemas.")
def suites(write: bool) -> None:
    """List the Great Expectations suites (expectations/), or regenerate them with --write."""
    from jobs.pipeline.quality.suites import load_suite, suite_files, write_suites

    if write:
        for path in write_suites():
            click.echo(f"wrote {path}")
        return
    for name in suite_files():
        suite = load_suite(name)
        click.echo(f"{name:<28} {len(suite.expectations):>3} expectations")


@main.command()
@click.argument("kind", type=click.Choice(["person", "legal-person", "licence"]))
@click.argument("key")
@click.option(
    "--lake", "lake_dir", default=DEFAULT_LAKE, show_default=True, type=click.Path(path_type=Path)
)
@click.option("--as-of", callback=_date, help="The state on this business date (default: latest).")
@_who
def show(*, kind: str, key: str, lake_dir: Path, as_of, role, division, user) -> None:
    """Print one base-library record as your role may see it, optionally as of a past date.

    A role not cleared for identifiers looks persons up by their pseudonym (as its SQL shows
    them). Every lookup is recorded in audit.queries."""
    from jobs.serving.lookup.trace import KINDS

    table, column = KINDS[kind][:2]
    with _reader(lake_dir, role, division, user, as_of, "show") as session:
        row = _lookup(session, kind, table, column, key)
        held = session.publication.business_date
    click.echo(f"{table}" + (f" as of {as_of}" if as_of else "") + f" (published for {held})")
    for name, value in row.items():
        click.echo(f"  {name:<24} {'' if value is None else value}")


@main.command()
@click.argument("kind", type=click.Choice(["person", "enterprise"]))
@click.argument("key")
@click.option(
    "--lake", "lake_dir", default=DEFAULT_LAKE, show_default=True, type=click.Path(path_type=Path)
)
@click.option("--as-of", callback=_date, help="The file as it stood on this business date.")
@_who
def profile(*, kind: str, key: str, lake_dir: Path, as_of, role, division, user) -> None:
    """Print a person's (一人一档) or an enterprise's (一企一档) whole file as your role may
    see it. Every lookup is recorded in audit.queries."""
    from jobs.serving.lookup.show import TABLES, render_profile

    table, column = TABLES[kind]
    with _reader(lake_dir, role, division, user, as_of, "profile") as session:
        row = _lookup(session, kind, table, column, key)
        held = session.publication.business_date
    click.echo(render_profile(row, kind, as_of=as_of, held=held))


@main.command()
@click.argument("kind", type=click.Choice(["person", "legal-person", "licence"]))
@click.argument("key")
@click.argument("attribute")
@click.option(
    "--lake", "lake_dir", default=DEFAULT_LAKE, show_default=True, type=click.Path(path_type=Path)
)
@click.option("--as-of", callback=_date, help="The value as it stood on this business date.")
@_who
def trace(
    *, kind: str, key: str, attribute: str, lake_dir: Path, as_of, role, division, user
) -> None:
    """Where the value of ATTRIBUTE of one entity came from: source, file, row, date, batch,
    and what the other sources delivered, as your role may see them (audited)."""
    from jobs.serving.lookup.trace import KINDS, TraceError, render, trace_masks
    from jobs.serving.lookup.trace import trace as run_trace
    from jobs.serving.sql import audit
    from jobs.serving.sql.guard import Denied

    table, column = KINDS[kind][:2]
    given = key.strip().upper()
    with _reader(lake_dir, role, division, user, as_of, "trace") as session:
        try:
            stored = session.resolve_key(table, column, key=given)
        except Denied as e:
            raise click.ClickException(str(e)) from None
        record = dict(
            user=session.user, role=role, division=division, client="trace", as_of=as_of,
            what=f"trace {kind} {given} {attribute}", tables=[table], entities=[given],
        )  # fmt: skip
        if stored is None:
            audit.record_access(session.root, **record, status="failed", reason="not found", rows=0)
            where = f" in division {division}" if division else ""
            raise click.ClickException(f"no {kind} {given} in {table}{where}")
        try:
            result = run_trace(
                lake_dir.resolve(), kind, key=stored, attribute=attribute, as_of=as_of
            )
        except (TraceError, LookupError) as e:
            audit.record_access(session.root, **record, status="failed", reason=str(e), rows=0)
            raise click.ClickException(str(e)) from None
        audit.record_access(session.root, **record, rows=len(result.records))
        key_mask, value_mask = trace_masks(result, session.grant)
    click.echo(render(result, mask=value_mask, key_mask=key_mask), nl=False)


@main.command()
@click.argument("node")
@click.option(
    "--lake", "lake_dir", default=DEFAULT_LAKE, show_default=True, type=click.Path(path_type=Path)
)
@click.option("--upstream", "direction", flag_value="upstream", default=True, help="(default)")
@click.option("--downstream", "direction", flag_value="downstream")
@click.option("--format", "fmt", type=click.Choice(["text", "dot"]), default="text")
def lineage(*, node: str, lake_dir: Path, direction: str, fmt: str) -> None:
    """Where NODE (layer.table or layer.table.column) comes from, or what it feeds.

    Columns are traced down to the delivered fields (landing.<source>.<header>).
    """
    from jobs.serving.lookup.graph import as_dot, as_text, graph

    try:
        edges, found = graph(lake_dir.resolve(), node, direction=direction)
    except LookupError as e:
        raise click.ClickException(str(e)) from None
    click.echo(
        as_dot(edges, found) if fmt == "dot" else as_text(edges, found, direction=direction),
        nl=False,
    )


@main.command()
@click.option("--role", required=True, help="Your role (conf/access.yaml).")
@click.option("--division", help="Your district's division code (district roles).")
@click.option("--user", help="Who is asking (recorded in audit.queries; default: OS user).")
@click.option(
    "--lake", "lake_dir", default=DEFAULT_LAKE, show_default=True, type=click.Path(path_type=Path)
)
@click.option("-e", "--execute", "sql_text", help="Run this query and exit.")
@click.option(
    "-f",
    "--file",
    "sql_file",
    type=click.Path(exists=True, path_type=Path),
    help="Run a query file.",
)
@click.option(
    "--dialect",
    type=click.Choice(["duckdb", "spark", "mysql"]),
    default="duckdb",
    show_default=True,
    help="The SQL dialect you write; it is transpiled to DuckDB.",
)
@click.option("--as-of", callback=_date, help="Read the tables as they were on this business date.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option(
    "--max-rows",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Rows shown at most (no more than your role's maximum, conf/access.yaml).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds before a query stops (default and ceiling: your role's maximum).",
)
def sql(
    *, role, division, user, lake_dir, sql_text, sql_file, dialect, as_of, fmt, max_rows, timeout
):
    """Query curated tables read-only, masked by your role; every query is audited.

    Without -e or -f, opens a prompt: end a query with `;`, `\\d` lists your tables,
    `\\d layer.table` its columns, `\\q` quits.
    """
    from jobs.platform.config import ConfigError
    from jobs.platform.policy import role_limits
    from jobs.platform.publication import NotPublished
    from jobs.serving.sql.repl import interactive, run_one
    from jobs.serving.sql.session import AccessDenied, SqlSession

    if not lake_dir.is_dir():
        raise click.ClickException(f"lake {lake_dir} does not exist (try `make demo`)")
    try:
        ceiling = role_limits(role)
    except AccessDenied:
        ceiling = None  # an unknown role: SqlSession refuses it below, on record
    if ceiling and max_rows > ceiling.max_rows:
        raise click.BadParameter(
            f"{max_rows} is above your role's maximum of {ceiling.max_rows} rows",
            param_hint="--max-rows",
        )
    if ceiling and timeout is not None and timeout > ceiling.timeout_s:
        raise click.BadParameter(
            f"{timeout:g} s is above your role's maximum of {ceiling.timeout_s:g} s",
            param_hint="--timeout",
        )
    try:
        session = SqlSession(
            lake_dir,
            role=role,
            division=division,
            user=user,
            as_of=as_of,
            max_rows=max_rows,
            timeout_s=timeout,
            client="cli" if (sql_text or sql_file) else "interactive",
        )
    except (AccessDenied, NotPublished, ConfigError) as e:
        raise click.ClickException(str(e)) from None
    with session:
        if sql_text or sql_file:
            text = sql_text if sql_text else sql_file.read_text(encoding="utf-8")
            sys.exit(run_one(session, text, dialect=dialect, fmt=fmt))
        interactive(session, dialect, fmt=fmt)


from jobs.serving.server.cli import listening, serve, users  # noqa: E402

main.add_command(users)
main.add_command(serve)


@serve.command("web")
@listening(port=8800)
@click.option(
    "--proxied",
    is_flag=True,
    help="A TLS-terminating proxy (or an SSO gateway) is in front: listen in plain HTTP on a "
    "non-loopback address and trust its X-Forwarded-For (docs/workbench.md).",
)
def serve_web(*, lake_dir, host, port, users_path, tls_cert, tls_key, proxied) -> None:
    """The quality officers' workbench: findings, disputes (数据异议) and rectification (整改)."""
    import ipaddress

    import uvicorn

    from jobs.serving.auth.users import UsersFileError
    from jobs.serving.web.app import WebConfig, build_app

    if not lake_dir.is_dir():
        raise click.ClickException(f"lake {lake_dir} does not exist")
    if bool(tls_cert) != bool(tls_key):
        raise click.ClickException("--tls-cert and --tls-key go together")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not (loopback or tls_cert or proxied):
        raise click.ClickException(
            f"{host} is not a loopback address: serve over TLS (--tls-cert/--tls-key) or behind "
            "a TLS proxy (--proxied); passwords and session cookies never travel in clear"
        )
    config = WebConfig(
        lake=lake_dir, users_file=users_path, host=host, port=port, tls=bool(tls_cert) or proxied
    )
    try:
        app = build_app(config)
    except (UsersFileError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    scheme = "https" if tls_cert else "http"
    click.echo(f"govlake workbench on {scheme}://{host}:{port}/ (lake {lake_dir}; Ctrl-C stops)")
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        proxy_headers=proxied,
        forwarded_allow_ips="*" if proxied else None,
        server_header=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
