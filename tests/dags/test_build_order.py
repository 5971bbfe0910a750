"""Which dates a base-library build covers: from the earliest changed date forward through
every date already ingested, in order, and never past a date some source has not settled."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from jobs.orchestration.tasks import base_dates
from jobs.platform.config import catalog

D1, D2, D3 = dt.date(2026, 11, 2), dt.date(2026, 11, 3), dt.date(2026, 11, 4)


def _runs(lake, runs: list[tuple[str, dt.date, str]], at: int = 0) -> None:
    """lineage.runs rows: (job, business date, status), ended ``at`` minutes past noon."""
    ended = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC) + dt.timedelta(minutes=at)
    table = pa.table(
        {
            "job": [job for job, _, _ in runs],
            "business_date": pa.array([d for _, d, _ in runs], pa.date32()),
            "status": [st for _, _, st in runs],
            "ended_at": pa.array([ended] * len(runs), pa.timestamp("us", tz="UTC")),
        }
    )
    write_deltalake(str(lake / "lineage" / "runs"), table, mode="append")


def _ingested(lake, runs: list[tuple[str, dt.date, str]], at: int = 0) -> None:
    _runs(lake, [(f"ingest.{s}", d, st) for s, d, st in runs], at)


def _all(date, status="success", but=()):
    return [(s, date, status) for s in sorted(catalog()) if s not in but]


@pytest.fixture(autouse=True)
def history_starts_on_d1(monkeypatch):
    monkeypatch.setenv("GOVLAKE_AIRFLOW_START", D1.isoformat())


def test_a_date_is_built_once_every_source_has_settled(tmp_path):
    _ingested(tmp_path, _all(D1, but=("wjw_swzm",)))
    dates, waiting = base_dates(tmp_path, [D1])
    assert dates == [] and "2026-11-02 waits for wjw_swzm" in waiting
    _ingested(tmp_path, [("wjw_swzm", D1, "failed")])  # a failed ingestion settles nothing
    assert base_dates(tmp_path, [D1])[0] == []
    _ingested(tmp_path, [("wjw_swzm", D1, "success")])  # delivered, or recorded missing
    assert base_dates(tmp_path, [D1]) == ([D1], None)


def test_a_change_to_an_old_date_rebuilds_every_later_ingested_date_in_order(tmp_path):
    _ingested(tmp_path, _all(D1) + _all(D2) + _all(D3))
    assert base_dates(tmp_path, [D2]) == ([D2, D3], None)
    assert base_dates(tmp_path, [D3, D1]) == ([D1, D2, D3], None)


def test_an_unsettled_date_holds_back_the_dates_after_it(tmp_path):
    _ingested(tmp_path, _all(D1) + _all(D2, but=("gaj_hjrk",)) + _all(D3))
    dates, waiting = base_dates(tmp_path, [D1, D3])
    assert dates == [D1]
    assert waiting == (
        "base: 2026-11-03 waits for gaj_hjrk (not ingested yet); the 1 date(s) after it wait too"
    )


def test_nothing_is_built_ahead_of_an_earlier_date_not_ingested_yet(tmp_path):
    """A scheduled run for the latest date may come before a backfill of the earlier ones:
    building it first would stamp rows changed on it that were there all along."""
    _ingested(tmp_path, _all(D3))
    dates, waiting = base_dates(tmp_path, [D3])
    assert dates == [] and waiting.startswith("base: 2026-11-02 waits for gaj_hjrk, ")
    _ingested(tmp_path, _all(D1) + _all(D2))
    assert base_dates(tmp_path, [D1]) == ([D1, D2, D3], None)


def test_dates_built_since_their_last_delivery_are_not_rebuilt_unless_asked_by_hand(tmp_path):
    _ingested(tmp_path, _all(D1) + _all(D2) + _all(D3), at=0)
    _runs(tmp_path, [("base.licence", d, "success") for d in (D1, D2, D3)], at=10)
    assert base_dates(tmp_path, [D2]) == ([], None)  # a stale event: nothing changed since
    assert base_dates(tmp_path, [D2], force=True) == ([D2, D3], None)
    _ingested(tmp_path, [("gaj_hjrk", D2, "success")], at=20)  # a correction for D2
    assert base_dates(tmp_path, [D1, D2]) == ([D2, D3], None)  # D1 is as it was
