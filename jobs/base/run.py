"""The base stage: person links, 人口库, 法人库 and 电子证照库 for one business date."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F

from jobs.base.legal_person import build_legal_person
from jobs.base.licence import build_licence
from jobs.base.link import link_persons, person_references
from jobs.base.person import build_person
from jobs.lake import Lake
from jobs.stages import StageReport


def build_base(lake: Lake, business_date: dt.date, echo=None) -> StageReport:
    """Rebuild the base libraries as of ``business_date`` (idempotent: each is replaced)."""
    show = echo or (lambda _line: None)
    report = StageReport("base", business_date)
    with lake.run("base.person", business_date=business_date):
        refs = lake.checkpoint(person_references(lake, business_date), "person-references")
        links = link_persons(refs, business_date, checkpoint=lake.checkpoint)
        lake.overwrite(links.withColumn("_as_of", F.lit(business_date)), "silver.person_link")
        links = lake.read("silver.person_link")
        lake.overwrite(build_person(lake, links, business_date), "silver.person")
    with lake.run("base.legal_person", business_date=business_date):
        links = lake.read("silver.person_link")
        lake.overwrite(build_legal_person(lake, links, business_date), "silver.legal_person")
    with lake.run("base.licence", business_date=business_date):
        links = lake.read("silver.person_link")
        licences = build_licence(
            lake, links, lake.read("silver.person"), lake.read("silver.legal_person"), business_date
        )
        lake.overwrite(licences, "silver.licence")
    methods = {
        r["match_method"]: r["count"] for r in links.groupBy("match_method").count().collect()
    }
    persons = lake.read("silver.person").count()
    legal = lake.read("silver.legal_person").groupBy("org_kind").count().collect()
    lic = lake.read("silver.licence").groupBy("holder_known").count().collect()
    lines = [
        f"silver.person        {persons:,} people",
        "silver.person_link   " + ", ".join(f"{k}={v:,}" for k, v in sorted(methods.items())),
        "silver.legal_person  "
        + ", ".join(f"{r['org_kind']}={r['count']:,}" for r in sorted(legal)),
        "silver.licence       "
        + ", ".join(
            f"{'holder known' if r['holder_known'] else 'holder unknown'}={r['count']:,}"
            for r in sorted(lic)
        ),
    ]
    for line in lines:
        show("   " + line)
    report.lines += lines
    return report
