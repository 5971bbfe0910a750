"""One writer at a time, readers on the published state, forward rebuilds, doctor and maintain
(docs/lake.md)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import time

import pytest
from pyspark.sql import functions as F

from jobs.pipeline.runner import RunFailed, plan_dates
from jobs.platform import lease, publication
from jobs.platform.config import PACKAGE_ROOT

D1, D2, D3 = dt.date(2026, 11, 2), dt.date(2026, 11, 3), dt.date(2026, 11, 4)


def _python(code: str, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=PACKAGE_ROOT, capture_output=True, text=True,
        timeout=120, **kw,
    )  # fmt: skip


# ------------------------------------------------------------------------------ the lease
def test_a_second_writer_fails_at_once_naming_the_holder(tmp_path):
    lease.acquire(tmp_path, command="govlake run --landing var/landing")
    try:
        t0 = time.time()
        other = _python(
            "import sys; from jobs.platform import lease; lease.acquire(sys.argv[1])", str(tmp_path)
        )
        assert time.time() - t0 < 30 and other.returncode != 0
        assert "another writer holds the lake" in other.stderr
        for part in (f"pid {os.getpid()}", "govlake run --landing var/landing", "since 20"):
            assert part in other.stderr
        waited = _python(
            "import sys, time; from jobs.platform import lease; t = time.time()\n"
            "try: lease.acquire(sys.argv[1], wait=1.5)\n"
            "except lease.LeaseHeld: print(round(time.time() - t, 1))",
            str(tmp_path),
        )
        assert 1.4 <= float(waited.stdout) < 10
    finally:
        lease.release(tmp_path)
    taken = _python(
        "import sys; from jobs.platform import lease; lease.acquire(sys.argv[1])", str(tmp_path)
    )
    assert taken.returncode == 0, taken.stderr


def test_a_dead_holders_lease_is_taken_over_and_logged(tmp_path, caplog):
    died = _python(
        "import os, signal, sys; from jobs.platform import lease; lease.acquire(sys.argv[1], command='x');"
        "os.kill(os.getpid(), signal.SIGKILL)",
        str(tmp_path),
    )
    assert died.returncode == -signal.SIGKILL
    assert lease.stale(tmp_path)["command"] == "x"
    with caplog.at_level(logging.WARNING, logger="jobs.platform.lease"):
        lease.acquire(tmp_path)
    try:
        assert "took over the lake's writer lease" in caplog.text and "running `x`" in caplog.text
        assert lease.stale(tmp_path) is None
    finally:
        lease.release(tmp_path)


def test_every_lake_write_needs_the_lease(lake, spark):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from jobs.platform import lease; lease.acquire(sys.argv[1]);"
         "print('held', flush=True); time.sleep(60)", str(lake.root)],
        cwd=PACKAGE_ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(lease.LeaseHeld):
            lake.append(spark.createDataFrame([(1,)], "x int"), "audit.scratch")
        assert not lake.exists("audit.scratch")
    finally:
        holder.kill()
        holder.wait()
    lake.append(spark.createDataFrame([(1,)], "x int"), "audit.scratch")  # it died: taken over
    assert lake.read("audit.scratch").count() == 1
    lake.close()


# ------------------------------------------------------------------------------ planning
def test_a_run_never_ends_behind_the_latest_published_date():
    landing = [D1, D2, D3]
    assert plan_dates(landing, head=D3, published=D3, date_from=D2).dates == [D2, D3]
    with pytest.raises(RunFailed, match="--to 2026-11-02 would leave the lake behind 2026-11-04"):
        plan_dates(landing, head=D3, published=D3, date_from=D1, date_to=D1)
    only = plan_dates(landing, head=D3, published=D3, only=D1)
    assert only.dates == [D1] and not only.publish_current and "readers stay on" in only.notes[0]
    # after --only D1 the tables hold D1: a run from D3 starts at D2
    assert plan_dates(landing, head=D1, published=D3, date_from=D3).dates == [D2, D3]
    assert plan_dates(landing, head=D2, published=D2, date_from=D3).dates == [D3]
    assert plan_dates(landing, head=None, published=None).dates == landing


# ------------------------------------------------------------------------------ publication
def test_readers_see_the_published_state_not_the_latest_commits(city_lake, tmp_path):
    from jobs.platform.lake import Lake
    from jobs.serving.sql.session import SqlSession

    src = city_lake
    root = tmp_path / "lake"
    import shutil

    shutil.copytree(src.root, root, ignore=shutil.ignore_patterns("_staging", "_govlake"))
    from jobs.platform.maintenance import doctor

    doctor(root, repair=True)  # other tests of the session wrote to the source lake
    pub = publication.current(root)
    assert pub.business_date == max(p.business_date for p in publication.publications(root))
    writer = Lake(root, src.spark)
    before = writer.read("silver.person").count()
    # a run's commit that is not published (yet): readers must not see it
    writer.append(writer.read("silver.person").limit(5), "silver.person")
    assert writer.read("silver.person").count() == before + 5
    view = Lake.published(root, src.spark)
    assert view.read("silver.person").count() == before
    with pytest.raises(PermissionError):
        view.append(view.read("silver.person").limit(1), "silver.person")
    sql = SqlSession(root, role="platform_admin", user="t")
    assert sql.query("SELECT count(*) AS n FROM silver.person").table.to_pylist() == [{"n": before}]
    early = SqlSession(root, role="platform_admin", user="t", as_of=D1)
    n1 = early.query("SELECT count(*) AS n FROM silver.person").table.to_pylist()[0]["n"]
    first = next(p for p in publication.publications(root) if p.business_date == D1)
    assert (
        n1
        == Lake(root, src.spark)
        .read("silver.person", version=first.version("silver.person"))
        .count()
    )
    writer.close()
    # doctor sees the unpublished commit and, asked to, puts the table back
    found = doctor(root)
    assert [f.what for f in found.findings] == ["unpublished"] and not found.healthy
    assert "silver.person" in found.findings[0].detail
    assert doctor(root, repair=True).healthy
    assert Lake(root, src.spark).read("silver.person").count() == before
    assert doctor(root).findings == []


def test_nothing_is_readable_before_the_first_publication(lake, spark):
    from jobs.serving.sql.session import SqlSession

    lake.append(spark.createDataFrame([(1,)], "x int"), "silver.scratch")
    lake.close()
    with pytest.raises(publication.NotPublished, match="nothing is published"):
        SqlSession(lake.root, role="platform_admin", user="t")


def test_doctor_finds_a_slice_without_its_audit_rows(city_lake, tmp_path):
    import shutil

    from deltalake import DeltaTable

    from jobs.platform.maintenance import doctor

    src = city_lake
    root = tmp_path / "lake"
    shutil.copytree(src.root, root, ignore=shutil.ignore_patterns("_staging", "_govlake"))
    audit = DeltaTable(str(root / "audit" / "deliveries"))
    audit.delete("source_id = 'swj_swdj' AND business_date = '2026-11-03'")
    found = doctor(root)
    bad = [f for f in found.findings if f.what == "invariant"]
    assert bad and all("swj_swdj 2026-11-03" in f.detail for f in bad)
    assert "govlake run --from 2026-11-03" in bad[0].fix
    left = root / "_staging" / "gone-1-x"
    left.mkdir(parents=True)
    (left / "part.parquet").write_bytes(b"130926200112195673")
    os.utime(left, (time.time() - 3600, time.time() - 3600))
    repaired = doctor(root, repair=True)
    assert {f.what for f in repaired.findings if f.repaired} == {"staging", "unpublished"}
    assert not (root / "_staging").exists()
    assert doctor(root).findings == []  # audit.deliveries back at its published version


# ------------------------------------------------------------------------------ maintain
def test_maintain_compacts_and_keeps_every_published_date_readable(city_lake, tmp_path):
    import shutil

    from jobs.platform.lake import Lake
    from jobs.platform.maintenance import doctor, maintain

    src = city_lake
    root = tmp_path / "lake"
    shutil.copytree(src.root, root, ignore=shutil.ignore_patterns("_staging", "_govlake"))
    counts = {}
    for p in publication.publications(root):
        view = Lake.published(root, src.spark, as_of=p.business_date)
        counts[p.business_date] = (
            view.read("gold.person_profile").count(),
            view.read("quality.findings").filter(F.col("status") == "open").count(),
        )
    doctor(root, repair=True)  # other tests of the session wrote to the source lake
    done = {u.table: u for u in maintain(root)}
    assert done["lineage.runs"].files_after < done["lineage.runs"].files_before / 5
    again = {u.table: u for u in maintain(root, min_retention_hours=0)}
    assert sum(u.vacuumed for u in again.values()) > 0  # what the compaction replaced
    assert again["lineage.runs"].disk_after < done["lineage.runs"].disk_before
    # the log before the oldest kept version is expired once older than the retention (the
    # first maintenance keeps what a lake built within the hour wrote; the second has none):
    # a log table's (never published) up to the checkpoint of the maintenance; a published
    # table's stops at or before the oldest published version, and every published date still
    # reads (below)
    assert done["lineage.runs"].expired + again["lineage.runs"].expired > 0
    for table in ("audit.deliveries", "silver.person"):
        log = root / table.replace(".", "/") / "_delta_log"
        oldest = min(p.versions[table] for p in publication.publications(root))
        assert min(int(n.name[:20]) for n in log.glob("*.json")) <= oldest, table
    for date, expected in counts.items():
        view = Lake.published(root, src.spark, as_of=date)
        got = (
            view.read("gold.person_profile").count(),
            view.read("quality.findings").filter(F.col("status") == "open").count(),
        )
        assert got == expected, date
    assert doctor(root).healthy
