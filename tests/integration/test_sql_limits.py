"""Limits that hold: memory (what DuckDB builds outside its buffers too), result size, time,
concurrent queries per user, and spill kept out of the working directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobs.platform.policy import role_limits
from jobs.serving.sql.guard import Denied
from jobs.serving.sql.session import QueryFailed, SqlSession, _Slot

CROSS = (
    "SELECT length(string_agg(a.name || b.name || a.address, ',')) AS n "
    "FROM silver.person a, silver.person b"
)


def test_a_client_may_lower_its_limits_never_raise_them(sql_lake):
    ceiling = role_limits("city_analyst")
    with SqlSession(sql_lake, role="city_analyst", max_rows=10**9, timeout_s=10**9) as s:
        assert (s.max_rows, s.timeout_s) == (ceiling.max_rows, ceiling.timeout_s)
        s.set_limits(timeout_s=5, max_rows=3)
        assert (s.max_rows, s.timeout_s) == (3, 5)
        result = s.query("SELECT person_id FROM silver.person")
        assert result.table.num_rows == 3 and result.truncated
        s.set_limits(timeout_s=0, max_rows=0)  # 0: back to the role's maximum
        assert (s.max_rows, s.timeout_s) == (ceiling.max_rows, ceiling.timeout_s)


def test_memory_built_outside_duckdb_buffers_is_capped(sql_lake):
    with SqlSession(sql_lake, role="city_analyst") as s:
        s.limits = s.limits.model_copy(update={"memory_limit": "200MB"})
        with pytest.raises(QueryFailed, match="memory|longer"):
            s.query(CROSS)
        assert s.query("SELECT count(*) AS n FROM silver.person").table.num_rows == 1


def test_a_result_larger_than_the_role_allows_is_refused(sql_lake):
    with SqlSession(sql_lake, role="city_analyst") as s:
        s.limits = s.limits.model_copy(update={"max_result_mb": 1})
        with pytest.raises(QueryFailed, match="larger than"):
            s.query("SELECT * FROM gold.person_profile")


def test_a_long_query_stops_at_the_timeout(sql_lake):
    with SqlSession(sql_lake, role="city_analyst", timeout_s=0.5) as s:
        with pytest.raises(QueryFailed, match="longer than 0.5 s"):
            s.query(CROSS)


def test_amplifying_functions_take_small_literal_sizes(sql_lake):
    with SqlSession(sql_lake, role="city_analyst") as s:
        with pytest.raises(Denied, match="at most 10,000"):
            s.query("SELECT repeat('x', 1000000000)")
        assert s.query("SELECT length(repeat('x', 100)) AS n").table.to_pylist() == [{"n": 100}]


def test_concurrent_queries_are_capped_per_user(sql_lake):
    limit = role_limits("city_analyst").max_concurrent
    with SqlSession(sql_lake, role="city_analyst", user="busy") as s:
        held = [_Slot(s._spill.parent, "busy", limit).__enter__() for _ in range(limit)]
        try:
            with pytest.raises(QueryFailed, match=f"already runs {limit} queries"):
                s.query("SELECT 1 AS x")
        finally:
            for slot in held:
                slot.__exit__(None, None, None)
        assert s.query("SELECT 1 AS x").table.num_rows == 1
    with SqlSession(sql_lake, role="city_analyst", user="other") as s:
        assert s.query("SELECT 1 AS x").table.num_rows == 1  # another user is not affected


def test_spill_goes_to_the_configured_folder_never_the_working_directory(sql_lake, tmp_path):
    before = set(Path.cwd().iterdir())
    spill_root = Path(os.environ["GOVLAKE_SQL_SPILL"])
    with SqlSession(sql_lake, role="city_analyst") as s:
        assert s._spill.parent == spill_root and (s._spill.stat().st_mode & 0o777) == 0o700
        s.limits = s.limits.model_copy(update={"memory_limit": "4GB"})
        s.query(
            "SELECT a.person_id, count(*) AS n FROM silver.person a, silver.person b "
            "WHERE a.region_code = b.region_code GROUP BY 1 ORDER BY 2 DESC LIMIT 3"
        )
        spill = s._spill
    assert not spill.exists()  # removed with the session
    assert set(Path.cwd().iterdir()) == before


def test_spill_of_a_killed_session_is_removed_by_the_next(sql_lake):
    from jobs.platform import staging

    root = Path(os.environ["GOVLAKE_SQL_SPILL"])
    dead = root / f"gone-{'a' * 32}"  # its process was killed: no lock held
    dead.mkdir(mode=0o700)
    (dead / "spilled.tmp").write_bytes(b"x")
    os.utime(dead, (1, 1))
    alive = root / f"busy-{'b' * 32}"  # another living session's
    alive.mkdir(mode=0o700)
    lock = staging.hold(alive)
    try:
        with SqlSession(sql_lake, role="city_analyst") as s:
            s.query("SELECT 1 AS x")
        assert not dead.exists() and alive.exists() and (root / "slots").exists()
    finally:
        os.close(lock)
