"""``govlake run``: every registered stage for each business date, in date order."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

from jobs.ingest.bronze import ConservationError
from jobs.ingest.manifest import business_dates
from jobs.lake import Lake
from jobs.stages import STAGES, RunContext, StageReport


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

    known = [s.name for s in STAGES]
    unknown = sorted(set(stages or []) - set(known))
    if unknown:
        raise RunFailed(f"unknown stage(s) {unknown}; known: {known}")
    dates = [
        d
        for d in business_dates(Path(landing))
        if (date_from is None or d >= date_from) and (date_to is None or d <= date_to)
    ]
    if not dates:
        raise RunFailed(f"no business dates to run in {landing}")
    lake = Lake(lake_dir, get_spark())
    ctx = RunContext(lake=lake, landing=Path(landing), echo=echo)
    reports = []
    for date in dates:
        for stage in STAGES:
            if stages and stage.name not in stages:
                continue
            t0 = time.time()
            echo(f"== {date} {stage.name}: {stage.description}")
            try:
                report = stage.run(ctx, date)
            except ConservationError as e:
                raise RunFailed(f"{date} {stage.name}: {e}") from e
            except Exception as e:
                raise RunFailed(f"{date} {stage.name}: {type(e).__name__}: {e}") from e
            for p in report.problems:
                echo(f"   ! {p}")
            echo(f"   ({time.time() - t0:.1f}s)")
            reports.append(report)
    echo(f"lake: {lake.root}")
    return reports
