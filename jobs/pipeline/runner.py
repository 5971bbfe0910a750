"""``govlake run``: every registered stage for each business date, in date order.

* **One writer.** The run holds the lake's writer lease (jobs/platform/lease.py) from start to end.
* **Publication.** When every stage of a date has completed, the date is published
  (jobs/platform/publication.py): only then do readers see it.
* **Forward rebuild.** The base libraries of a date are built from everything up to it and the
  tables hold one date's state at a time, so a run never ends behind the latest built date:
  ``--from D`` rebuilds D and every later date, and starts earlier if the tables hold an older
  date than the one before D. ``--to`` cannot stop short of the latest published date;
  ``--only D`` builds D alone, published for ``--as-of D`` but not as the current state.
* **Isolation.** One failure never stops the rest (docs/security.md): a source whose ingestion
  fails is rolled back and the other sources and dates are still ingested. The later stages of
  a date need every source of it and of the dates before, so after a failure they wait: the
  dates from the first failed one on are ingested but not built. The run ends non-zero with a
  summary naming each failure's date, stage, source and file.
* **Stopping.** SIGTERM or Ctrl-C stops the run at the next safe point (between two sources
  or two stages), with a message; a rerun goes on from there.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jobs.pipeline.stage import Progress, RunContext, StageReport
from jobs.pipeline.stages import STAGES
from jobs.platform import interrupt, publication
from jobs.platform.lake import Lake

log = logging.getLogger(__name__)


class RunFailed(Exception):
    """A stage failed; the message says which date, stage and why."""


@dataclass(frozen=True)
class Plan:
    """What a run builds, and what it says about it."""

    dates: list[dt.date]
    publish_current: bool  # False for --only an old date
    notes: list[str]


def plan_dates(
    landing_dates: list[dt.date],
    *,
    head: dt.date | None,
    published: dt.date | None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    only: dt.date | None = None,
) -> Plan:
    """The dates to build, in order (see the module's "Forward rebuild").

    ``head``: the date the tables hold now (the last base build); ``published``: the latest
    published date.
    """
    if only is not None:
        if only not in landing_dates:
            raise RunFailed(f"--only {only}: nothing delivered for that date")
        old = published is not None and only < published
        notes = [
            f"--only {only}: built and published for --as-of {only}; readers stay on {published}."
            f" The tables now hold {only}: the next `govlake run --from` rebuilds forward from it"
        ] if old else []  # fmt: skip
        return Plan([only], not old, notes)
    if date_to is not None and published is not None and date_to < published:
        raise RunFailed(
            f"--to {date_to} would leave the lake behind {published}, the latest published date: "
            f"drop --to (the run rebuilds forward through {published}), or build {date_to} alone "
            f"with --only {date_to}"
        )
    notes = []
    start = date_from
    if start is not None and head is not None and head < start:
        between = [d for d in landing_dates if head < d < start]
        if between:
            notes.append(
                f"--from {start}: the tables hold {head}, so the run starts at {between[0]} and "
                "builds every date in order"
            )
            start = between[0]
    dates = [
        d
        for d in landing_dates
        if (start is None or d >= start) and (date_to is None or d <= date_to)
    ]
    if start is not None and published is not None and start <= published and date_to is None:
        notes.append(
            f"rebuilding {start} and every later date through {dates[-1] if dates else start}"
        )
    return Plan(dates, True, notes)


def run_pipeline(
    landing: Path,
    lake_dir: Path,
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    only: dt.date | None = None,
    stages: list[str] | None = None,
    wait: float | None = None,
    echo: Callable[[str], None] = print,
    progress: Progress | None = None,
    full: bool = False,
) -> list[StageReport]:
    """Run every stage (or ``stages``) for the planned dates, under the writer lease,
    publishing each completed date; the reports of the stages that ran. ``full``: build
    everything in full, nothing from the date's changes alone."""
    from jobs.pipeline.ingest.entries import record_landing, summary
    from jobs.platform.engine import get_spark
    from jobs.platform.staging import sweep

    known = [s.name for s in STAGES]
    unknown = sorted(set(stages or []) - set(known))
    if unknown:
        raise RunFailed(f"unknown stage(s) {unknown}; known: {known}")
    lake = Lake(lake_dir, get_spark())
    lake.take_lease(wait=wait)
    try:
        with interrupt.safe_points():
            sweep(lake.root)
            scan = record_landing(lake, Path(landing))
            for line in summary(scan):
                echo(f"   ! {line}" if line.startswith("landing") else f"     {line}")
            plan = plan_dates(
                scan.dates(),
                head=head_date(lake.root),
                published=_published_date(lake.root),
                date_from=date_from,
                date_to=date_to,
                only=only,
            )
            for note in plan.notes:
                echo(f"   ! {note}")
            if not plan.dates:
                raise RunFailed(f"no business dates to run in {landing}")
            ctx = RunContext(lake=lake, landing=Path(landing), echo=echo, full=full)
            if progress is not None:
                ctx.progress = progress
            ctx.progress.plan(
                [(d, s.name) for d in plan.dates for s in STAGES if not stages or s.name in stages]
            )
            reports, failures = _run_dates(ctx, plan, stages, echo)
    finally:
        lake.close()
    echo(f"lake: {lake.root}")
    if failures:
        raise RunFailed(
            f"{len(failures)} failure(s); everything else ran:\n  " + "\n  ".join(failures)
        )
    return reports


def head_date(root: Path) -> dt.date | None:
    """The business date the base libraries hold now: that of the latest successful build."""
    from jobs.pipeline.stage import BASE_LAST_JOB
    from jobs.platform import delta

    if not (Path(root) / "lineage" / "runs" / "_delta_log").is_dir():
        return None
    rows = delta.query(
        root,
        {"runs": ("lineage.runs", None)},
        sql=f"SELECT business_date FROM runs WHERE status = 'success' AND job = '{BASE_LAST_JOB}' "
        "ORDER BY ended_at DESC LIMIT 1",
    )
    return rows[0]["business_date"] if rows else None


def _published_date(root: Path) -> dt.date | None:
    try:
        return publication.current(root).business_date
    except publication.NotPublished:
        return None


def _run_dates(
    ctx: RunContext, plan: Plan, stages: list[str] | None, echo
) -> tuple[list[StageReport], list[str]]:
    reports: list[StageReport] = []
    failures: list[str] = []
    blocked: dt.date | None = None  # the first date a stage failed on
    for date in plan.dates:
        completed = True
        for stage in STAGES:
            if stages and stage.name not in stages:
                completed = False
                continue
            if blocked is not None and stage.name != "bronze":
                echo(f"== {date} {stage.name}: not run (waits for {blocked}, which failed)")
                completed = False
                continue
            interrupt.check(f"before {date} {stage.name}")
            ctx.progress.begin(date, stage.name)
            report = _run_stage(ctx, stage, date, echo)
            ctx.progress.end(date, stage.name)
            if report.failures:
                failures += report.failures
                blocked = blocked or date
                completed = False
            reports.append(report)
        if completed:
            _publish(ctx.lake, date, current=plan.publish_current, echo=echo)
    return reports, failures


def _run_stage(ctx: RunContext, stage, date: dt.date, echo) -> StageReport:
    t0 = time.time()
    echo(f"== {date} {stage.name}: {stage.description}")
    try:
        report = stage.run(ctx, date)
    except interrupt.Interrupted:
        raise
    except Exception as e:  # noqa: BLE001 - recorded; the other dates go on
        log.exception("%s %s failed", date, stage.name)
        report = StageReport(stage.name, date)
        report.failures.append(f"{date} {stage.name}: {type(e).__name__}: {e}")
    for p in report.problems:
        echo(f"   ! {p}")
    for f in report.failures:
        echo(f"   FAILED: {f}")
    echo(f"   ({time.time() - t0:.1f}s)")
    return report


def _publish(lake: Lake, date: dt.date, *, current: bool, echo) -> None:
    from lineage.recorder import code_version

    run_id = lake.finished_runs[-1].run_id if lake.finished_runs else ""
    publication.publish(lake.root, date, run_id=run_id, code_version=code_version())
    echo(f"== {date} published" + ("" if current else " (for --as-of only)"))
