"""What each task of govlake's DAGs does. Each function takes the Airflow context, runs the
same job functions as ``govlake run`` and returns a small JSON summary (the task's XCom):

* :func:`ingest`: one source's delivery of the run's business date into bronze;
* :func:`confirm_delivery`: fails the ingestion run, clearly, when the delivery was missing
  past its SLA (after ingest recorded the gap, so the builds went ahead without it);
* :func:`build`: one build stage (base, quality, themes, catalog) for the dates the triggering
  asset events name, in date order;
* :func:`maintain`: ``govlake maintain`` on its schedule (compaction, log checkpoints, vacuum).

Order and reruns (see docs/airflow.md): the base libraries of a date are built from every
delivery up to it, so a change to date D (a late source, a correction) rebuilds D *and every
later date already ingested*, in order; and a date is built only once every source expected
on it has been ingested (or found missing), so the last source to arrive triggers the build.
The result is the lake ``govlake run`` makes by running the dates in order.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from jobs.orchestration import schedule

log = logging.getLogger(__name__)


class DeliveryMissing(AirflowFailException):
    """A delivery was missing past its SLA: the ingestion run says so and fails, without
    retrying (retrying cannot make it arrive)."""


LEASE_WAIT_SECONDS = 1800  # a task waits this long for another writer (then fails, retries)


@contextlib.contextmanager
def _writer():
    """The lake for a task that writes: the writer lease held (waiting for another writer,
    e.g. an operator's `govlake run`), what a killed task left swept, all released at the end."""
    from jobs.platform.engine import get_spark
    from jobs.platform.lake import Lake
    from jobs.platform.staging import sweep

    lake = Lake(schedule.lake_dir(), get_spark())
    wait = float(os.environ.get("GOVLAKE_LEASE_WAIT", LEASE_WAIT_SECONDS))
    lake.take_lease(command=f"airflow task {os.environ.get('AIRFLOW_CTX_TASK_ID', '')}", wait=wait)
    try:
        sweep(lake.root)
        yield lake
    finally:
        lake.close()


def _lineage(lake) -> dict:
    """The lake tables (and landing folders) the task's runs read and wrote."""
    inputs, outputs = set(), set()
    for run in lake.finished_runs:
        inputs.update(run.inputs)
        outputs.update(run.outputs)
    return {"inputs": sorted(inputs - outputs), "outputs": sorted(outputs)}


def _emit(context, asset, dates: list[dt.date], **extra) -> None:
    context["outlet_events"][asset].extra.update(
        {"business_dates": [d.isoformat() for d in dates], **extra}
    )


def ingest(source_id: str, delivery: dict | None, **context) -> dict:
    """Ingest the source's delivery of the run's date, whatever the sensor found; a missing
    delivery empties the date's slice and is recorded (its timeliness fails in quality)."""
    from jobs.pipeline.ingest.run import ingest_date

    date = schedule.business_date(context)
    delivery = delivery or {"status": "unchecked", "detail": "no sensor result"}
    with _writer() as lake:
        report = ingest_date(
            lake, schedule.landing_dir(), business_date=date, sources=[source_id], echo=log.info
        )
    result = report.details[0]
    for problem in report.problems:
        log.warning("%s", problem)
    if report.failures:  # rolled back or a file rejected as ingest_error: retry, then red
        raise RuntimeError("; ".join(report.failures))
    _emit(context, schedule.bronze_asset(source_id), [date], delivery=delivery["status"])
    return {
        "source_id": source_id,
        "business_date": date.isoformat(),
        "delivery": delivery,
        "batch_id": result.batch_id,
        "files": {f.file: f.status for f in result.files},
        "rows_accepted": result.rows_accepted,
        "rows_quarantined": result.rows_quarantined,
        "problems": report.problems,
        "lineage": _lineage(lake),
    }


def confirm_delivery(ingested: dict, **context) -> str:
    """Succeeds unless the delivery was missing past its SLA; then fails with what happened
    and what to do, naming the source, the date and the deadline."""
    delivery = ingested["delivery"]
    source, date = ingested["source_id"], ingested["business_date"]
    if delivery["status"] == "missing":
        raise DeliveryMissing(
            f"{source}: the delivery for business date {date} is missing past its SLA "
            f"(due {delivery['due']}; {delivery['detail']}). Recorded: the date's bronze slice "
            "is empty and quality scores its timeliness (时效性) as failed; the builds went "
            "ahead without it. When the files arrive, clear this run's ingest task: the date "
            "is ingested and the base libraries rebuild from it."
        )
    if delivery["status"] == "incomplete":
        log.warning(
            "%s %s: ingested incomplete at its SLA (%s); see audit.deliveries",
            source,
            date,
            delivery["detail"],
        )
    return f"{source} {date}: {delivery['status']}"


def build(stage: str, **context) -> dict:
    """Run the stage for the triggering events' dates (base: from the earliest forward). The
    last stage (the catalogue) publishes each date it completes (jobs/platform/publication.py)."""
    from jobs.pipeline.ingest.entries import record_landing, summary
    from jobs.pipeline.stage import RunContext
    from jobs.pipeline.stages import STAGES
    from jobs.platform.publication import publish
    from lineage.recorder import code_version

    runner = {s.name: s for s in STAGES}[stage]
    asked = schedule.event_dates(context)
    if not asked:
        return _skip(f"{stage}: no business dates in the triggering events or the run's conf")
    if stage == "base":
        # dates named by hand (conf) are rebuilt even if nothing changed: e.g. new code
        conf = getattr(context.get("dag_run"), "conf", None) or {}
        forced = bool(conf.get("business_dates") or conf.get("business_date"))
        dates, waiting = base_dates(schedule.lake_dir(), asked, force=forced)
    else:
        dates, waiting = asked, None
    if waiting:
        log.info("%s", waiting)
    if not dates:
        return _skip(waiting or f"{stage}: nothing to build")
    built = []
    with _writer() as lake:
        if stage == "base":  # the landing zone's entries that are not deliveries
            for line in summary(record_landing(lake, schedule.landing_dir())):
                log.warning("%s", line)
        ctx = RunContext(lake=lake, landing=schedule.landing_dir(), echo=log.info)
        for date in dates:
            log.info("== %s %s: %s", date, stage, runner.description)
            report = runner.run(ctx, date)
            for problem in report.problems:
                log.warning("%s", problem)
            if report.failures:
                raise RuntimeError("; ".join(report.failures))
            built.append(date)
            if stage == STAGES[-1].name:  # every stage of the date done: readers may see it
                publish(
                    lake.root,
                    date,
                    run_id=lake.finished_runs[-1].run_id,
                    code_version=code_version(),
                )
    _emit(context, schedule.stage_asset(stage), built)
    return {
        "stage": stage,
        "asked": [d.isoformat() for d in asked],
        "built": [d.isoformat() for d in built],
        "waiting": waiting,
        "lineage": _lineage(lake),
    }


def maintain(**context) -> dict:
    """Compact, checkpoint, vacuum and expire the logs of the lake (jobs/platform/maintenance.py),
    waiting for the writer lease like a build; the table of what it did goes to the task log."""
    from jobs.platform.maintenance import maintain as upkeep
    from jobs.platform.maintenance import upkeep_lines

    wait = float(os.environ.get("GOVLAKE_LEASE_WAIT", LEASE_WAIT_SECONDS))
    done = upkeep(schedule.lake_dir(), wait=wait)
    for line in upkeep_lines(done):
        log.info("%s", line)
    return {
        "compacted": {u.table: u.compacted for u in done if u.compacted},
        "vacuumed": {u.table: u.vacuumed for u in done if u.vacuumed},
        "log_expired": {u.table: u.expired for u in done if u.expired},
        # the same rows: nothing a reader sees changes, so no dataset is read or written
        "lineage": {"inputs": [], "outputs": []},
    }


def _skip(message: str):
    raise AirflowSkipException(message)


def base_dates(
    lake_root: Path, asked: list[dt.date], *, force: bool = False
) -> tuple[list[dt.date], str | None]:
    """The dates the base stage must (re)build for changes to ``asked``, and why it stops.

    Every date from the earliest asked one through the latest ingested one, in order. A date
    is built only when it and every date before it since the DAGs' start date are *settled*:
    each source expected on it has been ingested (delivered or recorded missing). Otherwise
    the build stops there and that source's ingestion triggers the rest, so dates are always
    built in calendar order, as ``govlake run`` builds them.

    Leading dates already built after every ingestion up to them are skipped (an event can
    be older than the build that took it in), unless ``force``; from the first date rebuilt,
    every later one is rebuilt too, since the tables hold one date's state at a time.
    """
    from jobs.platform.config import catalog

    history = ingest_history(lake_root)
    ingested = history.sources
    first = min(schedule.start_date().date(), min(asked))
    last = max([*ingested, *asked])
    dates: list[dt.date] = []
    day = first
    while day <= last:
        expected = {s for s, e in catalog().items() if schedule.expected_on(e, day)}
        pending = sorted(expected - ingested.get(day, set()))
        if pending:
            later = (last - day).days
            return dates, (
                f"base: {day} waits for {', '.join(pending)} (not ingested yet)"
                + (f"; the {later} date(s) after it wait too" if later else "")
            )
        if day >= min(asked) and (dates or force or not history.fresh(day)):
            dates.append(day)
        day += dt.timedelta(days=1)
    return dates, None


@dataclass
class IngestHistory:
    """From lineage.runs: which sources were ingested for each date, and when the base
    libraries of a date were last built compared with the last ingestion up to it."""

    sources: dict[dt.date, set[str]]
    ingested_at: dict[dt.date, dt.datetime]  # the latest successful ingest run of the date
    built_at: dict[dt.date, dt.datetime]  # the latest successful base build of the date

    def fresh(self, day: dt.date) -> bool:
        """Whether the date was built after its latest ingestion (and every earlier one)."""
        built = self.built_at.get(day)
        latest = max((t for d, t in self.ingested_at.items() if d <= day), default=None)
        return built is not None and (latest is None or built > latest)


def ingest_history(lake_root: Path) -> IngestHistory:
    """When each business date was last ingested and last built, from lineage.runs."""
    from jobs.pipeline.stage import BASE_LAST_JOB
    from jobs.platform.delta import query

    root = Path(lake_root)
    history = IngestHistory({}, {}, {})
    if not (root / "lineage" / "runs" / "_delta_log").is_dir():
        return history
    rows = query(
        root,
        {"runs": ("lineage.runs", None)},
        sql="SELECT job, business_date, max(ended_at) AS ended_at FROM runs "
        "WHERE status = 'success' AND business_date IS NOT NULL "
        f"AND (job LIKE 'ingest.%' OR job = '{BASE_LAST_JOB}') GROUP BY job, business_date",
    )
    for row in rows:
        day, at = row["business_date"], row["ended_at"]
        if row["job"] == BASE_LAST_JOB:
            history.built_at[day] = at
            continue
        history.sources.setdefault(day, set()).add(row["job"].removeprefix("ingest."))
        history.ingested_at[day] = max(at, history.ingested_at.get(day, at))
    return history
