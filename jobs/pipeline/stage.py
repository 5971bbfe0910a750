"""What a stage is and what it reports: the types every stage and the runner share.

A stage is a function ``(ctx, business_date) -> StageReport``; the registry of stages, in
order, is ``jobs.pipeline.stages``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing the registry stays cheap (Airflow's DAG files read it)
    from pyspark.sql import DataFrame

    from jobs.platform.lake import Lake

# materialises a frame a transform uses more than once (Lake.checkpoint in a run; the identity
# in tests of pure transforms)
Checkpoint = Callable[["DataFrame", str], "DataFrame"]


def no_checkpoint(df, _name: str):
    """The checkpoint of tests and small inputs: the frame itself."""
    return df


BASE_LAST_JOB = "base.licence"  # the base stage's last run of a date (lineage.runs)


class Progress:
    """Where a run says how far it is (jobs/serving/progress.py draws it on a terminal or
    writes plain lines): the steps (date × stage) planned, each step's start and end, and the
    records a stage has done within a step (the bronze stage, source by source). This one
    says nothing."""

    def plan(self, steps: list[tuple[dt.date, str]]) -> None:
        """The run's steps, in order: (business date, stage)."""

    def begin(self, business_date: dt.date, stage: str) -> None:
        """A step starts."""

    def advance(self, what: str, *, records: int) -> None:
        """Within the step, ``what`` (a source) is done, with ``records`` records."""

    def end(self, business_date: dt.date, stage: str) -> None:
        """The step ends."""


@dataclass
class RunContext:
    """What every stage of a run shares: the lake, the landing zone and where progress goes."""

    lake: Lake
    landing: Path
    echo: Callable[[str], None] = print  # progress lines for the user, as work finishes
    progress: Progress = field(default_factory=Progress)
    full: bool = False  # rebuild in full what is otherwise built from the date's changes


@dataclass
class StageReport:
    """What a stage did for one business date: its summary, warnings and failures."""

    stage: str
    business_date: dt.date
    lines: list[str] = field(default_factory=list)  # the summary (already shown as progress)
    problems: list[str] = field(default_factory=list)  # warnings that do not fail the run
    failures: list[str] = field(default_factory=list)  # what failed (the run ends non-zero)
    details: object = None

    def say(self, lines: list[str], echo: Callable[[str], None]) -> None:
        """Show ``lines`` as the stage's progress and keep them as its summary."""
        for line in lines:
            echo("   " + line)
        self.lines += lines


@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline: its name (also its Airflow DAG's), what it builds, its run."""

    name: str
    description: str
    run: Callable[[RunContext, dt.date], StageReport]
