"""The analyst SQL interface: read-only DuckDB over the lake's Delta tables, masked by role, audited.

    with SqlSession("var/lake", role="city_analyst") as s:
        s.arrow("SELECT region_code, count(*) FROM silver.person GROUP BY 1")   # pyarrow.Table
        s.pandas("SELECT ...", dialect="spark")                                  # pandas.DataFrame

Each query goes through the guard (jobs/serving/sql/guard.py), runs on DuckDB against masked views
(jobs/serving/sql/views.py), and is recorded in audit.queries whatever its outcome.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import gc
import getpass
import hashlib
import os
import re
import shutil
import stat
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
from deltalake import DeltaTable

from jobs.platform import publication, staging
from jobs.platform.delta import lake_tables
from jobs.platform.policy import (
    AccessDenied,
    ConfigError,
    Limits,
    access_conf,
    column_rules,
    grant,
    pseudonym_key,
)
from jobs.serving.sql import audit
from jobs.serving.sql.guard import Checked, Denied, SqlGuard
from jobs.serving.sql.views import (
    literal,
    macro_sql,
    masked_select,
    path_expr,
    pseudonymised_columns,
    quote,
)


class QueryFailed(RuntimeError):
    """The query was allowed but DuckDB could not run it (an error in the query, a timeout)."""


@dataclass(frozen=True)
class QueryResult:
    """A query's rows (Arrow) and whether they were cut at the role's row limit."""

    table: pa.Table
    truncated: bool  # more rows than max_rows existed; only the first max_rows are here
    checked: Checked
    duration_ms: float
    query_id: str


class SqlSession:
    """One reader's session over a lake.

    Args:
        lake_root: the lake directory.
        role: a role of conf/access.yaml; ``division`` for district roles.
        user: who is asking (recorded in the audit; defaults to the OS user).
        as_of: read every table as it stood on this business date (default: current versions).
        max_rows: rows returned at most; a larger result is cut with ``truncated`` set.
        timeout_s: a query running longer is interrupted.
    """

    def __init__(
        self,
        lake_root: str | Path,
        *,
        role: str,
        division: str | None = None,
        user: str | None = None,
        as_of: dt.date | None = None,
        max_rows: int | None = None,
        timeout_s: float | None = None,
        threads: int = 2,
        client: str = "python",
        pseudonym_maps: bool = False,
    ):
        self.root = str(Path(lake_root))
        self.user = user or getpass.getuser()
        self.role, self.division = role, division
        self.as_of, self.client = as_of, client
        # long-lived sessions (the server) look pseudonyms up in maps shared by the process
        self._use_maps = pseudonym_maps
        try:
            self.grant = grant(role, division)
            self.limits: Limits = self.grant.limits()
            key = pseudonym_key(self.root)
            self._key_id = hashlib.sha256(b"map\0" + key).hexdigest()
        except (AccessDenied, ConfigError) as e:  # an unknown role is an attempt too: on record
            row = self._audit_row("", "duckdb")
            row.reason = str(e)
            if isinstance(e, ConfigError):
                row.status = "failed"
            audit.record(self.root, row)
            raise
        self.max_rows, self.timeout_s = self.limits.max_rows, self.limits.timeout_s
        self.set_limits(timeout_s=timeout_s, max_rows=max_rows)
        audit.ensure_table(self.root)
        self._tables = frozenset(lake_tables(self.root))
        self._schemas: dict[str, dict[str, str]] = {}
        self._raw: dict[str, str] = {}
        self._missing: dict[str, str] = {}
        self._lock = threading.Lock()  # one query at a time
        self._interrupted = False
        try:
            self._snapshots = self._open_snapshots()
        except publication.NotPublished as e:  # on record too
            row = self._audit_row("", "duckdb")
            row.status, row.reason = "failed", str(e)
            audit.record(self.root, row)
            raise
        self._spill, self._spill_lock = _spill_dir(self.user)
        self._con = self._connect(key, threads=threads)
        functions = self._con.execute(
            "SELECT DISTINCT lower(function_name) FROM duckdb_functions() "
            "WHERE function_type IN ('scalar', 'aggregate', 'macro')"
        ).fetchall()
        self._guard = SqlGuard(
            tables=self._tables,
            may_read=self.grant.may_read,
            schema=self._view_schema,
            duckdb_functions=frozenset(f for (f,) in functions),
        )

    def _connect(self, key: bytes, *, threads: int) -> duckdb.DuckDBPyConnection:
        """The session's DuckDB: bounded, spilling only to its own folder, with the masking
        macros, reading exactly the published snapshot's files and locked against change."""
        con = duckdb.connect(
            config={
                "threads": threads,
                "memory_limit": self.limits.memory_limit,
                "access_mode": "automatic",
                "temp_directory": str(self._spill),
                "max_temp_directory_size": access_conf().spill.max_size,
            }
        )
        for stmt in macro_sql(key):
            con.execute(stmt)
        # DuckDB reads the Parquet files of plain tables itself (several times faster than
        # through pyarrow), and may read exactly those files and no other.
        files = sorted(f for snap in self._snapshots.values() if snap for f in snap.files)
        con.execute("SET allowed_paths = $files", {"files": files})
        con.execute("SET allowed_directories = $dirs", {"dirs": [str(self._spill)]})
        for stmt in (
            "SET enable_external_access = false",
            "SET python_enable_replacements = false",
            "SET autoinstall_known_extensions = false",
            "SET autoload_known_extensions = false",
            "SET lock_configuration = true",
        ):
            con.execute(stmt)
        return con

    def set_limits(self, *, timeout_s: float | None = None, max_rows: int | None = None) -> None:
        """Lower this session's limits (a client's choice). A value above the role's maximum,
        or 0, means the role's maximum: a client can lower its limits, never raise them."""
        if timeout_s is not None:
            ceiling = self.limits.timeout_s
            self.timeout_s = ceiling if timeout_s <= 0 else min(float(timeout_s), ceiling)
        if max_rows is not None:
            ceiling = self.limits.max_rows
            self.max_rows = ceiling if max_rows <= 0 else min(int(max_rows), ceiling)

    # -- what the reader may see ------------------------------------------------------------

    def tables(self) -> list[str]:
        """The tables this reader may query."""
        return sorted(t for t in self._tables if self.grant.may_read(t))

    def columns(self, table: str) -> list[tuple[str, str]]:
        """(column, DuckDB type) of a readable table, as this reader's view shows it."""
        if not self.grant.may_read(table) or table not in self._tables:
            raise Denied(f"{table} is not readable by your role")
        return list(self._view_schema(table).items())

    def describe(self, table: str) -> list[tuple[str, str, str]]:
        """(column, type, how it is shown) for a readable table; nested masks are listed too."""
        if not self.grant.may_read(table) or table not in self._tables:
            raise Denied(f"{table} is not readable by your role")
        shown = {
            path: ("clear" if self.grant.in_clear(r.level) else f"masked ({r.mask})")
            if not r.per_source
            else "by source"
            for path, r in column_rules(table).items()
        }
        rows = []
        for name, kind in self._view_schema(table).items():
            inner = sorted(f"{p}: {m}" for p, m in shown.items() if p.startswith(name + "."))
            how = shown.get(name, "clear")
            if inner:
                how = "; ".join(x for x in inner if "masked" in x or "source" in x) or "clear"
            rows.append((name, kind, how))
        return rows

    # -- queries ------------------------------------------------------------------------------

    def query(
        self,
        sql: str,
        dialect: str = "duckdb",
        *,
        params: list | tuple | None = None,
        entities: list[str] | None = None,
    ) -> QueryResult:
        """Check, run and audit one query. Raises Denied or QueryFailed (both audited).

        ``params`` are bound to ``$1``, ``$2``… (the server's prepared statements);
        ``entities`` names the persons or enterprises a lookup is about, for the audit.
        """
        row = self._audit_row(sql, dialect)
        row.entities = list(entities) if entities else None
        started = time.perf_counter()
        try:
            checked = self._guard.check(sql, dialect)
        except Denied as e:
            row.reason = e.reason
            row.duration_ms = (time.perf_counter() - started) * 1000
            audit.record(self.root, row)
            raise
        except LookupError as e:  # a table with no version for the session's as-of date
            row.status, row.reason = "failed", str(e)
            row.duration_ms = (time.perf_counter() - started) * 1000
            audit.record(self.root, row)
            raise QueryFailed(row.reason) from None
        row.executed_sql = checked.executed_sql
        row.tables_read, row.columns_read = list(checked.tables), list(checked.columns)
        try:
            table, truncated = self._run(checked.executed_sql, params)
        except (duckdb.Error, Refused) as e:
            row.status = "failed"
            row.reason = _first_line(e)
            row.duration_ms = (time.perf_counter() - started) * 1000
            audit.record(self.root, row)
            raise QueryFailed(row.reason) from None
        row.status, row.rows_returned, row.truncated = "allowed", table.num_rows, truncated
        row.duration_ms = (time.perf_counter() - started) * 1000
        audit.record(self.root, row)
        return QueryResult(table, truncated, checked, row.duration_ms, row.query_id)

    def result_schema(
        self, sql: str, dialect: str = "duckdb", *, params: list | tuple | None = None
    ) -> pa.Schema:
        """The columns a query would return, without running it (a client's Describe)."""
        checked = self._guard.check(sql, dialect)
        bound = list(params) if params is not None else None
        if bound is None:
            count = len(set(re.findall(r"\$(\d+)", checked.executed_sql)))
            bound = [None] * count
        with self._lock:
            try:
                rel = self._con.sql(f"SELECT * FROM ({checked.executed_sql}) LIMIT 0", params=bound)
                return rel.to_arrow_table().schema
            except duckdb.Error as e:
                raise QueryFailed(_first_line(e)) from None

    def resolve_key(self, table: str, column: str, *, key: str) -> str | None:
        """The stored value of ``column`` (an identifier) that ``key`` names for this reader:
        the value itself when the reader sees it in clear, its pseudonym otherwise. None when
        no row of ``table`` the reader may read has it (outside a district reader's division
        too). For lookups (show, profile, trace); the caller must not show the result."""
        if not self.grant.may_read(table) or table not in self._tables:
            raise Denied(f"{table} is not readable by your role")
        self._view_schema(table)
        rule = column_rules(table).get(column)
        hidden = rule is not None and not self.grant.in_clear(rule.level)
        if hidden and rule.mask != "pseudonym":
            raise Denied(f"{table}.{column} is not shown to your role")
        match = f"gl_mask_pseudonym({quote(column)})" if hidden else quote(column)
        sql = f"SELECT {quote(column)} FROM {self._raw[table]} WHERE {match} = $1"
        division = self.grant.division_column(table)
        if division is not None:
            sql += f" AND starts_with({path_expr(division)}, {literal(self.grant.division)})"
        with self._lock:
            found = self._con.execute(sql + " LIMIT 1", [key]).fetchone()
        return found[0] if found else None

    def interrupt(self) -> None:
        """Stop the running query (from any thread); it fails with a 'cancelled' reason."""
        self._interrupted = True
        self._con.interrupt()

    def arrow(self, sql: str, dialect: str = "duckdb") -> pa.Table:
        """The query's rows as an Arrow table."""
        return self.query(sql, dialect).table

    def pandas(self, sql: str, dialect: str = "duckdb"):
        """The query's rows as a pandas DataFrame."""
        return self.query(sql, dialect).table.to_pandas()

    def close(self) -> None:
        """Close the connection and remove the session's spill folder."""
        self._con.close()
        shutil.rmtree(self._spill, ignore_errors=True)
        with contextlib.suppress(OSError):  # closed once
            os.close(self._spill_lock)
        # pyarrow scanners of registered datasets must end before the interpreter does
        # (delta-io/delta-rs#2184): drop them now
        self._snapshots.clear()
        gc.collect()

    def __enter__(self) -> SqlSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

    def _run(self, sql: str, params: list | tuple | None = None) -> tuple[pa.Table, bool]:
        with self._lock, _Slot(self._spill.parent, self.user, self.limits.max_concurrent):
            self._interrupted = False
            stop = Watchdog(self._con, self.timeout_s, self.limits.memory_bytes)
            try:
                rel = self._con.sql(sql, params=list(params) if params else None)
                table = read_bounded(
                    self._con,
                    rel,
                    max_rows=self.max_rows,
                    max_bytes=self.limits.max_result_bytes,
                    too_large=f"the result is larger than your role's "
                    f"{self.limits.max_result_mb} MB; select fewer rows or columns",
                )
            except duckdb.InterruptException:
                if self._interrupted:
                    raise Refused("the query was cancelled") from None
                raise Refused(stop.reason()) from None
            finally:
                stop.cancel()
        if table.num_rows > self.max_rows:
            return table.slice(0, self.max_rows), True
        return table, False

    def _open_snapshots(self) -> dict[str, _Snapshot | None]:
        """The version of every readable table this session reads (None: none for the date):
        the published state (jobs/platform/publication.py), for ``as_of`` when given. Log tables
        (audit, lineage runs) are read whole, or as they stood at the end of ``as_of``."""
        pub = self.publication = publication.current(Path(self.root), self.as_of)
        snapshots: dict[str, _Snapshot | None] = {}
        for table in sorted(t for t in self._tables if self.grant.may_read(t)):
            dtab = DeltaTable(f"{self.root}/{table.replace('.', '/')}")
            try:
                if table not in publication.UNPINNED:
                    version = pub.version(table)
                    if version is None:
                        raise LookupError(f"{table} is not published for {pub.business_date}")
                    dtab.load_as_version(version)
                elif self.as_of is not None:
                    _load_end_of_day(dtab, table, self.as_of)
            except LookupError as e:
                snapshots[table] = None
                self._missing[table] = str(e)
                continue
            snapshots[table] = _Snapshot.of(dtab)
        return snapshots

    def _view_schema(self, table: str) -> dict[str, str]:
        """Create the masked view of ``table`` on first use; its columns and DuckDB types."""
        if table not in self._schemas:
            snapshot = self._snapshots.get(table)
            if snapshot is None:
                raise LookupError(self._missing.get(table, f"{table} is not readable"))
            if snapshot.files:
                files = ", ".join(literal(f) for f in snapshot.files)
                raw = f"read_parquet([{files}], union_by_name = true)"
            else:
                raw = f"gl_raw_{uuid.uuid4().hex}"
                self._con.register(raw, snapshot.table.to_pyarrow_dataset())
            self._raw[table] = raw
            layer, name = table.split(".")
            self._con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(layer)}")
            maps = {}
            if self._use_maps:
                for column in pseudonymised_columns(table, snapshot.schema, grant=self.grant):
                    maps[column] = self._pseudonym_map(snapshot, raw, column)
            view = masked_select(table, snapshot.schema, raw=raw, grant=self.grant, maps=maps)
            self._con.execute(f"CREATE VIEW {quote(layer)}.{quote(name)} AS {view}")
            described = self._con.execute(f"SELECT * FROM {quote(layer)}.{quote(name)} LIMIT 0")
            self._schemas[table] = {d[0]: str(d[1]) for d in described.description}
        return self._schemas[table]

    def _pseudonym_map(self, snapshot: _Snapshot, raw: str, column: str) -> str:
        """Register the map of ``column``'s values to their pseudonyms (made once per process
        and table version) and return its name."""
        cache_key = (snapshot.identity, column, self._key_id)
        with _MAPS_LOCK:
            mapping = _MAPS.get(cache_key)
            if mapping is None:
                mapping = self._con.sql(
                    f"SELECT DISTINCT {quote(column)} AS gl_raw, "
                    f"gl_mask_pseudonym({quote(column)}) AS gl_p FROM {raw} "
                    f"WHERE {quote(column)} IS NOT NULL"
                ).to_arrow_table()
                _MAPS[cache_key] = mapping
                while len(_MAPS) > _MAPS_KEPT:  # the oldest versions go first
                    _MAPS.pop(next(iter(_MAPS)))
        name = f"gl_map_{uuid.uuid4().hex}"
        self._con.register(name, mapping)
        return name

    def _audit_row(self, sql: str, dialect: str) -> audit.AuditRow:
        return audit.AuditRow(
            query_id=uuid.uuid4().hex,
            user_name=self.user,
            role=self.role,
            division=self.division,
            client=self.client,
            submitted_at=dt.datetime.now(dt.UTC),
            dialect=dialect,
            as_of=self.as_of,
            submitted_sql=sql,
        )


# pseudonym maps of the process: (table version, column, key) -> (gl_raw, gl_p)
_MAPS: dict[tuple, pa.Table] = {}
_MAPS_LOCK = threading.Lock()
_MAPS_KEPT = 32


class Refused(RuntimeError):
    """A query stopped by the session: over a limit, or cancelled."""


def _rss() -> int:
    """This process's resident memory, in bytes."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def read_bounded(con, rel, *, max_rows: int | None, max_bytes: int, too_large: str) -> pa.Table:
    """The rows of ``rel`` read in batches: at most ``max_rows`` + 1 (so a caller can tell it
    was cut), and refused with ``too_large`` once the batches exceed ``max_bytes``, before the
    rest is built. The result not read to its end is stopped."""
    reader = rel.to_arrow_reader(8192)
    batches, rows, size = [], 0, 0
    for batch in reader:
        batches.append(batch)
        rows += batch.num_rows
        size += batch.nbytes
        if size > max_bytes:
            reader.close()
            con.abort()
            raise Refused(too_large)
        if max_rows is not None and rows > max_rows:
            break
    table = pa.Table.from_batches(batches, schema=reader.schema)
    reader.close()
    con.abort()  # stop a result not read to its end
    return table


class Watchdog:
    """Interrupts a query that runs too long, or makes the process grow by more than the
    role's memory (DuckDB's own limit does not count what it builds outside its buffers, such as
    long strings and the result handed to Python)."""

    def __init__(self, con, timeout_s: float, memory_bytes: int):
        self._con, self._timeout = con, timeout_s
        self._budget = memory_bytes
        self._start_rss = _rss()
        self._why: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        deadline = time.monotonic() + self._timeout
        while not self._done.wait(0.05):
            if time.monotonic() > deadline:
                self._why = f"the query ran longer than {self._timeout:g} s and was stopped"
            elif _rss() - self._start_rss > self._budget:
                self._why = (
                    f"the query needed more than your role's {self._budget // 10**6} MB "
                    "of memory and was stopped"
                )
            if self._why:
                self._con.interrupt()
                return

    def fired(self) -> bool:
        """Whether the watchdog, not the client, stopped the query."""
        return self._why is not None

    def reason(self) -> str:
        """Why the query was stopped."""
        return self._why or "the query was interrupted"

    def cancel(self) -> None:
        """Stop watching (the query ended)."""
        self._done.set()
        self._thread.join()


_SESSION_FOLDER = re.compile(r"^.+-[0-9a-f]{32}$")


def _spill_dir(user: str) -> tuple[Path, int]:
    """A private folder for one session's spill, under the configured spill directory (never
    the working directory): made owner-only, held by this process (jobs/platform/staging.py) and removed
    when the session closes. Folders of sessions whose process died are removed here."""
    base = os.environ.get("GOVLAKE_SQL_SPILL") or access_conf().spill.directory
    root = Path(base) if base else Path(tempfile.gettempdir()) / f"govlake-sql-{os.getuid()}"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = root.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise ConfigError(f"spill directory {root} must be a folder of this user, mode 700")
    for folder in root.iterdir():
        if _SESSION_FOLDER.match(folder.name) and folder.is_dir() and staging.is_abandoned(folder):
            shutil.rmtree(folder, ignore_errors=True)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", user)[:40]
    path = root / f"{safe}-{uuid.uuid4().hex}"
    path.mkdir(mode=0o700)
    return path, staging.hold(path)


class _Slot:
    """One of a user's ``limit`` query slots, held with flock across every process of the
    machine (CLI, notebooks and the server alike); none free: the query is refused."""

    def __init__(self, root: Path, user: str, limit: int):
        self._root, self._user, self._limit = root / "slots", user, limit
        self._fd: int | None = None

    def __enter__(self) -> _Slot:
        self._root.mkdir(exist_ok=True, mode=0o700)
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", self._user)[:40]
        for n in range(self._limit):
            fd = os.open(self._root / f"{safe}.{n}", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._fd = fd
            return self
        raise Refused(
            f"{self._user} already runs {self._limit} queries at once (the role's maximum)"
        )

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)


@dataclass(frozen=True)
class _Snapshot:
    """One version of a table: its schema, and its Parquet files when DuckDB may read them."""

    table: DeltaTable
    schema: pa.Schema
    files: tuple[str, ...]  # empty: read through pyarrow (delta-rs) instead

    @classmethod
    def of(cls, dtab: DeltaTable) -> _Snapshot:
        schema = pa.schema(dtab.schema())
        protocol = dtab.protocol()
        plain = (
            protocol.min_reader_version == 1  # no column mapping, deletion vectors or features
            and not dtab.metadata().partition_columns  # partition values live in the log
        )
        files = tuple(u.removeprefix("file://") for u in dtab.file_uris()) if plain else ()
        if any("://" in f for f in files) or len(files) > 1000:
            files = ()  # object stores and tables of many small files (audit.queries): pyarrow
        return cls(dtab, schema, files)

    @property
    def identity(self) -> tuple:
        """Which table version this is (the same files, the same data)."""
        return (self.table.table_uri, self.table.version())


def _load_end_of_day(dtab: DeltaTable, table: str, as_of: dt.date) -> None:
    """A log table as it stood at the end of a business date (UTC).

    delta-rs loads the oldest version its log holds for a time before every commit: the
    table's first version when the date is before the table existed, or the start of a log
    that maintenance expired (docs/lake.md). Either is a later state than the one asked for,
    so a version committed after the end of the date is not read."""
    from jobs.platform.delta import commit_time, local_path

    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), dt.UTC)
    try:
        dtab.load_as_version(end)
    except Exception as e:  # delta-rs raises a generic error when nothing is that old
        raise LookupError(f"{table} has no version on or before {as_of}") from e
    path = local_path(dtab.table_uri)
    if path is None:  # object storage: the log is not read here
        return
    committed = commit_time(path, dtab.version())
    if committed is None or committed >= end:
        raise LookupError(
            f"{table} has no version on or before {as_of} (its log starts after that date)"
        )


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:500]
