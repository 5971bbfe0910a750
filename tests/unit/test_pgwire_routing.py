"""How the SQL server splits, routes and bounds statements (jobs/serving/server/pgwire.py, catalog.py)."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest

from jobs.serving.server import types as pgt
from jobs.serving.server.catalog import Catalogue, CatalogueDenied, check, names_lake_table, rewrite
from jobs.serving.server.pgwire import PgError, split_statements


def test_statements_are_split_on_real_semicolons_only():
    sql = "SELECT 'a;b'; SELECT \"x;y\" FROM t -- c;d\n; /* e;f */ SELECT 3;"
    assert split_statements(sql) == [
        "SELECT 'a;b'",
        'SELECT "x;y" FROM t -- c;d',
        "/* e;f */ SELECT 3",
    ]
    assert split_statements(" ; ; ") == []
    with pytest.raises(PgError):
        split_statements("SELECT 'unterminated")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM silver.person",
        'SELECT * FROM "silver"."person"',
        "SELECT * FROM silver /* x */ . person",
        "SELECT * FROM memory.silver.person",
        "SELECT * FROM pg_class c JOIN audit.queries q ON true",
        "WITH x AS (SELECT 1) SELECT * FROM bronze.gaj_hjrk",
    ],
)
def test_a_statement_naming_a_lake_table_goes_to_the_guard(sql):
    assert names_lake_table(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM pg_catalog.pg_class WHERE relname = 'silver.person'",
        "SELECT n.nspname FROM pg_namespace n WHERE n.nspname = 'silver'",
        "SELECT version()",
    ],
)
def test_a_catalogue_statement_stays_in_the_catalogue(sql):
    assert not names_lake_table(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "PRAGMA database_list",
        "ATTACH '/tmp/x.duckdb' AS x",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM duckdb_settings()",
        "SELECT * FROM duckdb_tables",
        "SELECT current_setting('memory_limit')",
        "SELECT * FROM query_table('silver.person')",
        "SELECT * FROM range(10)",
        "SELECT repeat('x', 1000000000)",
        "SELECT count(*) FROM generate_series(1, 10000000000)",
        "SELECT * FROM gl_pg_class",
    ],
)
def test_the_catalogue_refuses_what_a_client_has_no_use_for(sql):
    with pytest.raises(CatalogueDenied):
        check(sql)


def test_psql_forms_are_rewritten_for_duckdb():
    sql = (
        "SELECT c.oid::pg_catalog.regclass FROM pg_catalog.pg_class c "
        "WHERE c.relname OPERATOR(pg_catalog.~) '^(person)$' COLLATE pg_catalog.default "
        "AND d.classoid = 'pg_class'::regclass AND pg_catalog.pg_get_userbyid(c.relowner) <> ''"
    )
    out = rewrite(sql)
    assert "OPERATOR" not in out and "COLLATE" not in out
    assert "::BIGINT" in out and "to_regclass('pg_class')" in out
    assert "gl_pg_class c" in out and " pg_get_userbyid(" in out


def test_the_catalogue_lists_only_the_given_tables_and_columns():
    columns = {"silver.person": [("person_id", "VARCHAR"), ("birth_date", "DATE")]}
    catalogue = Catalogue(list(columns), columns.__getitem__, user="ana", timeout_s=5)
    try:
        tables = catalogue.run(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('information_schema', 'pg_catalog')"
        )
        assert tables.to_pylist() == [{"table_schema": "silver", "table_name": "person"}]
        types = catalogue.run(
            "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) AS t "
            "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON a.attrelid = c.oid "
            "WHERE c.relname = 'person' ORDER BY a.attnum"
        )
        assert [(r["attname"], r["t"]) for r in types.to_pylist()] == [
            ("person_id", "character varying"),
            ("birth_date", "date"),
        ]
        assert (
            catalogue.run("SELECT version() AS v")
            .column("v")[0]
            .as_py()
            .startswith("PostgreSQL 16.0")
        )
    finally:
        catalogue.close()


def test_text_and_binary_encodings():
    assert pgt.to_text(True, pgt.BOOL) == b"t"
    assert pgt.to_text(float("nan"), pgt.FLOAT8) == b"NaN"
    assert pgt.to_text(b"\x01\xab", pgt.BYTEA) == b"\\x01ab"
    assert pgt.to_text({"a": [1, None]}, pgt.JSON) == b'{"a": [1, null]}'
    assert pgt.to_text([("k", 1)], pgt.JSON) == b'{"k": 1}'
    stamp = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert pgt.to_text(stamp, pgt.TIMESTAMPTZ) == b"2024-01-02 03:04:05+00"
    assert pgt.pg_oid(pa.decimal128(10, 2)) == pgt.NUMERIC
    assert pgt.pg_oid(pa.struct([("a", pa.int32())])) == pgt.JSON
    assert pgt.to_binary(42, pgt.INT4) == b"\x00\x00\x00\x2a"
    with pytest.raises(pgt.UnsupportedFormat):
        pgt.to_binary(dt.date(2024, 1, 1), pgt.DATE)
    assert pgt.param_from_wire(b"12.5", pgt.NUMERIC, fmt=0) == decimal.Decimal("12.5")
    assert pgt.param_from_wire(b"\x00\x00\x00\x07", pgt.INT4, fmt=1) == 7
    assert pgt.param_from_wire(b"x", 0, fmt=0) == "x"
    with pytest.raises(pgt.UnsupportedFormat):
        pgt.param_from_wire(b"\x00", pgt.DATE, fmt=1)
