"""Findings (问题数据清单) and their life: open while deliveries show them, resolved after.

Each business date's failed checks are kept in ``quality.finding_history`` (one row per finding
per date it was seen; the date's slice is replaced on a rerun, so reruns and backfills are safe).
``quality.findings`` is derived from the whole history: one row per finding with the batch of the
responsible source in which it was first and last seen, and ``status`` ``open`` when it was seen
on the latest date its rule was evaluated, ``resolved`` otherwise. A finding is never deleted.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.platform.config import catalog
from jobs.platform.lake import Lake

KEY = ["rule_id", "entity_kind", "entity_id", "attribute", "source_id"]
HISTORY_COLUMNS = [
    "finding_id",
    *KEY,
    "dimension",
    "observed",
    "expected",
    "authoritative_source",
    "_batch_id",
    "_business_date",
]
HISTORY_SCHEMA = (
    "finding_id string, rule_id string, entity_kind string, entity_id string, attribute string, "
    "source_id string, dimension string, observed string, expected string, "
    "authoritative_source string, _batch_id string, _business_date date"
)
FINDING_COLUMNS = [
    "finding_id",
    "rule_id",
    "dimension",
    "entity_kind",
    "entity_id",
    "attribute",
    "source_id",
    "department",
    "observed",
    "expected",
    "authoritative_source",
    "first_seen_batch",
    "last_seen_batch",
    "first_seen_on",
    "last_seen_on",
    "status",
]


def finding_id() -> F.Column:
    """A stable id: the same problem of the same entity in the same source keeps its id. A rule
    that finds each distinct value on its own (``Rule.per_value``) adds the value, in ``_value``."""
    parts = [F.coalesce(F.col(k), F.lit("")) for k in KEY]
    key = F.concat_ws("\u001f", *parts)
    return F.sha2(
        F.when(F.col("_value").isNull(), key).otherwise(F.concat_ws("\u001f", key, "_value")),
        256,
    ).substr(1, 20)


def batches_as_of(lake: Lake, as_of: dt.date) -> DataFrame:
    """(source_id, _batch_id): each source's latest accepted delivery on or before the date."""
    d = lake.read("audit.deliveries").filter(
        (F.col("status") == "accepted") & (F.col("business_date") <= F.lit(as_of))
    )
    w = Window.partitionBy("source_id").orderBy(
        F.col("business_date").desc(), F.col("batch_id").desc()
    )
    return (
        d.withColumn("_n", F.row_number().over(w))
        .filter(F.col("_n") == 1)
        .select("source_id", F.col("batch_id").alias("_batch_id"))
    )


def history_rows(failed: DataFrame, batches: DataFrame, *, as_of: dt.date) -> DataFrame:
    """One row per finding seen on ``as_of``: duplicates of one key collapse to the least value,
    except for the rules that find each value on its own (``_value``, see ``finding_id``)."""
    if "_value" not in failed.columns:
        failed = failed.withColumn("_value", F.lit(None).cast("string"))
    agg = failed.groupBy(*KEY, "_value").agg(
        F.first("dimension").alias("dimension"),
        F.min("observed").alias("observed"),
        F.min("expected").alias("expected"),
        F.min("authoritative_source").alias("authoritative_source"),
    )
    return (
        agg.withColumn("finding_id", finding_id())
        .join(F.broadcast(batches), "source_id", "left")
        .withColumn("_business_date", F.lit(as_of))
        .select(*HISTORY_COLUMNS)
    )


def derive_findings(history: DataFrame, evaluated: DataFrame) -> DataFrame:
    """quality.findings from the whole history; ``evaluated`` is (rule_id, latest date run)."""
    latest = Window.partitionBy("finding_id").orderBy(F.col("_business_date").desc())
    first = Window.partitionBy("finding_id").orderBy(F.col("_business_date").asc())
    h = history.withColumn("_n_last", F.row_number().over(latest)).withColumn(
        "_n_first", F.row_number().over(first)
    )
    firsts = h.filter(F.col("_n_first") == 1).select(
        "finding_id",
        F.col("_batch_id").alias("first_seen_batch"),
        F.col("_business_date").alias("first_seen_on"),
    )
    lasts = h.filter(F.col("_n_last") == 1).select(
        "finding_id",
        *[c for c in HISTORY_COLUMNS if c not in ("finding_id", "_batch_id", "_business_date")],
        F.col("_batch_id").alias("last_seen_batch"),
        F.col("_business_date").alias("last_seen_on"),
    )
    departments = F.create_map(
        *[x for e in catalog().values() for x in (F.lit(e.source_id), F.lit(e.department))]
    )
    out = (
        lasts.join(firsts, "finding_id")
        .join(F.broadcast(evaluated), "rule_id", "left")
        .withColumn(
            "status",
            F.when(F.col("last_seen_on") >= F.col("_rule_latest"), "open").otherwise("resolved"),
        )
        .withColumn("department", departments[F.col("source_id")])
    )
    return out.select(*FINDING_COLUMNS)
