"""The themes stage: gold.person_profile (一人一档) and gold.enterprise_profile (一企一档)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from jobs.pipeline.base.state import CurrentRows
from jobs.pipeline.stage import StageReport
from jobs.pipeline.themes.profiles import (
    ThemeInputs,
    build_enterprise_profile,
    build_person_profile,
)
from jobs.pipeline.themes.scope import QUOTED, person_profile_scope, restrict
from jobs.platform.config import settings_digest
from jobs.platform.delta import run_versions
from jobs.platform.history import last_success, read_as_of
from jobs.platform.lake import Lake

PROFILE = "gold.person_profile"
# what a person profile is built from (besides the bronze tables of the quoted sources)
PROFILE_INPUTS = (
    "silver.person",
    "silver.person_link",
    "silver.legal_person",
    "silver.licence",
    "quality.findings",
)


def build_themes(
    lake: Lake, business_date: dt.date, *, echo=None, full: bool = False
) -> StageReport:
    """Rebuild both profiles as of the date; only changed rows are written (apply_changes).

    The person profiles are built incrementally when the previous build can be compared with
    (``previous_build``): only the persons whose profile the changes since then can touch
    (jobs/pipeline/themes/scope.py). ``full`` builds every profile.
    """
    show = echo or (lambda _line: None)
    report = StageReport("themes", business_date)
    # the inputs are read inside each run: what a run reads is its lineage
    settings = {"settings": settings_digest()}  # the build depends on conf/ and schemas/
    with lake.run(PROFILE, business_date=business_date, inputs=settings):
        new = theme_inputs(lake, business_date, employers=False)
        previous, why = (None, "--full") if full else previous_build(lake)
        if previous is None:
            people = lake.apply_changes(
                build_person_profile(new), PROFILE, keys=["person_id"], changed_on=business_date
            )
            how = f"all persons ({why})"
        else:
            old = previous.inputs(lake)
            scope = lake.checkpoint(
                person_profile_scope(old, new, checkpoint=lake.checkpoint), "profile-scope"
            )
            profiles = build_person_profile(restrict(new, scope)).join(
                scope, "person_id", "left_semi"
            )
            people = lake.apply_changes(
                profiles, PROFILE, keys=["person_id"], changed_on=business_date, scope=scope
            )
            how = f"{scope.count():,} persons in scope since {previous.business_date}"
    with lake.run("gold.enterprise_profile", business_date=business_date):
        firms = lake.apply_changes(
            build_enterprise_profile(theme_inputs(lake, business_date, employers=True)),
            "gold.enterprise_profile",
            keys=["entity_id"],
            changed_on=business_date,
        )
    lines = [
        f"gold.person_profile      changed +{people['inserted_or_updated']:,} "
        f"-{people['deleted']:,}; built {how}",
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


@dataclass(frozen=True)
class PreviousBuild:
    """The build of the person profiles that the table holds now: its date and what it read."""

    business_date: dt.date
    versions: dict[str, int | None]

    def inputs(self, lake: Lake) -> ThemeInputs:
        """Its inputs, read at the versions it read (not recorded as this run's reads)."""

        def at(table: str):
            return lake.read(table, version=self.versions[table], record=False)

        return ThemeInputs(
            as_of=self.business_date,
            person=at("silver.person"),
            links=at("silver.person_link"),
            legal_person=at("silver.legal_person"),
            licence=at("silver.licence"),
            findings=at("quality.findings"),
            current=CurrentRows(lake, self.business_date, versions=self.versions),
            checkpoint=lake.checkpoint,
        )


def previous_build(lake: Lake) -> tuple[PreviousBuild | None, str]:
    """The latest successful build of the person profiles, when the table is as it left it
    and the code that built it is the code that runs; else (None, why not)."""
    from lineage.recorder import code_version

    if not lake.exists(PROFILE) or not lake.exists("lineage.runs"):
        return None, "no earlier build"
    last = last_success(lake, PROFILE)
    if last is None:
        return None, "no earlier build"
    outputs, inputs = run_versions(last["outputs"]), run_versions(last["inputs"])
    if not lake.same_rows(PROFILE, outputs.get(PROFILE)):  # compacted since is the same
        return None, f"{PROFILE} changed since its last build"
    running = code_version()
    if last["code_version"] != running or running == "unknown":
        return None, "the code changed since the last build"
    if inputs.get("settings") != settings_digest():
        return None, "conf/ or schemas/ changed since the last build"
    missing = [t for t in PROFILE_INPUTS if inputs.get(t) is None]
    if missing or last["business_date"] is None:
        return None, f"the last build's inputs are not recorded ({', '.join(missing)})"
    reread = [*PROFILE_INPUTS, "audit.deliveries", *(f"bronze.{s}" for s in QUOTED)]
    gone = [t for t in reread if inputs.get(t) is not None and not lake.readable(t, inputs[t])]
    if gone:
        return None, f"the last build's inputs were vacuumed ({', '.join(sorted(gone))})"
    return PreviousBuild(last["business_date"], inputs), ""
