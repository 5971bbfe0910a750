"""The base stage: person links, 人口库, 法人库 and 电子证照库 for one business date."""

from __future__ import annotations

import datetime as dt
import time

from pyspark.sql import functions as F

from jobs.base.link import link_persons, person_references
from jobs.base.person import build_person
from jobs.lake import Lake
from jobs.stages import StageReport


def build_base(lake: Lake, business_date: dt.date, echo=None) -> StageReport:
    """Rebuild the base libraries as of ``business_date`` (idempotent: each is replaced)."""
    show = echo or (lambda _line: None)
    report = StageReport("base", business_date)
    t0 = time.time()
    with lake.run("base.person", business_date=business_date):
        refs = lake.checkpoint(person_references(lake, business_date), "person-references")
        links = link_persons(refs, business_date, checkpoint=lake.checkpoint)
        lake.overwrite(links.withColumn("_as_of", F.lit(business_date)), "silver.person_link")
        links = lake.read("silver.person_link")
        lake.overwrite(build_person(lake, links, business_date), "silver.person")
    methods = {
        r["match_method"]: r["count"] for r in links.groupBy("match_method").count().collect()
    }
    persons = lake.read("silver.person").count()
    line = (
        f"silver.person {persons:,} people; links: "
        + ", ".join(f"{k}={v:,}" for k, v in sorted(methods.items()))
        + f" ({time.time() - t0:.1f}s)"
    )
    show("   " + line)
    report.lines.append(line)
    return report
