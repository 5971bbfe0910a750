"""The analyst SQL interface: read-only DuckDB over the lake's Delta tables, masked by role, audited.

    with SqlSession("var/lake", role="city_analyst") as s:
        s.arrow("SELECT region_code, count(*) FROM silver.person GROUP BY 1")   # pyarrow.Table
        s.pandas("SELECT ...", dialect="spark")                                  # pandas.DataFrame

Each query goes through the guard (jobs/sql/guard.py), runs on DuckDB against masked views
(jobs/sql/views.py), and is recorded in audit.queries whatever its outcome.
"""

from __future__ import annotations

import datetime as dt
import gc
import getpass
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
from deltalake import DeltaTable

from jobs import publication
from jobs.delta import lake_tables
from jobs.sql import audit
from jobs.sql.guard import Checked, Denied, SqlGuard
from jobs.sql.policy import AccessDenied, column_rules, grant
from jobs.sql.views import literal, macro_sql, masked_select, quote


class QueryFailed(RuntimeError):
    """The query was allowed but DuckDB could not run it (an error in the query, a timeout)."""


@dataclass(frozen=True)
class QueryResult:
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
        max_rows: int = 10_000,
        timeout_s: float = 120.0,
        memory_limit: str = "4GB",
        threads: int = 2,
        client: str = "python",
    ):
        self.root = str(Path(lake_root))
        self.user = user or getpass.getuser()
        self.role, self.division = role, division
        self.as_of, self.max_rows, self.timeout_s, self.client = as_of, max_rows, timeout_s, client
        try:
            self.grant = grant(role, division)
        except AccessDenied as e:  # an unknown role is an attempt too: on record
            row = self._audit_row("", "duckdb")
            row.reason = str(e)
            audit.record(self.root, row)
            raise
        audit.ensure_table(self.root)
        self._tables = frozenset(lake_tables(self.root))
        self._schemas: dict[str, dict[str, str]] = {}
        self._missing: dict[str, str] = {}
        try:
            self._snapshots = self._open_snapshots()
        except publication.NotPublished as e:  # on record too
            row = self._audit_row("", "duckdb")
            row.status, row.reason = "failed", str(e)
            audit.record(self.root, row)
            raise
        self._con = duckdb.connect(
            config={"threads": threads, "memory_limit": memory_limit, "access_mode": "automatic"}
        )
        for stmt in macro_sql():
            self._con.execute(stmt)
        functions = self._con.execute(
            "SELECT DISTINCT lower(function_name) FROM duckdb_functions() "
            "WHERE function_type IN ('scalar', 'aggregate', 'macro')"
        ).fetchall()
        # DuckDB reads the Parquet files of plain tables itself (several times faster than
        # through pyarrow), and may read exactly those files and no other.
        files = sorted(f for snap in self._snapshots.values() if snap for f in snap.files)
        self._con.execute("SET allowed_paths = $files", {"files": files})
        for stmt in (
            "SET enable_external_access = false",
            "SET python_enable_replacements = false",
            "SET autoinstall_known_extensions = false",
            "SET autoload_known_extensions = false",
            "SET lock_configuration = true",
        ):
            self._con.execute(stmt)
        self._guard = SqlGuard(
            tables=self._tables,
            may_read=self.grant.may_read,
            schema=self._view_schema,
            duckdb_functions=frozenset(f for (f,) in functions),
        )

    # -- what the reader may see ------------------------------------------------------------

    def tables(self) -> list[str]:
        """The tables this reader may query."""
        return sorted(t for t in self._tables if self.grant.may_read(t))

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

    def query(self, sql: str, dialect: str = "duckdb") -> QueryResult:
        """Check, run and audit one query. Raises Denied or QueryFailed (both audited)."""
        row = self._audit_row(sql, dialect)
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
            table, truncated = self._run(checked.executed_sql)
        except duckdb.Error as e:
            row.status = "failed"
            row.reason = _first_line(e)
            row.duration_ms = (time.perf_counter() - started) * 1000
            audit.record(self.root, row)
            raise QueryFailed(row.reason) from None
        row.status, row.rows_returned, row.truncated = "allowed", table.num_rows, truncated
        row.duration_ms = (time.perf_counter() - started) * 1000
        audit.record(self.root, row)
        return QueryResult(table, truncated, checked, row.duration_ms, row.query_id)

    def arrow(self, sql: str, dialect: str = "duckdb") -> pa.Table:
        return self.query(sql, dialect).table

    def pandas(self, sql: str, dialect: str = "duckdb"):
        return self.query(sql, dialect).table.to_pandas()

    def close(self) -> None:
        self._con.close()
        # pyarrow scanners of registered datasets must end before the interpreter does
        # (delta-io/delta-rs#2184): drop them now
        self._snapshots.clear()
        gc.collect()

    def __enter__(self) -> SqlSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

    def _run(self, sql: str) -> tuple[pa.Table, bool]:
        timer = threading.Timer(self.timeout_s, self._con.interrupt)
        timer.start()
        try:
            reader = self._con.sql(sql).to_arrow_reader(8192)
            batches, rows = [], 0
            for batch in reader:
                batches.append(batch)
                rows += batch.num_rows
                if rows > self.max_rows:
                    break
            table = pa.Table.from_batches(batches, schema=reader.schema)
            reader.close()
            self._con.abort()  # stop a result not read to its end
        except duckdb.InterruptException:
            raise duckdb.InterruptException(
                f"the query ran longer than {self.timeout_s:g} s and was stopped"
            ) from None
        finally:
            timer.cancel()
        if table.num_rows > self.max_rows:
            return table.slice(0, self.max_rows), True
        return table, False

    def _open_snapshots(self) -> dict[str, _Snapshot | None]:
        """The version of every readable table this session reads (None: none for the date):
        the published state (jobs/publication.py), for ``as_of`` when given. Log tables
        (audit, lineage runs) are read whole, or as they stood at the end of ``as_of``."""
        pub = publication.current(Path(self.root), self.as_of)
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
            layer, name = table.split(".")
            self._con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(layer)}")
            view = masked_select(table, snapshot.schema, raw, self.grant)
            self._con.execute(f"CREATE VIEW {quote(layer)}.{quote(name)} AS {view}")
            described = self._con.execute(f"SELECT * FROM {quote(layer)}.{quote(name)} LIMIT 0")
            self._schemas[table] = {d[0]: str(d[1]) for d in described.description}
        return self._schemas[table]

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


def _load_end_of_day(dtab: DeltaTable, table: str, as_of: dt.date) -> None:
    """A log table as it stood at the end of a business date (UTC)."""
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), dt.UTC)
    try:
        dtab.load_as_version(end)
    except Exception as e:  # delta-rs raises a generic error when nothing is that old
        raise LookupError(f"{table} has no version on or before {as_of}") from e


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:500]
