"""How far a run is, for the person who started it (``govlake run``).

On a terminal a live bar (rich) under the run's lines shows the step (date and stage), the
source being ingested, records per second, the steps done and an estimate of the time left.
Elsewhere (CI, Airflow's task logs, a pipe) the same facts come as one plain line after each
step, so logs stay readable. The estimate: each step still to run takes what the steps of its
stage took so far on average (what all steps took, for a stage not yet seen).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict

from jobs.pipeline.stage import Progress


def duration(seconds: float) -> str:
    """``1h02m``, ``3m05s`` or ``12s``."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Timing(Progress):
    """The bookkeeping both displays share: steps, stage times, records per second, ETA."""

    def __init__(self, *, clock=time.monotonic):
        self.clock = clock
        self.steps = 0
        self.done = 0
        self.started = clock()
        self.step_started = self.started
        self.stage = ""
        self.date: dt.date | None = None
        self.records = 0
        self.took: dict[str, list[float]] = defaultdict(list)
        self.planned: list[str] = []

    def plan(self, steps: list[tuple[dt.date, str]]) -> None:
        """The run's steps, in order."""
        self.planned = [stage for _, stage in steps]
        self.steps = len(steps)

    def begin(self, business_date: dt.date, stage: str) -> None:
        """A step starts."""
        self.date, self.stage, self.records = business_date, stage, 0
        self.step_started = self.clock()

    def advance(self, what: str, *, records: int) -> None:
        """A source of the step is done."""
        self.records += records

    def end(self, business_date: dt.date, stage: str) -> None:
        """The step ends."""
        self.took[stage].append(self.clock() - self.step_started)
        self.done += 1

    def rate(self) -> float | None:
        """Records per second in the current step (None before any)."""
        seconds = self.clock() - self.step_started
        return self.records / seconds if self.records and seconds > 0 else None

    def eta(self) -> float | None:
        """Seconds still to go (None before the first step ends): each step to come takes
        the mean of its stage's steps so far, or of all steps for a stage not yet seen."""
        every = [t for ts in self.took.values() for t in ts]
        if not every:
            return None
        mean = sum(every) / len(every)
        return sum(
            sum(self.took[s]) / len(self.took[s]) if self.took.get(s) else mean
            for s in self.planned[self.done :]
        )

    def facts(self, rate: float | None) -> list[str]:
        """Records per second (``rate``), elapsed time and the time left, as shown."""
        eta = self.eta()
        return [
            *([f"{rate:,.0f} records/s"] if rate else []),
            f"elapsed {duration(self.clock() - self.started)}",
            *(
                [f"about {duration(eta)} left"]
                if eta is not None and self.done < self.steps
                else []
            ),
        ]

    def summary(self) -> str:
        """``step 3/18 · 2,310 records/s · elapsed 45s · about 3m10s left``."""
        seconds = self.took[self.stage][-1] if self.took.get(self.stage) else None
        rate = self.records / seconds if self.records and seconds else None
        return " · ".join([f"step {self.done}/{self.steps}", *self.facts(rate)])


class PlainProgress(Timing):
    """One line after each step (for logs)."""

    def __init__(self, echo, **kw):
        super().__init__(**kw)
        self.echo = echo

    def end(self, business_date: dt.date, stage: str) -> None:
        """The step ends: say how far the run is."""
        super().end(business_date, stage)
        self.echo(f"   progress: {self.summary()}")


class TerminalProgress(Timing):
    """A live bar under the run's lines (a terminal)."""

    def __init__(self, console=None, **kw):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        super().__init__(**kw)
        self.console = console or Console(stderr=True)
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            console=self.console,
            transient=True,
        )
        self.task = self.bar.add_task("govlake run", total=None, detail="")

    def echo(self, line: str) -> None:
        """Print a line of the run above the bar."""
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def __enter__(self) -> TerminalProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.stop()

    def _show(self, what: str = "") -> None:
        detail = " · ".join([what, *self.facts(self.rate())] if what else self.facts(self.rate()))
        self.bar.update(
            self.task,
            description=f"{self.date} {self.stage}",
            total=self.steps or None,
            completed=self.done,
            detail=detail,
        )

    def plan(self, steps: list[tuple[dt.date, str]]) -> None:
        """The run's steps, in order."""
        super().plan(steps)
        self._show()

    def begin(self, business_date: dt.date, stage: str) -> None:
        """A step starts."""
        super().begin(business_date, stage)
        self._show()

    def advance(self, what: str, *, records: int) -> None:
        """A source of the step is done."""
        super().advance(what, records=records)
        self._show(what)

    def end(self, business_date: dt.date, stage: str) -> None:
        """The step ends."""
        super().end(business_date, stage)
        self._show()
