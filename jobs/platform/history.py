"""The state of a base library on any past business date.

Each business date's build overwrites silver.person, silver.legal_person and silver.licence and
records, in lineage.runs, the Delta version it wrote. The table as of a date is the version
written by the latest successful build for the latest business date on or before it: Delta
time travel behind a function. (Vacuum with a retention longer than the history you keep.)
"""

from __future__ import annotations

import datetime as dt

import pyarrow.compute as pc
from pyspark.sql import DataFrame

from jobs.platform.delta import build_as_of
from jobs.platform.lake import Lake

JOBS = {
    "silver.person": "base.person",
    "silver.person_link": "base.person",
    "silver.legal_person": "base.legal_person",
    "silver.legal_person_link": "base.legal_person",
    "gold.person_profile": "gold.person_profile",
    "gold.enterprise_profile": "gold.enterprise_profile",
    "silver.licence": "base.licence",
    "quality.findings": "quality.findings",
}


class NoHistory(LookupError):
    """No build of the table on or before the date."""


def version_as_of(lake: Lake, table: str, *, as_of: dt.date) -> tuple[int, dt.date]:
    """(Delta version, business date it holds) of ``table`` for ``as_of``. A reader's view
    (``Lake.published``) answers from its publication; a writer from lineage.runs."""
    if lake.pinned is not None:
        version = lake.pinned.version(table)
        if version is None:
            raise NoHistory(f"{table} is not published for {as_of}")
        return version, lake.pinned.business_date
    runs = lake.read_arrow("lineage.runs")  # a log of a few rows a run: no engine request
    runs = runs.filter(pc.equal(runs["job"], JOBS[table]))
    found = build_as_of(runs, table, as_of=as_of)
    if found is None:
        raise NoHistory(f"{table} has no build on or before {as_of}")
    return found


def read_as_of(lake: Lake, table: str, *, as_of: dt.date | None) -> DataFrame:
    """The table as of a business date (None: as the lake holds it; for a reader's view, as
    published)."""
    if as_of is None or lake.pinned is not None:
        return lake.read(table)  # a view is pinned to its date already
    version, _ = version_as_of(lake, table, as_of=as_of)
    return lake.read(table, version=version)


def last_success(lake: Lake, job: str) -> dict | None:
    """The latest successful run of ``job`` (its row of lineage.runs), or None; read as a
    comparison, not as an input of the running job."""
    runs = lake.read_arrow("lineage.runs", record=False)
    mine = [
        r
        for r in runs.to_pylist()
        if r["job"] == job and r["status"] == "success" and r["ended_at"] is not None
    ]
    return max(mine, key=lambda r: r["ended_at"]) if mine else None
