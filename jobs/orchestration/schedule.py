"""Schedules, business dates, assets and defaults shared by every govlake DAG.

Business date: a run's data interval in Beijing time (+08:00) is one business date, from
00:00 to 00:00 the next day (``CronDataIntervalTimetable``: classic data intervals). The date is
``data_interval_start`` in +08:00, never ``ds`` (rendered in UTC) nor ``logical_date``.
Asset-triggered runs have no data interval: they take their dates from the events that
triggered them (``business_dates`` in each event's extra) or from ``dag_run.conf``.

Environment (the one place the DAGs read it):

* ``GOVLAKE_LAKE``, ``GOVLAKE_LANDING``: the lake and the landing zone (default var/lake and
  var/landing in the project);
* ``GOVLAKE_AIRFLOW_START``, ``GOVLAKE_AIRFLOW_RETRIES``, ``GOVLAKE_AIRFLOW_RETRY_DELAY``:
  override conf/orchestration.yaml (the go-live business date, retries and their delay);
* ``GOVLAKE_AIRFLOW_END``: the last business date to schedule (unset in production).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, CronTriggerTimetable

from jobs.pipeline.stages import STAGES
from jobs.platform import settings
from jobs.platform.config import CatalogEntry, catalog, project_dir

# Beijing time. A FixedTimezone object: the string "+08:00" does not serialise.
TZ = pendulum.FixedTimezone(8 * 3600, name="+08:00")
OWNER = "govlake"
LAKE_POOL = "govlake_lake"  # one slot: lake writers run one at a time (see docs/airflow.md)

# update_cycle → (cron of the data intervals, is a business date on that cycle)
CYCLES = {  # the schedule of each update cycle (its dates: CatalogEntry.expects)
    "daily": "0 0 * * *",
    "weekly": "0 0 * * 1",  # business week starts Monday
    "monthly": "0 0 1 * *",
}

# downstream DAGs, in stage order: (stage, upstream assets' stage); bronze is the ingestion DAGs
# (stage, the stage whose asset triggers it), from the one registry of stages
BUILD_STAGES = [(s.name, before.name) for before, s in zip(STAGES, STAGES[1:], strict=False)]
DESCRIPTIONS = {s.name: s.description for s in STAGES}


def lake_dir() -> Path:
    """The lake the DAGs write (``GOVLAKE_LAKE``, else var/lake of the project)."""
    return Path(os.environ.get("GOVLAKE_LAKE") or project_dir() / "var" / "lake").resolve()


def landing_dir() -> Path:
    """The landing zone the DAGs read (``GOVLAKE_LANDING``, else var/landing)."""
    return Path(os.environ.get("GOVLAKE_LANDING") or project_dir() / "var" / "landing").resolve()


def _setting(name: str, env: str):
    return os.environ.get(env) or getattr(settings.orchestration(), name)


def start_date() -> pendulum.DateTime:
    """00:00 +08:00 of the first business date deliveries are expected (go-live)."""
    day = dt.date.fromisoformat(str(_setting("start_date", "GOVLAKE_AIRFLOW_START")))
    return pendulum.datetime(day.year, day.month, day.day, tz=TZ)


def end_date() -> pendulum.DateTime | None:
    """The last business date to schedule (``GOVLAKE_AIRFLOW_END``; none in production).

    ``make airflow`` sets it to the sample landing zone's last date, so that the scheduler
    does not run today's date against a landing zone that stops weeks ago.
    """
    value = os.environ.get("GOVLAKE_AIRFLOW_END")
    if not value:
        return None
    day = dt.date.fromisoformat(value)
    return pendulum.datetime(day.year, day.month, day.day, tz=TZ)


def timetable(update_cycle: str) -> CronDataIntervalTimetable:
    """One data interval per business date (week, month) of the cycle, in +08:00."""
    return CronDataIntervalTimetable(CYCLES[update_cycle], timezone=TZ)


def maintenance_timetable() -> CronTriggerTimetable:
    """When ``govlake_maintain`` runs (conf/maintenance.yaml ``schedule``, in +08:00): a
    trigger at a time, not a business date's data interval."""
    return CronTriggerTimetable(settings.maintenance().schedule, timezone=TZ)


def expected_on(entry: CatalogEntry, business_date: dt.date) -> bool:
    """Whether the source delivers for this business date (its cycle's dates only)."""
    return entry.expects(business_date)


def default_args() -> dict:
    """Owner, and retries with exponential backoff (conf/orchestration.yaml)."""
    return {
        "owner": OWNER,
        "retries": int(_setting("retries", "GOVLAKE_AIRFLOW_RETRIES")),
        "retry_delay": dt.timedelta(
            seconds=float(_setting("retry_delay_seconds", "GOVLAKE_AIRFLOW_RETRY_DELAY"))
        ),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=settings.orchestration().max_retry_delay_minutes),
    }


def sources() -> list[CatalogEntry]:
    """The onboarded sources (conf/catalog), one ingestion DAG each."""
    return [catalog()[s] for s in sorted(catalog())]


def bronze_asset(source_id: str) -> Asset:
    """Emitted when a source's delivery of a date has been ingested (or found missing)."""
    return Asset(
        name=f"bronze.{source_id}", uri=f"govlake://lake/bronze/{source_id}", group="govlake"
    )


def stage_asset(stage: str) -> Asset:
    """Emitted when a build stage has rebuilt its tables for some business dates."""
    return Asset(name=f"govlake.{stage}", uri=f"govlake://lake/stage/{stage}", group="govlake")


def upstream_assets(stage: str) -> list[Asset]:
    """The assets that trigger a build stage: every bronze asset for the base, else the stage before's."""
    upstream = dict(BUILD_STAGES)[stage]
    if upstream == "bronze":
        return [bronze_asset(e.source_id) for e in sources()]
    return [stage_asset(upstream)]


def business_date(context) -> dt.date:
    """The business date a scheduled, backfilled or manual run is for.

    ``dag_run.conf["business_date"]`` wins (a manual run for any date); otherwise the data
    interval's start in +08:00.
    """
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    if conf.get("business_date"):
        return dt.date.fromisoformat(str(conf["business_date"]))
    start = context.get("data_interval_start")
    if start is None:
        raise ValueError(
            "this run has no data interval: trigger it with a logical date, or with "
            'conf {"business_date": "YYYY-MM-DD"}'
        )
    return start.in_timezone(TZ).date()


def event_dates(context) -> list[dt.date]:
    """The business dates an asset-triggered run is for: every triggering event's
    ``business_dates`` (one run consumes every event queued since the last), plus
    ``dag_run.conf["business_dates"]`` for manual runs and ``dag.test``."""
    dates: set[str] = set()
    for events in (context.get("triggering_asset_events") or {}).values():
        for event in events:
            dates.update((event.extra or {}).get("business_dates", []))
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    dates.update(conf.get("business_dates", []))
    if conf.get("business_date"):
        dates.add(conf["business_date"])
    return sorted(dt.date.fromisoformat(str(d)) for d in dates)
