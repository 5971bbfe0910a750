"""``govlake run``: every registered stage for each business date, in date order.

One failure never stops the rest (docs/security.md, isolation): a source whose ingestion fails
is rolled back and the other sources and dates are still ingested. The later stages of a date
need every source of it and of the dates before, so after a failure they wait: the dates from
the first failed one on are ingested but not built. The run ends non-zero with a summary
naming each failure's date, stage, source and file.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path

from jobs.lake import Lake
from jobs.stages import STAGES, RunContext, StageReport

log = logging.getLogger(__name__)


class RunFailed(Exception):
    """A stage failed; the message says which date, stage and why."""


def run_pipeline(
    landing: Path,
    lake_dir: Path,
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    stages: list[str] | None = None,
    echo: Callable[[str], None] = print,
) -> list[StageReport]:
    from jobs.engine import get_spark
    from jobs.ingest.entries import record_landing, summary
    from jobs.staging import sweep

    known = [s.name for s in STAGES]
    unknown = sorted(set(stages or []) - set(known))
    if unknown:
        raise RunFailed(f"unknown stage(s) {unknown}; known: {known}")
    lake = Lake(lake_dir, get_spark())
    sweep(lake.root)
    try:
        scan = record_landing(lake, Path(landing))
        for line in summary(scan):
            echo(f"   ! {line}" if line.startswith("landing") else f"     {line}")
        dates = [
            d
            for d in scan.dates()
            if (date_from is None or d >= date_from) and (date_to is None or d <= date_to)
        ]
        if not dates:
            raise RunFailed(f"no business dates to run in {landing}")
        ctx = RunContext(lake=lake, landing=Path(landing), echo=echo)
        reports, failures = _run_dates(ctx, dates, stages, echo)
    finally:
        lake.close()
    echo(f"lake: {lake.root}")
    if failures:
        raise RunFailed(
            f"{len(failures)} failure(s); everything else ran:\n  " + "\n  ".join(failures)
        )
    return reports


def _run_dates(
    ctx: RunContext, dates: list[dt.date], stages: list[str] | None, echo
) -> tuple[list[StageReport], list[str]]:
    reports: list[StageReport] = []
    failures: list[str] = []
    blocked: dt.date | None = None  # the first date a stage failed on
    for date in dates:
        for stage in STAGES:
            if stages and stage.name not in stages:
                continue
            if blocked is not None and stage.name != "bronze":
                echo(f"== {date} {stage.name}: not run (waits for {blocked}, which failed)")
                continue
            t0 = time.time()
            echo(f"== {date} {stage.name}: {stage.description}")
            try:
                report = stage.run(ctx, date)
            except Exception as e:  # noqa: BLE001 - recorded; the other dates go on
                log.exception("%s %s failed", date, stage.name)
                report = StageReport(stage.name, date)
                report.failures.append(f"{date} {stage.name}: {type(e).__name__}: {e}")
            for p in report.problems:
                echo(f"   ! {p}")
            for f in report.failures:
                echo(f"   FAILED: {f}")
            if report.failures:
                failures += report.failures
                blocked = blocked or date
            echo(f"   ({time.time() - t0:.1f}s)")
            reports.append(report)
    return reports, failures
