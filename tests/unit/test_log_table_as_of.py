"""A log table read ``--as-of`` a date is the version committed by the end of that date, or none:
never a later state that delta-rs loads for a time before every commit it holds."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from jobs.platform.delta import commit_time, expire_log
from jobs.serving.sql.session import _load_end_of_day


@pytest.fixture
def log_table(tmp_path):
    path = tmp_path / "queries"
    for v in range(12):
        write_deltalake(str(path), pa.table({"v": [v]}), mode="append")
        if v == 9:
            DeltaTable(str(path)).create_checkpoint()
    return path


def test_the_end_of_today_reads_the_latest_version(log_table):
    dtab = DeltaTable(str(log_table))
    _load_end_of_day(dtab, "audit.queries", dt.datetime.now(dt.UTC).date())
    assert dtab.version() == 11


def test_a_date_before_the_table_existed_reads_nothing(log_table):
    dtab = DeltaTable(str(log_table))
    with pytest.raises(LookupError, match="no version on or before 2020-01-01"):
        _load_end_of_day(dtab, "audit.queries", dt.date(2020, 1, 1))


def test_a_date_before_an_expired_log_reads_nothing(log_table):
    assert expire_log(log_table, keep={11}) > 0  # the log starts at the checkpoint, version 9
    dtab = DeltaTable(str(log_table))
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    with pytest.raises(LookupError, match="its log starts after that date"):
        _load_end_of_day(dtab, "audit.queries", yesterday)


def test_commit_time_is_the_commits_own(log_table):
    now = dt.datetime.now(dt.UTC)
    first = commit_time(log_table, 0)
    assert first is not None and now - dt.timedelta(minutes=5) < first <= now
    assert commit_time(log_table, 99) is None
