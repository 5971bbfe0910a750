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
