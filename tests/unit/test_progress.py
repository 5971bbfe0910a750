"""What a run says about how far it is: plain lines in logs, a live bar on a terminal."""

from __future__ import annotations

import datetime as dt
import io

from rich.console import Console

from jobs.serving.progress import PlainProgress, TerminalProgress, duration

D1, D2 = dt.date(2026, 11, 2), dt.date(2026, 11, 3)
STEPS = [(D1, "bronze"), (D1, "base"), (D2, "bronze"), (D2, "base")]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _step(p, clock, day, stage, seconds, records=0):
    p.begin(day, stage)
    if records:
        p.advance("gaj_hjrk", records=records)
    clock.now += seconds
    p.end(day, stage)


def test_plain_lines_say_step_rate_elapsed_and_eta_by_stage():
    clock, lines = Clock(), []
    p = PlainProgress(lines.append, clock=clock)
    p.plan(STEPS)
    _step(p, clock, D1, "bronze", 10, records=50_000)
    assert lines[-1] == "   progress: step 1/4 · 5,000 records/s · elapsed 10s · about 30s left"
    _step(p, clock, D1, "base", 30)
    # what is left: one bronze (10s) and one base (30s), each at its own stage's pace
    assert lines[-1] == "   progress: step 2/4 · elapsed 40s · about 40s left"
    _step(p, clock, D2, "bronze", 20, records=50_000)
    assert lines[-1].endswith("about 30s left")
    _step(p, clock, D2, "base", 30)
    assert lines[-1] == "   progress: step 4/4 · elapsed 1m30s"


def test_the_terminal_bar_draws_without_disturbing_the_lines():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    clock = Clock()
    with TerminalProgress(console=console, clock=clock) as p:
        p.plan(STEPS)
        p.echo("== 2026-11-02 bronze: ingest")
        _step(p, clock, D1, "bronze", 10, records=50_000)
        p.bar.refresh()
    text = out.getvalue()
    assert "== 2026-11-02 bronze: ingest" in text
    assert "2026-11-02 bronze" in text and "1/4" in text


def test_durations_read_as_people_write_them():
    assert [duration(s) for s in (5, 65, 3725)] == ["5s", "1m05s", "1h02m"]
