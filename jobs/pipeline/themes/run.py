"""The themes stage: gold.person_profile (一人一档) and gold.enterprise_profile (一企一档)."""

from __future__ import annotations

import datetime as dt

from jobs.pipeline.base.state import CurrentRows
from jobs.pipeline.stage import StageReport
from jobs.pipeline.themes.profiles import (
    ThemeInputs,
    build_enterprise_profile,
    build_person_profile,
)
from jobs.platform.history import read_as_of
from jobs.platform.lake import Lake


def build_themes(lake: Lake, business_date: dt.date, *, echo=None) -> StageReport:
    """Rebuild both profiles as of the date; only changed rows are written (apply_changes)."""
    show = echo or (lambda _line: None)
    report = StageReport("themes", business_date)
    # the inputs are read inside each run: what a run reads is its lineage
    with lake.run("gold.person_profile", business_date=business_date):
        people = lake.apply_changes(
            build_person_profile(theme_inputs(lake, business_date, employers=False)),
            "gold.person_profile",
            keys=["person_id"],
            changed_on=business_date,
        )
    with lake.run("gold.enterprise_profile", business_date=business_date):
        firms = lake.apply_changes(
            build_enterprise_profile(theme_inputs(lake, business_date, employers=True)),
            "gold.enterprise_profile",
            keys=["entity_id"],
            changed_on=business_date,
        )
    lines = [
        f"gold.person_profile      changed +{people['inserted_or_updated']:,} "
        f"-{people['deleted']:,}",
        f"gold.enterprise_profile  changed +{firms['inserted_or_updated']:,} -{firms['deleted']:,}",
    ]
    report.say(lines, show)
    return report


def theme_inputs(lake: Lake, business_date: dt.date, *, employers: bool) -> ThemeInputs:
    """The base libraries and open findings as of the date (time travel), the sources' rows;
    silver.legal_person_link only for the enterprises' employees (what is read is lineage)."""

    def as_of(table: str):
        return read_as_of(lake, table, as_of=business_date)

    return ThemeInputs(
        as_of=business_date,
        person=as_of("silver.person"),
        links=as_of("silver.person_link"),
        legal_person=as_of("silver.legal_person"),
        legal_person_link=as_of("silver.legal_person_link") if employers else None,
        licence=as_of("silver.licence"),
        # as the quality stage left them for the date (it may have run for later dates since)
        findings=as_of("quality.findings"),
        current=CurrentRows(lake, business_date),
        checkpoint=lake.checkpoint,
    )
