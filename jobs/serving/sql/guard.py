"""Parse, guard and rewrite an analyst's query (sqlglot).

Only one read query gets through: a SELECT (with CTEs, set operations, subqueries, UNNEST,
lambdas) over tables the role may read, calling ordinary scalar, aggregate and window
functions. Anything else is rejected with a reason: statements other than a query (DDL, DML,
COPY, ATTACH, INSTALL, LOAD, PRAGMA, SET, EXPORT, DESCRIBE...), also when nested in a CTE;
``SELECT … INTO``; several statements; table functions and file paths; system functions; the
catalogue and system tables; tables outside the role's grant.

The SQL that runs is generated from the checked tree, in DuckDB's dialect, never the text the
analyst typed. The policy's masking is not done here: each table name resolves to a masked
view (jobs/serving/sql/session.py), so no query shape can reach a raw column.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope

from jobs.serving.sql.dialects import DIALECTS, fix_traps

# sqlglot warns when it falls back to a generic Command; the guard rejects those itself.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

# Statements and clauses that are not part of a read query, wherever they appear (the first
# match names it: specific kinds before the generic DDL and DML).
_NOT_A_QUERY: tuple[tuple[type[exp.Expression], str], ...] = (
    (exp.Into, "SELECT … INTO"),
    (exp.Copy, "COPY"),
    (exp.Attach, "ATTACH"),
    (exp.Detach, "DETACH"),
    (exp.Install, "INSTALL"),
    (exp.Pragma, "PRAGMA"),
    (exp.Set, "SET"),
    (exp.Export, "EXPORT"),
    (exp.Describe, "DESCRIBE"),
    (exp.Summarize, "SUMMARIZE"),
    (exp.Use, "USE"),
    (exp.Transaction, "a transaction"),
    (exp.Commit, "COMMIT"),
    (exp.Rollback, "ROLLBACK"),
    (exp.Show, "SHOW"),
    (exp.Grant, "GRANT"),
    (exp.Revoke, "REVOKE"),
    (exp.Kill, "KILL"),
    (exp.Analyze, "ANALYZE"),
    (exp.Comment, "COMMENT"),
    (exp.LoadData, "LOAD DATA"),
    (exp.Cache, "CACHE"),
    (exp.Uncache, "UNCACHE"),
    (exp.Refresh, "REFRESH"),
    (exp.Lock, "a locking clause"),
    (exp.Declare, "DECLARE"),
    (exp.SessionParameter, "a session parameter"),
    (exp.ReadCSV, "read_csv (a table function reading files)"),
    (exp.ReadParquet, "read_parquet (a table function reading files)"),
    (exp.Drop, "DDL (DROP)"),
    (exp.Alter, "DDL (ALTER)"),
    (exp.TruncateTable, "DDL (TRUNCATE)"),
    (exp.Create, "DDL (CREATE)"),
    (exp.Insert, "DML (INSERT)"),
    (exp.Update, "DML (UPDATE)"),
    (exp.Delete, "DML (DELETE)"),
    (exp.Merge, "DML (MERGE)"),
    (exp.Returning, "DML (RETURNING)"),
    (exp.DDL, "DDL"),
    (exp.DML, "DML"),
    (exp.Command, "a command"),
)

# Functions that read the environment, the engine's settings or catalogue, files or the network,
# or change session state. DuckDB has more functions than sqlglot knows; every unknown function
# must also be one of DuckDB's own scalar, aggregate or window functions (see SqlGuard).
_SYSTEM_FUNCTION = re.compile(
    r"^(getenv|getvariable|current_setting|current_query|current_database|current_catalog"
    r"|current_schemas?|current_user|user|session_user|version|platform|nextval|currval"
    r"|setseed|txid_current|pragma_.*|duckdb_.*|pg_.*|has_.*_privilege|.*_description"
    r"|in_search_path|read_.*|glob|sniff_csv|parquet_.*|iceberg_.*|delta_.*|http.*|s3.*"
    r"|which_secret|checkpoint|force_checkpoint|query|query_table|json_execute_serialized_sql"
    r"|load_.*|install_.*|enable_.*|disable_.*|sql_auto_complete|test_.*|icu_.*|sqlite_.*"
    r"|postgres_.*|mysql_.*|excel_.*|st_read.*|get_current_.*|finalize|export_state"
    r"|format_pg_type|repeat_row|error|gl_.*)$",
    re.IGNORECASE,
)

# Functions whose result can be far larger than their input. DuckDB's memory limit does not
# count the strings and lists they build, so their sizes must be small constants: a query cannot
# make a gigabyte out of a literal (``repeat('x', 1e9)``). range/generate_series: span of values.
_AMPLIFIERS = {
    "repeat": 10_000,
    "lpad": 10_000,
    "rpad": 10_000,
    "list_resize": 10_000,
    "array_resize": 10_000,
    "range": 100_000,
    "generate_series": 100_000,
}


class Denied(PermissionError):
    """The query may not run; ``reason`` says why in an analyst's words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Checked:
    """A query that passed the guard."""

    executed_sql: str  # DuckDB SQL generated from the checked tree
    tables: tuple[str, ...]  # layer.table read
    columns: tuple[str, ...]  # layer.table.column read (top-level columns)
    dialect: str
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class SqlGuard:
    """The guard for one reader.

    Args:
        tables: every table of the lake, by ``layer.table``.
        may_read: whether the reader's role may read a table.
        schema: a readable table's top-level columns and their DuckDB types (to resolve
            stars and know dates).
        duckdb_functions: names of DuckDB's scalar, aggregate and window functions.
    """

    tables: frozenset[str]
    may_read: Callable[[str], bool]
    schema: Callable[[str], dict[str, str]]
    duckdb_functions: frozenset[str]

    def check(self, sql: str, dialect: str = "duckdb") -> Checked:
        """Parse and check one analyst query; the rewritten SQL, or Denied saying why."""
        if dialect not in DIALECTS:
            raise Denied(f"unknown dialect {dialect!r}; use one of {', '.join(DIALECTS)}")
        tree = _parse_one(sql, dialect)
        _only_a_query(tree)
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        tables = self._resolve_tables(tree, ctes)
        self._check_functions(tree)
        schemas = {t: self.schema(t) for t in tables}
        tree = fix_traps(tree, dialect, tables=schemas)
        executed = tree.sql(dialect="duckdb")
        columns = _columns_read(executed, schemas)
        return Checked(executed, tuple(sorted(tables)), columns, dialect)

    def _resolve_tables(self, tree: exp.Expression, ctes: set[str]) -> set[str]:
        read: set[str] = set()
        for source in _sources(tree):
            if isinstance(source, exp.Table):
                name = self._table_name(source, ctes)
                if name is not None:
                    read.add(name)
                    source.set("catalog", None)
                    source.set("db", exp.to_identifier(name.split(".")[0]))
                    source.set("this", exp.to_identifier(name.split(".")[1]))
            elif isinstance(source, (exp.Subquery, exp.Unnest, exp.Values, exp.Lateral)):
                continue
            else:
                raise Denied(f"{source.sql('duckdb')[:60]!r} is not a table one may read from")
        return read

    def _table_name(self, table: exp.Table, ctes: set[str]) -> str | None:
        if not isinstance(table.this, exp.Identifier):
            # FROM read_csv(...), FROM glob(...), FROM range(...): a table function
            raise Denied(f"table functions are not allowed: {table.this.sql('duckdb')[:60]}")
        name, db, catalog = table.name, table.db, table.catalog
        if any(c in name for c in "/\\*?~:") or "." in name or name.startswith("$"):
            raise Denied(f"file paths are not tables: {name!r}")
        if catalog:
            raise Denied(f"{catalog}.{db}.{name}: name tables as layer.table")
        if not db:
            if name.lower() in ctes:
                return None
            matches = [t for t in self.tables if t.split(".")[1] == name.lower()]
            readable = [t for t in matches if self.may_read(t)]
            if len(readable) == 1:
                return readable[0]
            if len(readable) > 1:
                raise Denied(f"{name} is ambiguous: write one of {', '.join(readable)}")
            if matches:
                raise Denied(f"{matches[0]} is not readable by your role")
            raise Denied(f"no table {name}; name tables as layer.table (govlake sql \\d)")
        full = f"{db}.{name}".lower()
        if full not in self.tables:
            raise Denied(f"no table {db}.{name} among the curated tables")
        if not self.may_read(full):
            raise Denied(f"{full} is not readable by your role")
        return full

    def _check_functions(self, tree: exp.Expression) -> None:
        for func in tree.find_all(exp.Func):
            if isinstance(func, exp.Anonymous):
                name = func.name.lower()
                known = name in self.duckdb_functions
            else:
                # the name DuckDB will be asked to call (sqlglot's class names differ)
                name = func.sql(dialect="duckdb").split("(")[0].strip().lower() or func.key
                known = True
            if _SYSTEM_FUNCTION.match(name) or not known:
                raise Denied(f"function {name}() is not allowed")
            if name in _AMPLIFIERS:
                _check_amplifier(func, name)


def _size_args(func: exp.Func, name: str) -> list[exp.Expression]:
    if isinstance(func, exp.Anonymous):
        args = list(func.expressions)
    else:
        args = [a for a in func.args.values() if isinstance(a, exp.Expression)]
    return args if name in ("range", "generate_series") else args[1:2]


def _literal_number(node: exp.Expression) -> float | None:
    if isinstance(node, exp.Neg):
        inner = _literal_number(node.this)
        return -inner if inner is not None else None
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return float(node.this)
        except ValueError:
            return None
    return None


def _check_amplifier(func: exp.Func, name: str) -> None:
    limit = _AMPLIFIERS[name]
    outer = func.find_ancestor(exp.Func)
    while outer is not None:
        outer_name = _amplifier_name(outer)
        if outer_name in _AMPLIFIERS:
            raise Denied(f"{name}() may not be nested in {outer_name}()")
        outer = outer.find_ancestor(exp.Func)
    values = [_literal_number(a) for a in _size_args(func, name)]
    if not values or any(v is None for v in values):
        raise Denied(
            f"{name}() takes its size as a number written in the query (at most {limit:,})"
        )
    span = (
        abs(values[1] - values[0])
        if name in ("range", "generate_series") and len(values) > 1
        else max(abs(v) for v in values)
    )
    if span > limit:
        raise Denied(f"{name}() may build at most {limit:,} characters or elements")


def _parse_one(sql: str, dialect: str) -> exp.Expression:
    if not sql or not sql.strip().strip(";").strip():
        raise Denied("empty query")
    try:
        trees = [
            t
            for t in sqlglot.parse(sql, read=dialect)
            if t is not None and not isinstance(t, exp.Semicolon)  # a trailing comment
        ]
    except ParseError as e:
        first = e.errors[0] if e.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
        raise Denied(f"could not parse the query{where}: {first.get('description', e)}") from e
    except SqlglotError as e:
        raise Denied(f"could not parse the query: {e}") from e
    if len(trees) != 1:
        raise Denied(f"one statement at a time ({len(trees)} given)")
    return trees[0]


def _only_a_query(tree: exp.Expression) -> None:
    for node in tree.walk():
        for kind, label in _NOT_A_QUERY:
            if isinstance(node, kind):
                raise Denied(f"only a read query may run; found {label}")
    if not isinstance(tree, exp.Query):
        raise Denied(f"only a read query may run; found {type(tree).__name__.upper()}")


def _sources(tree: exp.Expression) -> Iterable[exp.Expression]:
    """Every relation a FROM or JOIN reads."""
    for node in tree.find_all(exp.From, exp.Join):
        yield node.this
    for table in tree.find_all(exp.Table):  # tables outside FROM/JOIN (e.g. in PIVOT, COLUMNS)
        if not isinstance(table.parent, (exp.From, exp.Join)):
            yield table


def _columns_read(sql: str, schema: dict[str, dict[str, str]]) -> tuple[str, ...]:
    """The columns of base tables the query reads (for the audit), by sqlglot's qualifier."""
    nested: dict[str, dict[str, dict[str, str]]] = {}
    for full, cols in schema.items():
        layer, name = full.split(".")
        nested.setdefault(layer, {})[name] = cols
    try:
        tree = qualify(
            sqlglot.parse_one(sql, read="duckdb"),
            schema=nested,
            dialect="duckdb",
            validate_qualify_columns=False,
        )
        out: set[str] = set()
        for scope in traverse_scope(tree):
            for column in scope.columns:
                source = scope.sources.get(column.table)
                if isinstance(source, exp.Table):
                    out.add(f"{source.db}.{source.name}.{column.name}")
            for star in scope.expression.find_all(exp.Columns):
                for source in scope.sources.values():
                    if isinstance(source, exp.Table):
                        out.add(f"{source.db}.{source.name}.COLUMNS({star.this.sql()})")
        return tuple(sorted(out))
    except SqlglotError:
        return tuple(f"{t}.*" for t in sorted(schema))


def check_sizes(sql: str, dialect: str = "duckdb") -> None:
    """Refuse ``sql`` if it calls a function that builds large values (``repeat``, ``range``…)
    with a size that is not a small literal. For statements that do not pass the guard (the
    server's catalogue queries): a statement naming such a function must parse, and pass."""
    lowered = sql.lower()
    if not any(re.search(rf"\b{name}\s*\(", lowered) for name in _AMPLIFIERS):
        return
    try:
        trees = [t for t in sqlglot.parse(sql, read=dialect) if t is not None]
    except SqlglotError:
        raise Denied("a statement building large values must be plain SQL") from None
    for tree in trees:
        for func in tree.find_all(exp.Func):
            name = _amplifier_name(func)
            if name in _AMPLIFIERS:
                _check_amplifier(func, name)


def _amplifier_name(func: exp.Func) -> str:
    if isinstance(func, exp.Anonymous):
        return func.name.lower()
    if isinstance(func, (exp.GenerateSeries, exp.ExplodingGenerateSeries)):
        return "generate_series"
    return func.sql(dialect="duckdb").split("(")[0].strip().lower()
