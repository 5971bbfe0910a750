"""Staging in worker processes (conf/ingest.yaml ``parallel``) gives the lake the run's own
process gives, and a failing worker fails its source only."""

from __future__ import annotations

import datetime as dt

import pytest

import jobs.pipeline.ingest.run as ingest_run
from jobs.platform.config import IngestParallel
from jobs.platform.lake import Lake
from tests.dags.lake_compare import RUN_TABLES, differences

pytestmark = pytest.mark.slow  # worker processes and whole ingestions: CI runs them
DAY = dt.date(2026, 11, 2)


def _ingest(spark, landing, root, monkeypatch, *, workers: int):
    monkeypatch.setattr(
        ingest_run, "ingest_parallel", lambda: IngestParallel(workers=workers, min_bytes=0)
    )
    lake = Lake(root, spark)
    report = ingest_run.ingest_date(lake, landing, business_date=DAY)
    assert not list(root.glob("_staging/*/ingest-*")), "staged files left behind"
    return report


def test_workers_stage_what_the_run_stages(spark, city, tmp_path, monkeypatch):
    serial = _ingest(spark, city, tmp_path / "serial", monkeypatch, workers=1)
    parallel = _ingest(spark, city, tmp_path / "parallel", monkeypatch, workers=2)
    assert serial.failures == parallel.failures == []
    assert serial.lines == parallel.lines
    skip = RUN_TABLES | {"lineage.column_edges"}
    assert differences(tmp_path / "serial", tmp_path / "parallel", skip) == []


def test_a_worker_that_fails_fails_its_source_only(spark, city, tmp_path, monkeypatch):
    """A source whose staging worker fails is rolled back and named; the others go on."""

    class Failing(ingest_run.WorkerPool):
        def submit(self, *, landing, source_id, **kw):
            if source_id == "gaj_hjrk":  # the worker finds no landing zone there
                landing = tmp_path / "no such landing"
            return super().submit(landing=landing, source_id=source_id, **kw)

    monkeypatch.setattr(ingest_run, "WorkerPool", Failing)
    report = _ingest(spark, city, tmp_path / "lake", monkeypatch, workers=2)
    assert len(report.failures) == 1 and "gaj_hjrk" in report.failures[0], report.failures
    assert "no such landing" in report.failures[0]
    lake = Lake(tmp_path / "lake", spark)
    assert not lake.exists("bronze.gaj_hjrk")  # rolled back: nothing was written
    assert lake.read("bronze.wjw_cszm").count() > 0


def test_a_delivery_of_several_files_is_staged_file_by_file(spark, tmp_path, monkeypatch):
    """Each file on its own worker, settled as the run's own process reads them in name order:
    the second of two identical files is the duplicate, whatever finished first."""
    from tests.integration.landing_kit import deliver, swdj

    landing = tmp_path / "landing"
    row = "91350100M000100Y43|某公司{}|张三|350102199001011234|01|2020-01-01|某税务局|某地|1380000000{}"
    first = swdj(*(row.format(i, i) for i in range(5)), "too|few|fields")
    deliver(landing, "swj_swdj", DAY, 1, "txt", first, 6, parts=4)
    deliver(landing, "swj_swdj", DAY, 2, "txt", first, 6, parts=4)  # the same bytes
    deliver(landing, "swj_swdj", DAY, 3, "txt", swdj(row.format(7, 7)), 1, parts=4, md5="0" * 32)
    deliver(landing, "swj_swdj", DAY, 4, "txt", swdj(row.format(8, 8)), 1, parts=4)
    calls = []

    class Counting(ingest_run.WorkerPool):
        def submit(self, **kw):
            calls.append(kw.get("planned"))
            return super().submit(**kw)

    monkeypatch.setattr(ingest_run, "WorkerPool", Counting)
    serial = _ingest(spark, landing, tmp_path / "serial", monkeypatch, workers=1)
    parallel = _ingest(spark, landing, tmp_path / "parallel", monkeypatch, workers=2)
    assert sorted(c["name"] for c in calls if c) == [
        f"swj_swdj_20261102_0{n}.txt" for n in (1, 2, 3, 4)
    ]  # one request per file
    assert serial.lines == parallel.lines and serial.failures == parallel.failures == []
    reasons = {f.file: f.reason_code for r in parallel.details for f in r.files}
    assert reasons["swj_swdj_20261102_02.txt"] == "duplicate_file"
    assert reasons["swj_swdj_20261102_03.txt"] == "md5_mismatch"
    skip = RUN_TABLES | {"lineage.column_edges"}
    assert differences(tmp_path / "serial", tmp_path / "parallel", skip) == []
    rows = Lake(tmp_path / "parallel", spark).read("bronze.swj_swdj").collect()
    assert sorted({r["_file"] for r in rows}) == [
        "swj_swdj_20261102_01.txt",
        "swj_swdj_20261102_04.txt",
    ]


def test_workers_never_import_code_from_the_working_directory(tmp_path, monkeypatch):
    """`python -m` puts the working directory first on the path: a jobs/ folder there must not
    be what the staging workers run."""
    from jobs.pipeline.ingest.worker import WorkerPool
    from tests.integration.landing_kit import deliver, swdj

    marker = tmp_path / "ran"
    planted = tmp_path / "cwd" / "jobs" / "pipeline" / "ingest"
    planted.mkdir(parents=True)
    for d in (planted, planted.parent, planted.parent.parent):
        (d / "__init__.py").write_text("")
    (planted / "worker.py").write_text(f"open({str(marker)!r}, 'w').write('planted code ran')\n")
    monkeypatch.chdir(tmp_path / "cwd")
    landing = tmp_path / "landing"
    row = (
        "91350100M000100Y43|某公司|张三|350102199001011234|01|2020-01-01|某税务局|某地|13800000000"
    )
    deliver(landing, "swj_swdj", DAY, 1, "txt", swdj(row), 1)
    pool = WorkerPool(1)
    try:
        stage_dir = tmp_path / "staging" / "swj"
        stage_dir.mkdir(parents=True)
        future = pool.submit(
            landing=landing, source_id="swj_swdj", business_date=DAY, stage_dir=stage_dir
        )
        result, _ = future.result(timeout=120)
    finally:
        pool.close()
    assert not marker.exists()
    assert result.rows_accepted == 1
