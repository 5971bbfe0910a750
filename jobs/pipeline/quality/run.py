"""The quality stage for one business date: expectations, cross-source rules and findings.

Writes (all idempotent per date: a rerun replaces the date's slice):
* ``quality.results``          one row per rule or expectation, table and source;
* ``quality.finding_history``  one row per finding per date it was seen;
* ``quality.findings``         every finding ever raised, open or resolved (derived).

``quality.scores`` (per source, department, table and platform and dimension) and the gold
suites' rows of ``quality.results`` are written by the ``scores`` stage (scoring.py), after
the themes.
"""

from __future__ import annotations

import datetime as dt
import time
from functools import reduce

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.pipeline.base.state import CurrentRows
from jobs.pipeline.quality import delivery
from jobs.pipeline.quality.actions import dismissed_counts
from jobs.pipeline.quality.findings import (
    FINDINGS,
    HISTORY,
    HISTORY_SCHEMA,
    batches_as_of,
    history_rows,
    write_findings,
)
from jobs.pipeline.quality.rules import RuleInputs, enabled_rules, rule_settings, rules
from jobs.pipeline.quality.scores import compute_scores, discount_dismissed
from jobs.pipeline.stage import StageReport
from jobs.platform.config import catalog
from jobs.platform.history import read_as_of
from jobs.platform.lake import Lake

RESULT_COLUMNS = [
    "run_id",
    "table",
    "source_id",
    "_batch_id",
    "rule_id",
    "dimension",
    "evaluated",
    "failed",
    "success",
    "evaluated_at",
    "_business_date",
]
RESULT_SCHEMA = (
    "run_id string, table string, source_id string, _batch_id string, rule_id string, "
    "dimension string, evaluated long, failed long, success boolean, evaluated_at timestamp, "
    "_business_date date"
)
SCORE_SCHEMA = (
    "scope string, scope_id string, dimension string, score double, evaluated long, "
    "failed long, _business_date date"
)


def rule_inputs(lake: Lake, business_date: dt.date) -> RuleInputs:
    """The base libraries as of the date (time travel) and the sources' current rows."""
    return RuleInputs(
        as_of=business_date,
        person=read_as_of(lake, "silver.person", as_of=business_date),
        links=read_as_of(lake, "silver.person_link", as_of=business_date),
        legal_person=read_as_of(lake, "silver.legal_person", as_of=business_date),
        legal_person_link=read_as_of(lake, "silver.legal_person_link", as_of=business_date),
        licence=read_as_of(lake, "silver.licence", as_of=business_date),
        current=CurrentRows(lake, business_date),
        checkpoint=lake.checkpoint,
    )


def run_rules(lake: Lake, business_date: dt.date, *, show) -> tuple[list[dict], DataFrame | None]:
    """Evaluate every enabled cross-source rule: result rows and the failed checks."""
    inputs = rule_inputs(lake, business_date)
    rows, failed = [], []
    for rule_id in enabled_rules():
        conf = rule_settings(rule_id)
        t0 = time.time()
        rule = rules()[rule_id]
        checks = lake.checkpoint(rule.evaluate(inputs, conf), f"rule-{rule_id}")
        counts = (
            checks.groupBy("source_id")
            .agg(F.count("*").alias("n"), F.sum(F.col("failed").cast("long")).alias("f"))
            .collect()
        )
        base = {"rule_id": rule_id, "dimension": conf.dimension, "table": conf.table}
        for c in counts:
            rows.append(
                {**base, "source_id": c["source_id"], "evaluated": c["n"], "failed": c["f"] or 0}
            )
        if not counts:  # evaluated nothing today: still recorded, so its findings can resolve
            responsible = conf.responsible
            rows.append(
                {
                    **base,
                    "source_id": responsible if responsible in catalog() else None,
                    "evaluated": 0,
                    "failed": 0,
                }
            )
        bad = sum(c["f"] or 0 for c in counts)
        total = sum(c["n"] for c in counts)
        show(f"   {rule_id:<28} {bad:>8,} of {total:>10,}  ({time.time() - t0:.1f}s)")
        failed.append(
            checks.filter(F.col("failed"))
            .withColumn("rule_id", F.lit(rule_id))
            .withColumn("dimension", F.lit(conf.dimension))
            .withColumn(
                "_value", F.col("observed") if rule.per_value else F.lit(None).cast("string")
            )
        )
    return rows, (reduce(DataFrame.unionByName, failed) if failed else None)


def build_quality(
    lake: Lake, business_date: dt.date, *, echo=None, full: bool = False
) -> StageReport:
    """The quality stage for one date: suites, cross-source rules, delivery checks, findings.
    ``full`` derives the findings from the whole history, never from the previous date's."""
    show = echo or (lambda _line: None)
    report = StageReport("quality", business_date)
    t0 = time.time()
    with lake.run("quality.rules", business_date=business_date) as run:
        from jobs.pipeline.quality.suites import validate_tables

        t_gx = time.time()
        rows, gx_seconds = validate_tables(
            lake, business_date, show=show, docs_root=lake.root / "_gx"
        )
        t_gx = time.time() - t_gx
        rule_rows, failed = run_rules(lake, business_date, show=show)
        rows += rule_rows
        rows += delivery.delivery_results(lake, business_date)
        batches = batches_as_of(lake, business_date)
        results = _results_frame(lake, rows, batches, run.run_id, business_date)
        history = (
            history_rows(failed, batches, as_of=business_date)
            if failed is not None
            else lake.spark.createDataFrame([], HISTORY_SCHEMA)
        )
        history_before = lake.version(HISTORY)
        lake.replace_slice(history, HISTORY, where={"_business_date": business_date})
        # the whole slice: the scores stage adds the gold suites' rows after the themes
        lake.replace_slice(
            results,
            "quality.results",
            where={"_business_date": business_date},
            partition_by=None,
        )
    with lake.run(FINDINGS, business_date=business_date):
        # as of the date, like the base libraries: rerunning an old date (a correction, a
        # backfill) gives that date's findings, and the later dates, rerun after it, theirs
        upto = F.col("_business_date") <= F.lit(business_date)
        latest = (
            lake.read("quality.results")
            .filter(upto)
            .groupBy("rule_id")
            .agg(F.max("_business_date").alias("_rule_latest"))
        )
        change, how = write_findings(
            lake, business_date, evaluated=latest, history_before=history_before, full=full
        )
    open_n = lake.read(FINDINGS).filter(F.col("status") == "open").count()
    lines = [
        f"quality.findings  {open_n:,} open; changed +{change['inserted_or_updated']:,} ({how})",
        f"suites {t_gx:.1f}s (inside Great Expectations {gx_seconds:.1f}s) of "
        f"{time.time() - t0:.1f}s",
    ]
    report.say(lines, show)
    return report


def write_scores(lake: Lake, business_date: dt.date) -> pd.DataFrame:
    """(Re)compute the date's quality.scores from its quality.results, without the findings
    whose dispute was upheld by then (quality.finding_actions)."""
    with lake.run("quality.scores", business_date=business_date):
        res = (
            lake.read("quality.results")
            .filter(F.col("_business_date") == F.lit(business_date))
            .select("rule_id", "dimension", "table", "source_id", "evaluated", "failed")
            .toPandas()
        )
        scores = compute_scores(discount_dismissed(res, dismissed_counts(lake, business_date)))
        scores["_business_date"] = business_date
        lake.replace_slice(
            lake.spark.createDataFrame(scores, SCORE_SCHEMA),
            "quality.scores",
            where={"_business_date": business_date},
        )
    return scores


def write_table_results(
    lake: Lake, business_date: dt.date, *, table: str, rows: list[dict]
) -> None:
    """Replace one table's rows of the date's quality.results (suites run by later stages)."""
    with lake.run("quality.results", business_date=business_date) as run:
        frame = _results_frame(
            lake, rows, batches_as_of(lake, business_date), run.run_id, business_date
        )
        lake.replace_slice(
            frame, "quality.results", where={"_business_date": business_date, "table": table}
        )


def _results_frame(lake, rows, batches, run_id, business_date) -> DataFrame:
    now = dt.datetime.now(dt.UTC)
    pdf = pd.DataFrame(
        rows, columns=["rule_id", "dimension", "table", "source_id", "evaluated", "failed"]
    )
    pdf["run_id"] = run_id
    pdf["success"] = pdf["failed"] == 0
    pdf["evaluated_at"] = now
    pdf["_business_date"] = business_date
    pdf["_batch_id"] = pdf["source_id"].map(dict(batches.collect()))
    pdf["evaluated"] = pdf["evaluated"].astype("int64")
    pdf["failed"] = pdf["failed"].astype("int64")
    return lake.spark.createDataFrame(pdf[RESULT_COLUMNS], RESULT_SCHEMA)
