"""The ``scores`` stage: the themes' suites, then the date's quality scores (GB/T 36344).

It runs after the themes, because the gold suites check the profiles the themes just built,
and the scores cover every table's results. The quality package owns every quality table, so
no other stage writes quality.results or quality.scores.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F

from jobs.pipeline.quality.run import write_scores, write_table_results
from jobs.pipeline.quality.suites import validate_tables
from jobs.pipeline.stage import StageReport
from jobs.platform.history import read_as_of
from jobs.platform.lake import Lake


def score_date(lake: Lake, business_date: dt.date, *, echo=None) -> StageReport:
    """Validate the date's profiles (gold suites), then (re)compute its quality.scores."""
    show = echo or (lambda _line: None)
    report = StageReport("scores", business_date)
    checked = _validate_themes(lake, business_date, show)
    scores = write_scores(lake, business_date)
    platform = scores[(scores["scope"] == "platform") & (scores["dimension"] == "overall")]
    lines = [f"gold suites: {checked}"]
    if len(platform):
        lines.append(f"quality.scores    platform {platform['score'].iloc[0]:.2f}")
    report.say(lines, show)
    return report


def _validate_themes(lake: Lake, business_date: dt.date, show) -> str:
    """The gold suites, with the references each profile makes resolved against silver."""
    people = read_as_of(lake, "silver.person", as_of=business_date).select("person_id")
    known = lake.checkpoint(people.withColumn("_k", F.lit(True)), "gold-known-people")

    def resolved(frame, key: str, ref, name: str):
        """(key, name): every id the row's ``ref`` (an array) names is a known person."""
        refs = frame.select(key, F.explode_outer(ref).alias("_ref"))
        refs = refs.join(known.withColumnRenamed("person_id", "_ref"), "_ref", "left")
        ok = F.col("_ref").isNull() | F.col("_k").isNotNull()
        return refs.groupBy(key).agg(F.min(ok).alias(name))

    profile = read_as_of(lake, "gold.person_profile", as_of=business_date)
    person_frame = (
        profile.select("person_id")
        .join(
            resolved(profile, "person_id", F.array("marriage.spouse_id"), "_spouse_known"),
            "person_id",
        )
        .join(
            resolved(profile, "person_id", F.col("children.person_id"), "_children_known"),
            "person_id",
        )
        .join(
            resolved(profile, "person_id", F.col("household.members.person_id"), "_members_known"),
            "person_id",
        )
    )
    firms = read_as_of(lake, "gold.enterprise_profile", as_of=business_date)
    firm_frame = firms.select("entity_id", "uscc", "insured_employees").join(
        resolved(firms, "entity_id", F.array("legal_representative.person_id"), "_rep_known"),
        "entity_id",
    )
    known = known.select("person_id")
    parameters = {
        "silver_person_rows": known.count(),
        "silver_legal_person_rows": read_as_of(
            lake, "silver.legal_person", as_of=business_date
        ).count(),
    }
    rows, _ = validate_tables(
        lake,
        business_date,
        show=show,
        docs_root=lake.root / "_gx",
        layers=("gold",),
        frames={"gold.person_profile": person_frame, "gold.enterprise_profile": firm_frame},
        parameters=parameters,
    )
    for table in ("gold.person_profile", "gold.enterprise_profile"):
        write_table_results(
            lake, business_date, table=table, rows=[r for r in rows if r["table"] == table]
        )
    failed = [r["rule_id"] for r in rows if r["failed"]]
    return f"{len(rows)} expectations, {len(failed)} failed" + (f": {failed}" if failed else "")
