"""The themes stage: gold.person_profile (一人一档) and gold.enterprise_profile (一企一档)."""

from __future__ import annotations

import datetime as dt
import time

from jobs.gold.profiles import build_enterprise_profile, build_person_profile
from jobs.lake import Lake
from jobs.stages import StageReport


def build_themes(lake: Lake, business_date: dt.date, echo=None) -> StageReport:
    """Rebuild both profiles as of the date; only changed rows are written (apply_changes)."""
    show = echo or (lambda _line: None)
    report = StageReport("themes", business_date)
    t0 = time.time()
    with lake.run("gold.person_profile", business_date=business_date):
        people = lake.apply_changes(
            build_person_profile(lake, business_date),
            "gold.person_profile",
            keys=["person_id"],
            changed_on=business_date,
        )
    with lake.run("gold.enterprise_profile", business_date=business_date):
        firms = lake.apply_changes(
            build_enterprise_profile(lake, business_date),
            "gold.enterprise_profile",
            keys=["entity_id"],
            changed_on=business_date,
        )
    checked = _validate(lake, business_date, show)
    lines = [
        f"gold.person_profile      changed +{people['inserted_or_updated']:,} "
        f"-{people['deleted']:,}",
        f"gold.enterprise_profile  changed +{firms['inserted_or_updated']:,} -{firms['deleted']:,}",
        f"suites: {checked}",
        f"({time.time() - t0:.1f}s)",
    ]
    report.say(lines, show)
    return report


def _validate(lake: Lake, business_date: dt.date, show) -> str:
    """The gold suites, with the references each profile makes resolved against silver."""
    from pyspark.sql import functions as F

    from jobs.base.history import read_as_of
    from jobs.quality.run import write_scores, write_table_results
    from jobs.quality.suites import validate_tables

    people = read_as_of(lake, "silver.person", business_date).select("person_id")
    known = lake.checkpoint(people.withColumn("_k", F.lit(True)), "gold-known-people")

    def resolved(frame, key: str, ref, name: str):
        """(key, name): every id the row's ``ref`` (an array) names is a known person."""
        refs = frame.select(key, F.explode_outer(ref).alias("_ref"))
        refs = refs.join(known.withColumnRenamed("person_id", "_ref"), "_ref", "left")
        ok = F.col("_ref").isNull() | F.col("_k").isNotNull()
        return refs.groupBy(key).agg(F.min(ok).alias(name))

    profile = read_as_of(lake, "gold.person_profile", business_date)
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
    firms = read_as_of(lake, "gold.enterprise_profile", business_date)
    firm_frame = firms.select("entity_id", "uscc", "insured_employees").join(
        resolved(firms, "entity_id", F.array("legal_representative.person_id"), "_rep_known"),
        "entity_id",
    )
    known = known.select("person_id")
    parameters = {
        "silver_person_rows": known.count(),
        "silver_legal_person_rows": read_as_of(lake, "silver.legal_person", business_date).count(),
    }
    rows, _ = validate_tables(
        lake,
        business_date,
        show,
        docs_root=lake.root / "_gx",
        layers=("gold",),
        frames={"gold.person_profile": person_frame, "gold.enterprise_profile": firm_frame},
        parameters=parameters,
    )
    for table in ("gold.person_profile", "gold.enterprise_profile"):
        write_table_results(lake, business_date, table, [r for r in rows if r["table"] == table])
    write_scores(lake, business_date)
    failed = [r["rule_id"] for r in rows if r["failed"]]
    return f"{len(rows)} expectations, {len(failed)} failed" + (f": {failed}" if failed else "")
