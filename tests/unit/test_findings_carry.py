"""quality.findings carried from the previous date (jobs/pipeline/quality/findings.py): the same
table as deriving it from the whole history, and carried only when that holds."""

from __future__ import annotations

import datetime as dt
import random

from deltalake import DeltaTable
from pyspark.sql import functions as F

from jobs.pipeline.quality.findings import (
    FINDING_COLUMNS,
    FINDINGS,
    HISTORY,
    HISTORY_COLUMNS,
    HISTORY_SCHEMA,
    carried_from,
    carry_findings,
    derive_findings,
)

DAY = dt.date(2026, 11, 2)
DATES = [DAY + dt.timedelta(days=i) for i in range(6)]
RULES = ["person_name_mismatch", "legal_rep_not_in_population", "licence_holder_unknown"]


def history(seed: int) -> list[tuple]:
    """Findings seen on some dates and not others, coming back, with values and batches that
    change from date to date (a batch may be unknown)."""
    rng = random.Random(seed)
    rows = []
    for n, day in enumerate(DATES):
        for f in range(40):
            if rng.random() < 0.45:
                continue
            rule = RULES[f % 3]
            rows.append(
                (
                    f"f{f:02d}",
                    rule,
                    "person",
                    f"p{f}",
                    "name",
                    ["gaj_hjrk", "mzj_hydj", "rsj_sbcb"][f % 3],
                    "consistency",
                    rng.choice(["张三", "李四", None]),
                    rng.choice(["张三", None]),
                    "gaj_hjrk",
                    rng.choice([f"b{n}", None]),
                    day,
                )
            )
    return rows


def evaluated(spark, upto: dt.date, seed: int):
    """(rule_id, _rule_latest): a rule is not run on every date, so some findings stay open
    when not seen on the latest date and others are resolved."""
    rng = random.Random(seed * 7 + upto.toordinal())
    rows = [(r, upto if rng.random() < 0.6 else upto - dt.timedelta(days=1)) for r in RULES]
    return spark.createDataFrame(rows, "rule_id string, _rule_latest date")


def rows(df) -> set[tuple]:
    return {tuple(r) for r in df.select(*FINDING_COLUMNS).collect()}


def test_carrying_each_date_forward_gives_the_findings_of_the_whole_history(spark):
    for seed in range(3):
        h = spark.createDataFrame(history(seed), HISTORY_SCHEMA).select(*HISTORY_COLUMNS)
        date = F.col("_business_date")
        carried = None
        for day in DATES:
            latest = evaluated(spark, day, seed)
            expected = rows(derive_findings(h.filter(date <= F.lit(day)), latest))
            if carried is None:  # the first date: nothing to carry from
                carried = derive_findings(h.filter(date <= F.lit(day)), latest)
            else:
                carried = carry_findings(carried, h.filter(date == F.lit(day)), evaluated=latest)
            carried = spark.createDataFrame(carried.collect(), carried.schema)  # as read back
            assert rows(carried) == expected, (seed, day)
        statuses = {r[-1] for r in expected}
        assert statuses == {"open", "resolved"}  # both ways a status can go were exercised


def test_a_date_with_nothing_seen_resolves_what_its_rules_no_longer_find(spark):
    h = spark.createDataFrame(history(0), HISTORY_SCHEMA).select(*HISTORY_COLUMNS)
    first = DATES[0]
    latest = spark.createDataFrame([(r, first) for r in RULES], "rule_id string, _rule_latest date")
    previous = derive_findings(h.filter(F.col("_business_date") == F.lit(first)), latest)
    later = spark.createDataFrame(
        [(r, DATES[1]) for r in RULES], "rule_id string, _rule_latest date"
    )
    nothing = h.limit(0)
    out = carry_findings(previous, nothing, evaluated=later).collect()
    assert out and {r["status"] for r in out} == {"resolved"}
    assert {r["last_seen_on"] for r in out} == {first}


def _slice(lake, day: dt.date, ids: list[str]) -> None:
    spark = lake.spark
    frame = spark.createDataFrame(
        [
            (i, "r1", "person", i, "name", "gaj_hjrk", "accuracy", "x", "y", None, "b", day)
            for i in ids
        ],
        HISTORY_SCHEMA,
    )
    with lake.run("quality.rules", business_date=day):
        lake.replace_slice(frame, HISTORY, where={"_business_date": day})


def _derive(lake, day: dt.date) -> None:
    latest = lake.spark.createDataFrame([("r1", day)], "rule_id string, _rule_latest date")
    with lake.run(FINDINGS, business_date=day):
        h = lake.read(HISTORY).filter(F.col("_business_date") <= F.lit(day))
        lake.apply_changes(
            derive_findings(h, latest), FINDINGS, keys=["finding_id"], changed_on=day
        )


def test_the_findings_are_carried_only_from_the_date_they_were_last_derived_for(lake):
    d1, d2, d3, d4 = DATES[:4]
    assert carried_from(lake, d1, history_before=None) == (None, "no earlier derivation")
    _slice(lake, d1, ["a", "b"])
    _derive(lake, d1)

    before = lake.version(HISTORY)
    _slice(lake, d2, ["b", "c"])
    assert carried_from(lake, d2, history_before=before) == (d1, "")
    # the history changed beside the date's slice (another date rewritten since)
    assert carried_from(lake, d2, history_before=before - 1)[0] is None

    _derive(lake, d2)
    # an earlier date rerun: not carried
    before = lake.version(HISTORY)
    _slice(lake, d1, ["a"])
    since, why = carried_from(lake, d1, history_before=before)
    assert since is None and "not a date before" in why
    _derive(lake, d1)  # the findings as of d1 again; the history still holds d2

    # d3 after the rerun of d1: the history holds d2, which the table left out
    before = lake.version(HISTORY)
    _slice(lake, d3, ["c"])
    since, why = carried_from(lake, d3, history_before=before)
    assert since is None and "holds dates between" in why

    # the table written by anything but its derivation
    _derive(lake, d3)
    before = lake.version(HISTORY)
    _slice(lake, d4, ["d"])
    assert carried_from(lake, d4, history_before=before) == (d3, "")
    DeltaTable(lake.path(FINDINGS)).delete("finding_id = 'c'")
    since, why = carried_from(lake, d4, history_before=before)
    assert since is None and "changed since it was derived" in why


def test_a_compaction_since_the_last_derivation_keeps_the_carry(lake):
    d1, d2, d3 = DATES[:3]
    for day, ids in ((d1, ["a", "b"]), (d2, ["b", "c"])):
        _slice(lake, day, ids)
        _derive(lake, day)
    history_at = lake.version(HISTORY)
    DeltaTable(lake.path(HISTORY)).optimize.compact()  # govlake maintain, between two dates
    assert lake.version(HISTORY) == history_at + 1 and lake.same_rows(HISTORY, history_at)
    before = lake.version(HISTORY)
    _slice(lake, d3, ["c", "d"])
    assert carried_from(lake, d3, history_before=before) == (d2, "")
    # a commit that changes rows is not a compaction
    assert not lake.same_rows(HISTORY, history_at)
    assert lake.same_rows(HISTORY, history_at, until=before)
