"""The SQL interface's access policy on the sample city's lake: what each role can see."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from jobs.platform.history import version_as_of
from jobs.platform.policy import AccessDenied, is_pseudonym, pseudonym
from jobs.platform.publication import NotPublished
from jobs.serving.sql.guard import Denied
from jobs.serving.sql.session import QueryFailed, SqlSession
from tests.integration.sql_leaks import leaked, secrets_above, strings_in


def _division(lake) -> str:
    persons = DeltaTable(str(lake / "silver" / "person")).to_pyarrow_dataset().to_table()
    codes = [c for c in persons["region_code"].to_pylist() if c]
    return max(set(codes), key=codes.count)


def _everything(session: SqlSession) -> dict[str, pa.Table]:
    return {t: session.arrow(f"SELECT * FROM {t}") for t in session.tables()}


@pytest.mark.parametrize("role", ["city_analyst", "district_analyst", "quality_officer"])
def test_no_table_shows_a_value_above_the_role_clearance(sql_lake, role):
    division = _division(sql_lake) if role == "district_analyst" else None
    with SqlSession(sql_lake, role=role, division=division, max_rows=10**7) as s:
        secrets = secrets_above(sql_lake, s.grant.clearance)
        # the check has something to find: 10 causes of death for L3, thousands of values for L2
        assert sum(len(v) for v in secrets.values()) >= (1000 if s.grant.clearance < "L3" else 5)
        tables = _everything(s)
    assert "silver.person" in tables and "gold.person_profile" in tables
    for table, data in tables.items():
        assert not leaked(strings_in(data), secrets), table


def test_the_leak_check_finds_clear_values(sql_lake):
    """A cleared role's result, judged against an analyst's clearance, is full of secrets."""
    with SqlSession(sql_lake, role="platform_admin") as s:
        person = s.arrow("SELECT * FROM silver.person")
        profile = s.arrow("SELECT household, children FROM gold.person_profile")
    secrets = secrets_above(sql_lake, "L2")
    assert {"gaj_hjrk.id_number", "gaj_hjrk.name"} <= set(leaked(strings_in(person), secrets))
    assert "gaj_hjrk.id_number" in leaked(strings_in(profile), secrets)


def test_masks_have_the_documented_shapes(sql_lake):
    with SqlSession(sql_lake, role="city_analyst") as s:
        rows = s.arrow(
            "SELECT person_id, name, address, household_no, birth_date, ethnicity "
            "FROM silver.person WHERE name IS NOT NULL AND address IS NOT NULL"
        ).to_pylist()
        cause = s.describe("silver.person")
        joined = (
            s.arrow(
                "SELECT count(*) AS n FROM silver.licence l JOIN silver.person p "
                "ON l.holder_code = p.person_id"
            )
            .column("n")[0]
            .as_py()
        )
    with SqlSession(sql_lake, role="quality_officer") as s:
        clear = {
            r["person_id"]: r
            for r in s.arrow("SELECT person_id, birth_date FROM silver.person").to_pylist()
        }
    assert rows
    for r in rows:
        assert is_pseudonym(r["person_id"]), r
        assert re.fullmatch(r"[^*]\*+", r["name"]), r
        assert re.fullmatch(r"河北省沧州市\w+?(区|县|市)", r["address"]), r
        assert r["birth_date"] is None or r["birth_date"].day == 1, r
        assert r["ethnicity"] is None
    # the officer's ID numbers, pseudonymised, are the analyst's keys: same persons, same months
    months = {
        pseudonym(pid): (b.replace(day=1) if b else None)
        for pid, b in ((k, v["birth_date"]) for k, v in clear.items())
    }
    assert {r["person_id"]: r["birth_date"] for r in rows}.items() <= months.items()
    assert joined > 0  # pseudonyms are stable across tables: analysts can still join
    shown = {name: how for name, _, how in cause}
    assert shown["person_id"] == "masked (pseudonym)" and shown["sex"] == "clear"


def test_a_district_analyst_reads_only_the_district(sql_lake):
    division = _division(sql_lake)
    with SqlSession(sql_lake, role="district_analyst", division=division) as s:
        counts = s.arrow(
            "SELECT region_code, count(*) AS n FROM silver.person GROUP BY 1"
        ).to_pylist()
        enterprises = s.arrow("SELECT registration.region_code AS r FROM gold.enterprise_profile")
        with pytest.raises(Denied, match="not readable"):
            s.query("SELECT * FROM silver.licence")
    assert [r["region_code"] for r in counts] == [division] and counts[0]["n"] > 10
    assert set(enterprises["r"].to_pylist()) <= {division}
    with pytest.raises(AccessDenied, match="division"):
        SqlSession(sql_lake, role="district_analyst")
    with pytest.raises(AccessDenied, match="unknown role"):
        SqlSession(sql_lake, role="superuser")


def test_as_of_reads_the_version_built_for_that_date(sql_lake, city_lake):
    lake = city_lake
    dates = sorted(
        {r["business_date"] for r in DeltaTable(str(sql_lake / "lineage" / "runs"))
         .to_pyarrow_dataset().to_table().to_pylist() if r["business_date"]}
    )  # fmt: skip
    first = dates[0]
    version, _ = version_as_of(lake, "silver.person", as_of=first)
    expected = DeltaTable(str(sql_lake / "silver" / "person"), version=version)
    expected_rows = expected.to_pyarrow_dataset().count_rows()
    with SqlSession(sql_lake, role="platform_admin", as_of=first) as s:
        then = s.arrow("SELECT count(*) AS n FROM silver.person")["n"][0].as_py()
    with SqlSession(sql_lake, role="platform_admin") as s:
        now = s.arrow("SELECT count(*) AS n FROM silver.person")["n"][0].as_py()
    assert then == expected_rows
    assert now == DeltaTable(str(sql_lake / "silver" / "person")).to_pyarrow_dataset().count_rows()
    with pytest.raises(NotPublished, match="nothing is published .* on or before"):
        SqlSession(sql_lake, role="platform_admin", as_of=first - dt.timedelta(days=30))


def test_every_query_is_audited(sql_lake):
    with SqlSession(sql_lake, role="city_analyst", user="auditor-test", max_rows=5) as s:
        ok = s.query("SELECT person_id, name FROM silver.person ORDER BY person_id")
        with pytest.raises(Denied):
            s.query("SELECT * FROM bronze.gaj_hjrk")
        with pytest.raises(QueryFailed):
            s.query("SELECT no_such_column FROM silver.person")
    assert ok.truncated and ok.table.num_rows == 5
    audit = DeltaTable(str(sql_lake / "audit" / "queries")).to_pyarrow_dataset().to_table()
    rows = sorted(
        (r for r in audit.to_pylist() if r["user_name"] == "auditor-test"),
        key=lambda r: r["submitted_at"],
    )
    assert [r["status"] for r in rows] == ["allowed", "denied", "failed"]
    allowed, denied, failed = rows
    assert allowed["query_id"] == ok.query_id
    assert allowed["executed_sql"].startswith("SELECT person_id, name FROM silver.person")
    assert allowed["tables_read"] == ["silver.person"]
    assert allowed["columns_read"] == ["silver.person.name", "silver.person.person_id"]
    assert allowed["rows_returned"] == 5 and allowed["truncated"] and allowed["duration_ms"] > 0
    assert allowed["role"] == "city_analyst" and allowed["code_version"]
    assert denied["reason"] == "bronze.gaj_hjrk is not readable by your role"
    assert denied["executed_sql"] is None and denied["rows_returned"] is None
    assert "no_such_column" in failed["reason"]


def _govlake_sql(lake, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jobs.serving.cli", "sql", "--lake", str(lake), *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=300,
    )


@pytest.mark.slow  # slow: CI runs it (make test-slow); the fast suite keeps a cheaper test of the same surface
def test_command_line_formats_and_denials(sql_lake):
    csv = _govlake_sql(
        sql_lake, "--role", "city_analyst", "--format", "csv", "--max-rows", "3",
        "-e", "SELECT person_id, name FROM silver.person ORDER BY person_id",
    )  # fmt: skip
    assert csv.returncode == 0, csv.stderr
    lines = csv.stdout.splitlines()
    assert lines[0] == '"person_id","name"' and len(lines) == 4 and "*" in lines[1]
    assert "more rows than the 3 shown" in csv.stderr
    js = _govlake_sql(
        sql_lake, "--role", "city_analyst", "--dialect", "spark", "--format", "json", "-e",
        "SELECT trunc(birth_date, 'MM') AS m FROM silver.person WHERE birth_date IS NOT NULL "
        "LIMIT 1",
    )  # fmt: skip
    assert js.returncode == 0, js.stderr
    assert re.fullmatch(r'\{"m": "\d{4}-\d{2}-01"\}\n', js.stdout)
    denied = _govlake_sql(sql_lake, "--role", "city_analyst", "-e", "DROP TABLE silver.person")
    assert denied.returncode == 2 and "denied: only a read query" in denied.stderr
    prompt = _govlake_sql(
        sql_lake,
        "--role", "city_analyst",
        stdin="\\d\nSELECT count(*)\n  AS n FROM silver.person;\nCOPY silver.person TO 'x';\n\\q\n",
    )  # fmt: skip
    assert prompt.returncode == 0, prompt.stderr
    assert "silver.person" in prompt.stdout and "denied: only a read query" in prompt.stderr
