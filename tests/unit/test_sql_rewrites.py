"""Golden rewrites: the guard turns each analyst query of tests/fixtures/sql/rewrites.yaml into
exactly the DuckDB SQL written there, and that SQL runs on DuckDB.

When a change to the output is intended, regenerate the file (the test never writes it):

    .venv/bin/python -m tests.fixtures.sql.regenerate_rewrites
"""

from __future__ import annotations

import duckdb
import pytest

from jobs.serving.sql.dialects import DIALECTS
from tests.fixtures.sql.regenerate_rewrites import build_guard, create_tables, load_cases

CASES = load_cases()
IDS = [f"{i:02d}-{case['dialect']}" for i, case in enumerate(CASES, start=1)]
REGENERATE = ".venv/bin/python -m tests.fixtures.sql.regenerate_rewrites"


@pytest.fixture(scope="module")
def guard():
    return build_guard()


@pytest.fixture(scope="module")
def con():
    with duckdb.connect() as con:
        create_tables(con)
        yield con


def test_the_golden_file_is_complete():
    assert len(CASES) >= 20
    for case in CASES:
        assert set(case) <= {"dialect", "sql", "note", "executed"}, case
        assert case["dialect"] in DIALECTS, case
        assert case.get("executed"), f"no executed SQL for {case['sql']!r}: run {REGENERATE}"
    assert len({(c["dialect"], c["sql"]) for c in CASES}) == len(CASES), "a case is repeated"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_rewrite(case, guard):
    executed = guard.check(case["sql"], case["dialect"]).executed_sql
    assert executed == case["executed"], (
        f"the guard's SQL for {case['sql']!r} ({case['dialect']}) changed; if that is intended, "
        f"run {REGENERATE} and review the diff"
    )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_rewritten_sql_runs_on_duckdb(case, con):
    con.execute(case["executed"]).fetchall()
