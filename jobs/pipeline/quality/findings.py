"""Findings (问题数据清单) and their life: open while deliveries show them, resolved after.

Each business date's failed checks are kept in ``quality.finding_history`` (one row per finding
per date it was seen; the date's slice is replaced on a rerun, so reruns and backfills are safe).
``quality.findings`` is what the whole history says: one row per finding with the batch of the
responsible source in which it was first and last seen, and ``status`` ``open`` when it was seen
on the latest date its rule was evaluated, ``resolved`` otherwise. A finding is never deleted.

A date that follows the one the table was last derived for carries it forward with the date's
slice (``carry_findings``) instead of reading every date again (``derive_findings``): the same
table, at a cost that follows the findings rather than the age of the lake.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.platform.config import catalog
from jobs.platform.delta import run_versions
from jobs.platform.history import last_success
from jobs.platform.lake import Lake

FINDINGS = "quality.findings"
HISTORY = "quality.finding_history"

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
# a finding's columns taken from the latest date it was seen
_LAST = [
    "finding_id",
    *[c for c in HISTORY_COLUMNS if c not in ("finding_id", "_batch_id", "_business_date")],
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
    lasts = h.filter(F.col("_n_last") == 1).select(*_seen())
    return _with_status(lasts.join(firsts, "finding_id"), evaluated)


def carry_findings(previous: DataFrame, seen: DataFrame, *, evaluated: DataFrame) -> DataFrame:
    """What ``derive_findings`` gives for the history up to a date, from the findings derived
    up to an earlier date (``previous``) and the history's slice of the date (``seen``), when no
    date between the two was seen: a finding seen on the date is last seen then, and first seen
    when ``previous`` says or else then; the others stay as ``previous`` has them. Every status
    is decided again, since a rule evaluated on the date resolves what it no longer finds."""
    earlier = previous.select(
        "finding_id",
        F.col("first_seen_batch").alias("_first_batch"),
        F.col("first_seen_on").alias("_first_on"),
    )
    known = F.col("_first_on").isNotNull()
    now = (
        seen.select(*_seen())
        .join(earlier, "finding_id", "left")
        .withColumn(
            "first_seen_batch",
            F.when(known, F.col("_first_batch")).otherwise(F.col("last_seen_batch")),
        )
        .withColumn(
            "first_seen_on", F.when(known, F.col("_first_on")).otherwise(F.col("last_seen_on"))
        )
        .drop("_first_batch", "_first_on")
    )
    kept = previous.join(seen.select("finding_id"), "finding_id", "left_anti")
    columns = [*_LAST, "last_seen_batch", "last_seen_on", "first_seen_batch", "first_seen_on"]
    return _with_status(now.select(*columns).unionByName(kept.select(*columns)), evaluated)


def _seen() -> list:
    """The history's columns as the findings show the row of the latest date seen."""
    return [
        *_LAST,
        F.col("_batch_id").alias("last_seen_batch"),
        F.col("_business_date").alias("last_seen_on"),
    ]


def _with_status(found: DataFrame, evaluated: DataFrame) -> DataFrame:
    departments = F.create_map(
        *[x for e in catalog().values() for x in (F.lit(e.source_id), F.lit(e.department))]
    )
    out = (
        found.join(F.broadcast(evaluated), "rule_id", "left")
        .withColumn(
            "status",
            F.when(F.col("last_seen_on") >= F.col("_rule_latest"), "open").otherwise("resolved"),
        )
        .withColumn("department", departments[F.col("source_id")])
    )
    return out.select(*FINDING_COLUMNS)


def carried_from(
    lake: Lake, business_date: dt.date, *, history_before: int | None
) -> tuple[dt.date | None, str]:
    """The date ``quality.findings`` was last derived for, when ``carry_findings`` from it
    gives the findings of ``business_date``: the table holds what that derivation left (a
    compaction aside), by the same code, and the history it read has changed only by the slice
    of ``business_date`` (``history_before``: the history's version before that slice was
    written), which follows every date it holds up to the date. Else (None, why not)."""
    from lineage.recorder import code_version

    if not lake.exists(FINDINGS) or not lake.exists("lineage.runs"):
        return None, "no earlier derivation"
    last = last_success(lake, FINDINGS)
    if last is None:
        return None, "no earlier derivation"
    # compacted since (govlake maintain) is still the same
    if not lake.same_rows(FINDINGS, run_versions(last["outputs"]).get(FINDINGS)):
        return None, f"{FINDINGS} changed since it was derived"
    read = run_versions(last["inputs"]).get(HISTORY)
    if history_before is None or not lake.same_rows(HISTORY, read, until=history_before):
        return None, f"{HISTORY} changed since {FINDINGS} was derived"
    running = code_version()
    if last["code_version"] != running or running == "unknown":
        return None, "the code changed since the last derivation"
    since = last["business_date"]
    if since is None or since >= business_date:
        return None, f"derived last for {since}, not a date before {business_date}"
    # rows after `since` and before the date would have been left out of the table: look at
    # every file's dates (a file the log has no statistics of counts as holding any)
    ranges = lake.value_ranges(HISTORY, "_business_date")
    if any(r is None or (r[1] > since and r[0] < business_date) for r in ranges):
        return None, f"{HISTORY} holds dates between {since} and {business_date}"
    return since, ""


def write_findings(
    lake: Lake,
    business_date: dt.date,
    *,
    evaluated: DataFrame,
    history_before: int | None,
    full: bool = False,
) -> tuple[dict[str, int], str]:
    """Make ``quality.findings`` what the history up to the date says (inside the caller's
    run): carried from the last derivation when ``carried_from`` allows it and ``full`` is not
    asked, else derived from the whole history. The changes written, and how it was done."""
    derived = derive_findings(
        lake.read(HISTORY).filter(F.col("_business_date") <= F.lit(business_date)), evaluated
    )
    since, why = (
        (None, "--full")
        if full
        else carried_from(lake, business_date, history_before=history_before)
    )
    if since is None:
        findings, lineage, how = derived, None, f"from the whole history: {why}"
    else:  # the same table from the last one and the date's slice
        seen = lake.read(HISTORY).filter(F.col("_business_date") == F.lit(business_date))
        findings = carry_findings(lake.read(FINDINGS, record=False), seen, evaluated=evaluated)
        lineage, how = derived, f"carried from {since}"
    change = lake.apply_changes(
        findings, FINDINGS, keys=["finding_id"], changed_on=business_date, lineage=lineage
    )
    return change, how
