"""The themes stage: gold.person_profile (一人一档) and gold.enterprise_profile (一企一档)."""

from __future__ import annotations

import datetime as dt

from jobs.pipeline.stage import StageReport
from jobs.pipeline.themes.profiles import build_enterprise_profile, build_person_profile
from jobs.platform.lake import Lake


def build_themes(lake: Lake, business_date: dt.date, echo=None) -> StageReport:
    """Rebuild both profiles as of the date; only changed rows are written (apply_changes)."""
    show = echo or (lambda _line: None)
    report = StageReport("themes", business_date)
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
    lines = [
        f"gold.person_profile      changed +{people['inserted_or_updated']:,} "
        f"-{people['deleted']:,}",
        f"gold.enterprise_profile  changed +{firms['inserted_or_updated']:,} -{firms['deleted']:,}",
    ]
    report.say(lines, show)
    return report
