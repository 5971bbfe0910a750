"""The catalogue a SQL-server session shows: pg_catalog and information_schema of the user's tables.

BI tools read the catalogue on connect (psql ``\\dt``, JDBC DatabaseMetaData, SQLAlchemy's
inspector). Each session gets an in-memory DuckDB holding one EMPTY table per table the user may
read, with the columns of the user's masked view, so DuckDB's own pg_catalog and
information_schema list exactly those tables and columns and nothing else. Macros add the
PostgreSQL functions clients call and DuckDB lacks. The connection reads no file (external
access off, configuration locked), has a small memory limit and the role's timeout.

A statement goes to the catalogue only when it names no lake table (``route``); anything that
names ``layer.table`` goes through the guard (SqlSession.query).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable

import duckdb
import pyarrow as pa
from sqlglot.errors import TokenError
from sqlglot.tokens import Tokenizer, TokenType

from jobs.platform.policy import Limits
from jobs.serving.sql.guard import Denied, check_sizes
from jobs.serving.sql.session import Refused, Watchdog, read_bounded

log = logging.getLogger(__name__)

LAYERS = frozenset(
    {"bronze", "quarantine", "silver", "gold", "quality", "lineage", "catalog", "audit"}
)
SERVER_VERSION = "16.0 (govlake)"
VERSION_TEXT = f"PostgreSQL {SERVER_VERSION} on x86_64-pc-linux-gnu, govlake lake SQL server"

# PostgreSQL functions DuckDB lacks (or answers unlike PostgreSQL), as macros of the session.
_MACROS = {
    "version": "() AS " + repr(VERSION_TEXT),
    "pg_get_userbyid": "(role_oid) AS 'govlake'",
    "pg_encoding_to_char": "(enc) AS 'UTF8'",
    "pg_backend_pid": "() AS 0",
    "pg_get_indexdef": "(index_oid, col := 0, pretty := false) AS NULL::VARCHAR",
    "pg_get_partkeydef": "(table_oid) AS NULL::VARCHAR",
    "pg_get_statisticsobjdef_columns": "(oid) AS NULL::VARCHAR",
    "pg_relation_is_publishable": "(table_oid) AS false",
    "pg_get_function_identity_arguments": "(fn_oid) AS ''",
    "pg_get_serial_sequence": "(tab, col) AS NULL::VARCHAR",
    "pg_total_relation_size": "(rel) AS 0::BIGINT",
    "pg_relation_size": "(rel) AS 0::BIGINT",
    "txid_current": "() AS 1::BIGINT",
    "pg_is_in_recovery": "() AS false",
    # PostgreSQL's names for the types, by PostgreSQL OID (gl_pg_attribute maps DuckDB's ids)
    "format_type": "(gl_oid, gl_typemod) AS CASE gl_oid "
    "WHEN 16 THEN 'boolean' WHEN 21 THEN 'smallint' WHEN 23 THEN 'integer' "
    "WHEN 20 THEN 'bigint' WHEN 700 THEN 'real' WHEN 701 THEN 'double precision' "
    "WHEN 1700 THEN 'numeric' WHEN 1082 THEN 'date' WHEN 1083 THEN 'time without time zone' "
    "WHEN 1114 THEN 'timestamp without time zone' WHEN 1184 THEN 'timestamp with time zone' "
    "WHEN 1266 THEN 'time with time zone' WHEN 1043 THEN 'character varying' "
    "WHEN 25 THEN 'text' WHEN 17 THEN 'bytea' WHEN 1186 THEN 'interval' WHEN 114 THEN 'json' "
    "WHEN 2950 THEN 'uuid' "
    "ELSE (SELECT min(gl_t.typname) FROM pg_catalog.pg_type gl_t WHERE gl_t.oid = gl_oid) END",
    "to_regtype": "(name) AS (SELECT min(oid) FROM pg_catalog.pg_type WHERE typname = name)",
    "to_regclass": "(name) AS (SELECT min(oid) FROM pg_catalog.pg_class WHERE relname = name)",
    # only in identity and collation details, which the lake's tables never have
    "json_build_object": ", ".join(
        "(" + ", ".join(f"a{i}" for i in range(n)) + ") AS NULL::VARCHAR" for n in range(2, 17, 2)
    ),
    "array_upper": "(arr, dim) AS len(arr)",
    "array_lower": "(arr, dim) AS CASE WHEN len(arr) > 0 THEN 1 END",
    "quote_ident": "(name) AS '\"' || replace(name, '\"', '\"\"') || '\"'",
    "pg_get_keywords": "() AS TABLE SELECT keyword_name AS word, 'U' AS catcode, "
    "keyword_category AS catdesc FROM duckdb_keywords()",
    "pg_get_expr": "(expr, rel) AS NULL::VARCHAR, (expr, rel, pretty) AS NULL::VARCHAR",
}
# functions DuckDB itself has in its pg_catalog schema (and which we do not replace)
_DUCKDB_PG_FUNCTIONS = frozenset(
    name
    for (name,) in duckdb.connect()
    .execute(
        "SELECT DISTINCT function_name FROM duckdb_functions() WHERE schema_name = 'pg_catalog'"
    )
    .fetchall()
    if name not in _MACROS
)


def _function(m: re.Match) -> str:
    name = m.group(1)
    return m.group(0) if name.lower() in _DUCKDB_PG_FUNCTIONS else f"{name}("


# DuckDB's pg_attribute gives its own type ids (LogicalTypeId), while its pg_type has
# PostgreSQL's OIDs: map them, so that joins on atttypid and format_type agree.
_DUCKDB_TYPE_OIDS = {
    10: 16,
    11: 21,
    12: 21,
    13: 23,
    14: 20,
    15: 1082,
    16: 1083,
    17: 1114,
    18: 1114,
    19: 1114,
    20: 1114,
    21: 1700,
    22: 700,
    23: 701,
    24: 1043,
    25: 1043,
    26: 17,
    27: 1186,
    28: 21,
    29: 23,
    30: 20,
    31: 1700,
    32: 1184,
    34: 1266,
    50: 1700,
    54: 2950,
    100: 114,
    101: 114,
    102: 114,
}
_PG_OID = (
    "CASE atttypid "
    + " ".join(f"WHEN {k} THEN {v}" for k, v in _DUCKDB_TYPE_OIDS.items())
    + " ELSE 25 END"
)


# Catalogue views DuckDB has with fewer columns than PostgreSQL: temporary views (not listed in
# pg_class) with the missing columns added, used in their place.
_OVERRIDES = {
    "pg_class": "false AS relforcerowsecurity",
    "pg_attribute": "REPLACE (" + _PG_OID + " AS atttypid)",
    "pg_namespace": "",
    "pg_type": "",
    "pg_index": "",
    "pg_constraint": "",
    "pg_description": "",
    "pg_attrdef": "",
    "pg_collation": "NULL::BIGINT AS collnamespace, NULL::VARCHAR AS collprovider",
    "pg_am": "",
    "pg_database": "",
    "pg_depend": "",
    "pg_enum": "",
    "pg_indexes": "",
    "pg_proc": "",
    "pg_sequence": "",
    "pg_sequences": "",
    "pg_settings": "",
    "pg_tables": "",
    "pg_tablespace": "",
    "pg_views": "",
    "pg_roles": None,
    "pg_user": None,
}

# Catalogue tables DuckDB lacks: empty temporary tables with the columns clients select.
_EMPTY = {
    "pg_policy": "oid BIGINT, polname VARCHAR, polrelid BIGINT, polcmd VARCHAR, "
    "polpermissive BOOLEAN, polroles BIGINT[], polqual VARCHAR, polwithcheck VARCHAR",
    "pg_statistic_ext": "oid BIGINT, stxrelid BIGINT, stxname VARCHAR, stxnamespace BIGINT, "
    "stxowner BIGINT, stxstattarget INTEGER, stxkeys INTEGER[], stxkind VARCHAR[], stxexprs VARCHAR",
    "pg_publication": "oid BIGINT, pubname VARCHAR, pubowner BIGINT, puballtables BOOLEAN, "
    "pubinsert BOOLEAN, pubupdate BOOLEAN, pubdelete BOOLEAN, pubtruncate BOOLEAN, pubviaroot BOOLEAN",
    "pg_publication_rel": "oid BIGINT, prpubid BIGINT, prrelid BIGINT, prqual VARCHAR, prattrs INTEGER[]",
    "pg_publication_namespace": "oid BIGINT, pnpubid BIGINT, pnnspid BIGINT",
    "pg_inherits": "inhrelid BIGINT, inhparent BIGINT, inhseqno INTEGER, inhdetachpending BOOLEAN",
    "pg_trigger": "oid BIGINT, tgrelid BIGINT, tgparentid BIGINT, tgname VARCHAR, tgfoid BIGINT, "
    "tgtype INTEGER, tgenabled VARCHAR, tgisinternal BOOLEAN, tgconstraint BIGINT",
    "pg_rewrite": "oid BIGINT, rulename VARCHAR, ev_class BIGINT, ev_type VARCHAR, ev_enabled VARCHAR",
    "pg_foreign_table": "ftrelid BIGINT, ftserver BIGINT, ftoptions VARCHAR[]",
    "pg_partitioned_table": "partrelid BIGINT, partstrat VARCHAR, partnatts INTEGER",
    "pg_extension": "oid BIGINT, extname VARCHAR, extowner BIGINT, extnamespace BIGINT, "
    "extrelocatable BOOLEAN, extversion VARCHAR",
    "pg_event_trigger": "oid BIGINT, evtname VARCHAR, evtevent VARCHAR, evtenabled VARCHAR",
    "pg_matviews": "schemaname VARCHAR, matviewname VARCHAR, matviewowner VARCHAR, definition VARCHAR",
    "pg_stat_activity": "datid BIGINT, datname VARCHAR, pid INTEGER, usename VARCHAR, "
    "application_name VARCHAR, state VARCHAR, query VARCHAR",
    "pg_auth_members": "roleid BIGINT, member BIGINT, grantor BIGINT, admin_option BOOLEAN",
    "pg_shdescription": "objoid BIGINT, classoid BIGINT, description VARCHAR",
    "pg_opclass": "oid BIGINT, opcmethod BIGINT, opcname VARCHAR, opcnamespace BIGINT, "
    "opcdefault BOOLEAN",
}
_REPLACED = [*_OVERRIDES, *_EMPTY]

# information_schema views, without the temporary objects above (catalogue "temp")
_INFORMATION_SCHEMA = {
    "tables": "table_catalog",
    "columns": "table_catalog",
    "views": "table_catalog",
    "schemata": "catalog_name",
}

_REWRITES = [
    (
        re.compile(
            rf"(?<![.\w'\"])information_schema\s*\.\s*({'|'.join(_INFORMATION_SCHEMA)})\b(?!['\"(])",
            re.I,
        ),
        r"gl_is_\1",
    ),
    # psql: `c.relname OPERATOR(pg_catalog.~) '^(person)$' COLLATE pg_catalog.default`
    (re.compile(r"OPERATOR\s*\(\s*pg_catalog\s*\.\s*([~!=<>*+\-/@#%^&|?]+)\s*\)", re.I), r"\1"),
    (re.compile(r"COLLATE\s+(pg_catalog\s*\.\s*)?\"?(default|C|POSIX)\"?", re.I), ""),
    # a function PostgreSQL has in pg_catalog: ours (a macro) or DuckDB's (in its main schema)
    (re.compile(r"\bpg_catalog\s*\.\s*(\w+)\s*\(", re.I), _function),
    # 'pg_class'::regclass names a relation: its oid
    (
        re.compile(r"'((?:[^']|'')*)'\s*::\s*(?:pg_catalog\s*\.\s*)?(regclass|regtype)\b", re.I),
        r"to_\2('\1')",
    ),
    # oid aliases DuckDB does not know: an oid is an integer here
    (
        re.compile(
            r"::\s*(pg_catalog\s*\.\s*)?(regclass|regtype|regproc|regprocedure|regnamespace"
            r"|regrole|regoper|oid)\b",
            re.I,
        ),
        "::BIGINT",
    ),
    (
        re.compile(
            r"\bAS\s+(pg_catalog\s*\.\s*)?(regclass|regtype|regproc|regprocedure|regnamespace"
            r"|regrole|regoper|oid(?=\s*\)))\b",
            re.I,
        ),
        "AS BIGINT",
    ),
    (re.compile(r"::\s*(pg_catalog\s*\.\s*)?(name|\"char\"|char)(?!\w)", re.I), "::VARCHAR"),
    (re.compile(r"::\s*pg_catalog\s*\.\s*(\w+)", re.I), r"::\1"),
    (
        re.compile(
            rf"(?<![.\w'\"])(?:pg_catalog\s*\.\s*)?({'|'.join(_REPLACED)})\b(?!['\"(])", re.I
        ),
        r"gl_\1",
    ),
]

# DuckDB's own table functions and system functions: a PostgreSQL client has no use for them,
# and the guard denies them on the lake route too (files, settings, DuckDB's catalogue).
_DENIED_PREFIXES = (
    "duckdb_",
    "pragma_",
    "read_",
    "parquet_",
    "sqlite_",
    "iceberg_",
    "delta_",
    "http",
    "s3",
    "load_",
    "install_",
    "enable_",
    "disable_",
    "icu_",
    "postgres_",
    "mysql_",
    "excel_",
    "st_read",
    "test_",
    "gl_",
)
_DENIED_FUNCTIONS = frozenset(
    {
        "query",
        "query_table",
        "glob",
        "range",
        "current_setting",
        "getenv",
        "getvariable",
        "which_secret",
        "sniff_csv",
        "test_all_types",
        "test_vector_types",
        "load_extension",
        "checkpoint",
        "force_checkpoint",
        "summary",
        "json_execute_serialized_sql",
        "set_config",
        "repeat_row",
        "export_state",
        "finalize",
        "sql_auto_complete",
    }
)

_ARRAY_BOUND = re.compile(
    r"(?:pg_catalog\s*\.\s*)?array_(?:upper|length)\s*\((?:[^()]|\([^()]*\))*\)", re.I
)

_READ_KEYWORDS = {TokenType.SELECT, TokenType.WITH, TokenType.VALUES, TokenType.L_PAREN}


class CatalogueError(RuntimeError):
    """A catalogue statement failed (message from DuckDB)."""


class CatalogueDenied(PermissionError):
    """Not a read query: the catalogue answers queries only."""


def tokens(sql: str):
    return Tokenizer(dialect="postgres").tokenize(sql)


def names_lake_table(sql: str, layers: Iterable[str] = LAYERS) -> bool:
    """Whether ``sql`` names a ``layer.table`` (or ``db.layer.table``) of the lake.

    Token-based, so it does not depend on parsing the statement: any identifier naming a layer
    followed by a dot sends the statement to the guard, which decides.
    """
    layers = {x.lower() for x in layers}
    try:
        toks = [t for t in tokens(sql) if t.token_type != TokenType.SEMICOLON]
    except TokenError:
        return True  # the guard parses it, and refuses what it cannot read
    for a, b in zip(toks, toks[1:], strict=False):
        if b.token_type == TokenType.DOT and a.token_type in (TokenType.VAR, TokenType.IDENTIFIER):
            name = a.text if a.token_type == TokenType.IDENTIFIER else a.text.lower()
            if name.lower() in layers:
                return True
    return False


def check(sql: str) -> None:
    """Refuse what a catalogue query has no use for: anything but a read query, DuckDB's
    table and system functions, and DuckDB's own catalogue (the guard refuses them too)."""
    try:
        toks = [t for t in tokens(sql) if t.token_type != TokenType.SEMICOLON]
    except TokenError:
        raise CatalogueDenied("the statement cannot be read") from None
    if not toks or toks[0].token_type not in _READ_KEYWORDS:
        raise CatalogueDenied("only read queries are allowed")
    for a, b in zip(toks, [*toks[1:], None], strict=True):
        if a.token_type in (TokenType.STRING, TokenType.NATIONAL_STRING):
            continue
        name = a.text.lower()
        if name.startswith(("duckdb_", "sqlite_", "gl_")):
            raise CatalogueDenied(f"{a.text} is not available")
        if b is not None and b.token_type == TokenType.L_PAREN:
            if name in _DENIED_FUNCTIONS or name.startswith(_DENIED_PREFIXES):
                raise CatalogueDenied(f"the function {a.text} is not available")
    # functions building large values (repeat, lpad, generate_series…): small literals. psql and
    # JDBC count through an existing array (generate_series(1, array_upper(arr, 1))): bounded.
    bounded = _ARRAY_BOUND.sub("1", sql)
    try:
        check_sizes(bounded, "postgres")
    except Denied as e:
        raise CatalogueDenied(e.reason) from None


def rewrite(sql: str) -> str:
    for pattern, repl in _REWRITES:
        sql = pattern.sub(repl, sql)
    return sql


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Catalogue:
    """One session's catalogue connection. Not thread-safe: one statement at a time."""

    def __init__(
        self,
        tables: list[str],
        columns: Callable[[str], list[tuple[str, str]]],
        *,
        user: str,
        timeout_s: float,
        max_result_bytes: int = 64 << 20,
        memory_limit: str = "256MB",
    ):
        self.timeout_s = timeout_s
        self.max_result_bytes = max_result_bytes
        self._memory = Limits.model_construct(memory_limit=memory_limit).memory_bytes
        # no temp_directory: it holds no data, so nothing may spill (DuckDB's default would be
        # the working directory)
        self._con = duckdb.connect(
            config={"threads": 1, "memory_limit": memory_limit, "temp_directory": ""}
        )
        for name, body in _MACROS.items():
            self._con.execute(f"CREATE OR REPLACE MACRO {name}{body}")
        roles = (
            f"SELECT 10::BIGINT AS oid, {_literal(user)} AS rolname, {_literal(user)} AS usename, "
            "10::BIGINT AS usesysid, false AS rolsuper, false AS usesuper, true AS rolcanlogin, "
            "true AS rolinherit, false AS rolcreaterole, false AS rolcreatedb, "
            "false AS rolreplication, false AS rolbypassrls, -1 AS rolconnlimit, "
            "NULL::TIMESTAMP AS rolvaliduntil, NULL::VARCHAR[] AS rolconfig"
        )
        for name, extra in _OVERRIDES.items():
            if extra is None:
                body = roles
            else:
                more = f" {extra}" if extra.startswith("REPLACE") else f", {extra}" if extra else ""
                body = f"SELECT *{more} FROM pg_catalog.{name}"
            self._con.execute(f"CREATE TEMP VIEW gl_{name} AS {body}")
        for name, column in _INFORMATION_SCHEMA.items():
            self._con.execute(
                f"CREATE TEMP VIEW gl_is_{name} AS SELECT * FROM information_schema.{name} "
                f"WHERE {column} <> 'temp'"
            )
        for name, spec in _EMPTY.items():
            self._con.execute(f"CREATE TEMP TABLE gl_{name} ({spec})")
        for table in tables:
            layer, name = table.split(".", 1)
            cols = columns(table)
            if not cols:
                continue
            self._con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(layer)}")
            spec = ", ".join(f"{_quote(c)} {t}" for c, t in cols)
            self._con.execute(f"CREATE TABLE {_quote(layer)}.{_quote(name)} ({spec})")
        for stmt in (
            "SET enable_external_access = false",
            "SET autoinstall_known_extensions = false",
            "SET autoload_known_extensions = false",
            "SET lock_configuration = true",
        ):
            self._con.execute(stmt)

    def run(self, sql: str, params: list | None = None) -> pa.Table | None:
        """Run a catalogue query; None when it returns no result set."""
        check(sql)
        sql = rewrite(sql)
        # the same watchdog and bounded read as the lake's queries (jobs/serving/sql/session.py)
        stop = Watchdog(self._con, self.timeout_s, self._memory)
        try:
            rel = self._con.sql(sql, params=params or None)
            if rel is None:
                return None
            return read_bounded(
                self._con,
                rel,
                max_rows=None,
                max_bytes=self.max_result_bytes,
                too_large=f"result too large (over {self.max_result_bytes:,} bytes)",
            )
        except Refused as e:
            raise CatalogueError(str(e)) from None
        except duckdb.InterruptException:
            if stop.fired():
                raise CatalogueError(stop.reason()) from None
            raise CatalogueError("canceling statement due to user request") from None
        except duckdb.Error as e:
            log.debug("catalogue statement failed: %s -- %s", sql, e)
            raise CatalogueError(str(e).strip().splitlines()[0][:500]) from None
        finally:
            stop.cancel()

    def schema(self, sql: str, params: list | None = None) -> pa.Schema | None:
        table = self.run(sql, params)
        return None if table is None else table.schema

    def interrupt(self) -> None:
        self._con.interrupt()

    def close(self) -> None:
        self._con.close()


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
