"""The base stage: person links, 人口库, 法人库 and 电子证照库 for one business date."""

from __future__ import annotations

import datetime as dt

from jobs.pipeline.base.legal_person import (
    build_legal_person,
    legal_person_links,
    legal_person_records,
)
from jobs.pipeline.base.licence import build_licence
from jobs.pipeline.base.link import LINK_KEYS, link_persons, person_references
from jobs.pipeline.base.person import build_person
from jobs.pipeline.base.state import CurrentRows
from jobs.pipeline.stage import StageReport
from jobs.platform.lake import Lake


def build_base(lake: Lake, business_date: dt.date, *, echo=None) -> StageReport:
    """Rebuild the base libraries as of ``business_date``.

    Idempotent and incremental: each table is made equal to that date's build by writing only
    the rows that changed (Lake.apply_changes); a rebuild of the same date writes nothing.
    """
    show = echo or (lambda _line: None)
    report = StageReport("base", business_date)
    changes: dict[str, dict] = {}
    # each run reads its own sources (inside the run: what a run reads is its lineage)
    with lake.run("base.person", business_date=business_date):
        current = CurrentRows(lake, business_date)
        refs = lake.checkpoint(person_references(current), "person-references")
        links = link_persons(refs, business_date, checkpoint=lake.checkpoint)
        changes["silver.person_link"] = lake.apply_changes(
            links, "silver.person_link", keys=LINK_KEYS, changed_on=business_date
        )
        links = lake.read("silver.person_link")
        changes["silver.person"] = lake.apply_changes(
            build_person(
                links=links, current=current, as_of=business_date, checkpoint=lake.checkpoint
            ),
            "silver.person",
            keys=["person_id"],
            changed_on=business_date,
        )
    with lake.run("base.legal_person", business_date=business_date):
        current = CurrentRows(lake, business_date)
        links = lake.read("silver.person_link")
        records = legal_person_records(links=links, current=current, checkpoint=lake.checkpoint)
        changes["silver.legal_person"] = lake.apply_changes(
            build_legal_person(records),
            "silver.legal_person",
            keys=["entity_id"],
            changed_on=business_date,
        )
        known = lake.read("silver.legal_person")
        changes["silver.legal_person_link"] = lake.apply_changes(
            legal_person_links(records=records, known=known, current=current),
            "silver.legal_person_link",
            keys=LINK_KEYS,
            changed_on=business_date,
        )
    with lake.run("base.licence", business_date=business_date):
        current = CurrentRows(lake, business_date)
        links = lake.read("silver.person_link")
        licences = build_licence(
            links=links,
            person=lake.read("silver.person"),
            legal=lake.read("silver.legal_person"),
            current=current,
            as_of=business_date,
            checkpoint=lake.checkpoint,
        )
        changes["silver.licence"] = lake.apply_changes(
            licences, "silver.licence", keys=["licence_key"], changed_on=business_date
        )
    report.say(_summary(lake, links, changes), show)
    return report


def _summary(lake: Lake, links, changes: dict[str, dict]) -> list[str]:
    """The stage's report: sizes of the base libraries and what the date changed."""
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
    lines.append(
        "changed: "
        + "; ".join(
            f"{t} +{c['inserted_or_updated']:,} -{c['deleted']:,}" for t, c in changes.items()
        )
    )
    return lines
