"""Acceptance of the theme libraries on the twenty-thousand command-line city (slow)."""

import datetime as dt

import pandas as pd
import pytest

from jobs.platform.history import read_as_of
from jobs.platform.lake import Lake
from tests.integration.gold_truth import relation_accuracy

pytestmark = pytest.mark.slow


def test_spouses_children_and_representatives_are_right(cli_city):
    landing, lake, run = cli_city
    assert run.returncode == 0, run.stderr
    acc = relation_accuracy(landing, lake)
    assert acc["persons"] > 19_000
    assert acc["spouse"] >= 0.99, acc
    assert acc["children"] >= 0.99, acc
    assert acc["legal_rep"] >= 0.995, acc


def test_a_cancellation_shows_on_its_date_and_not_before(cli_city, spark):
    landing, lake_dir, _ = cli_city
    lake = Lake(lake_dir, spark)
    firms = pd.read_parquet(landing / "_truth" / "enterprises.parquet")
    first = dt.date(2026, 11, 2)
    closed = firms[firms.cancelled_on.notna() & (firms.cancelled_on > first)]
    assert len(closed) >= 1  # the seed closes three enterprises after the first date

    def status(day):
        g = read_as_of(lake, "gold.enterprise_profile", as_of=day)
        return g.select("uscc", "registration.reg_status").toPandas().set_index("uscc")

    for r in closed.itertuples():
        before, on = status(r.cancelled_on - dt.timedelta(days=1)), status(r.cancelled_on)
        assert before.at[r.uscc, "reg_status"] == "active"
        assert on.at[r.uscc, "reg_status"] == "cancelled"
