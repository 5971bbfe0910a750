"""The hostile-query corpus (tests/fixtures/sql/hostile.yaml) against the sample city's lake.

Every query is either rejected with its reason, stopped, or runs and shows nothing above the
role's clearance. Every attempt, whatever its outcome, leaves a row in audit.queries.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jobs.platform.delta import read_rows
from jobs.serving.sql.guard import Denied
from jobs.serving.sql.session import QueryFailed, SqlSession
from tests.integration.sql_leaks import leaked, secrets_above, strings_in

CORPUS = yaml.safe_load(
    (Path(__file__).parents[1] / "fixtures" / "sql" / "hostile.yaml").read_text(encoding="utf-8")
)


def test_corpus_is_large_and_well_formed():
    assert len(CORPUS) >= 40
    outcomes = {"denied", "failed", "masked", "rows"}
    for case in CORPUS:
        assert len(outcomes & set(case)) == 1, case


@pytest.fixture(scope="module")
def sessions(sql_lake):
    opened: dict[tuple, SqlSession] = {}

    def get(role: str, division: str | None, timeout: float) -> SqlSession:
        key = (role, division, timeout)
        if key not in opened:
            opened[key] = SqlSession(
                sql_lake,
                role=role,
                division=division,
                user="hostile-corpus",
                timeout_s=timeout,
                max_rows=1_000_000,
            )
        return opened[key]

    yield get
    for s in opened.values():
        s.close()


@pytest.fixture(scope="module")
def secrets(sql_lake):
    cache: dict[str, dict[str, set[str]]] = {}

    def get(clearance: str) -> dict[str, set[str]]:
        if clearance not in cache:
            cache[clearance] = secrets_above(sql_lake, clearance)
        return cache[clearance]

    return get


def _audit_rows(lake: Path, sql: str) -> list[dict]:
    mine = [
        r
        for r in read_rows(lake / "audit" / "queries")
        if r["submitted_sql"] == sql and r["user_name"] == "hostile-corpus"
    ]
    return sorted(mine, key=lambda r: r["submitted_at"])


@pytest.mark.parametrize("case", CORPUS, ids=[c["sql"][:60] for c in CORPUS])
def test_hostile_query(case, sessions, secrets, sql_lake):
    session = sessions(
        case.get("role", "city_analyst"), case.get("division"), case.get("timeout", 60)
    )
    dialect = case.get("dialect", "duckdb")
    if "denied" in case:
        with pytest.raises(Denied) as denied:
            session.query(case["sql"], dialect)
        assert case["denied"].lower() in denied.value.reason.lower()
        status = "denied"
    elif "failed" in case:
        with pytest.raises(QueryFailed) as failed:
            session.query(case["sql"], dialect)
        assert case["failed"].lower() in str(failed.value).lower()
        status = "failed"
    else:
        result = session.query(case["sql"], dialect)
        if "rows" in case:
            assert [list(r.values()) for r in result.table.to_pylist()] == case["rows"]
        else:
            assert result.table.num_rows > 0, "a masking case must return rows to be meaningful"
            found = strings_in(result.table)
            assert not leaked(found, secrets(session.grant.clearance))
        status = "allowed"
    audited = _audit_rows(sql_lake, case["sql"])
    assert audited and audited[-1]["status"] == status
    assert audited[-1]["role"] == session.role and audited[-1]["user_name"] == "hostile-corpus"
    if status != "allowed":
        assert audited[-1]["reason"]
