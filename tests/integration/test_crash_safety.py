"""Crash safety, proven (docs/lake.md): ``govlake run`` killed with SIGKILL at points of every
stage of a two-date run — between commits and inside steps that write several tables — or
stopped with SIGTERM; while it lies killed, readers see the last published state; a plain rerun
then gives the lake a clean run gives, table by table."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs.pipeline.stages import STAGES
from jobs.platform import delta, publication
from jobs.platform.config import PACKAGE_ROOT
from samplecity.main import GenerateOptions, generate
from tests.dags.lake_compare import RUN_TABLES, differences, table_rows

pytestmark = pytest.mark.slow
SKIP = RUN_TABLES | {publication.TABLE}


@pytest.fixture(scope="module")
def two_dates(tmp_path_factory):
    """A small city over two business dates, and the lake a clean run makes of it, with the
    stage and table of each of the run's writes, in order."""
    import datetime as dt

    from jobs.pipeline.runner import run_pipeline
    from jobs.platform import faults

    root = tmp_path_factory.mktemp("crash")
    landing = root / "landing"
    generate(
        landing,
        GenerateOptions(persons=60, days=2, seed=4, start=dt.date(2026, 11, 2)),
        log=lambda m: None,
    )
    writes: list[str] = []
    stage = ["?"]
    real = faults.before_write

    def record():
        real()
        writes.append(stage[0])

    faults.before_write = record
    try:
        run_pipeline(
            landing,
            root / "reference",
            echo=lambda m: stage.__setitem__(0, m) if m.startswith("==") else None,
        )
    finally:
        faults.before_write = real
    return landing, root / "reference", writes


def _run(landing: Path, lake: Path, **env) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "jobs.serving.cli",
        "run",
        "--landing",
        str(landing),
        "--lake",
        str(lake),
    ]
    return subprocess.Popen(
        cmd, cwd=PACKAGE_ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _published_state(root: Path, pub: publication.Publication) -> dict[str, list[str]]:
    return {t: sorted(table_rows_at(root, t, v)) for t, v in pub.versions.items() if t not in SKIP}


def table_rows_at(root: Path, table: str, version: int) -> list[str]:
    from tests.dags.lake_compare import VOLATILE, _canonical

    data = delta.read_table(root / table.replace(".", "/"), version)
    keep = [c for c in data.column_names if c not in VOLATILE]
    return [_canonical(r) for r in data.select(keep).to_pylist()]


def _assert_readers_see_a_clean_publication(lake: Path, reference: Path) -> str:
    try:
        pub = publication.current(lake)
    except publication.NotPublished:
        return "nothing published"
    ref = next(
        p for p in publication.publications(reference) if p.business_date == pub.business_date
    )
    assert _published_state(lake, pub) == _published_state(reference, ref)
    return str(pub.business_date)


def _kill_points(writes: list[str]) -> dict[str, int]:
    """The second write of each stage of date one (inside the stage's multi-table step: the
    first source's four slices, the base libraries, the findings, the two profiles, the
    catalogue), and the
    publication of date two, the run's last write (between a completed build and its
    publication). Killing early keeps the proof affordable: each kill is followed by a full
    rerun."""
    first: dict[str, int] = {}
    for n, stage in enumerate(writes, 1):
        if stage.startswith("== "):
            first.setdefault(stage.split(":")[0], n)
    points = {}
    for key, n in first.items():
        date, name = key.removeprefix("== ").split()[:2]
        if date.endswith("02"):  # every stage (jobs/pipeline/stages.py)
            points[key] = n + 1
    points["last publication"] = len(writes)
    return points


def test_a_run_killed_anywhere_converges_on_rerun(two_dates, tmp_path):
    landing, reference, writes = two_dates
    points = _kill_points(writes)
    assert len(points) == len(STAGES) + 1, points  # every stage of date one, the last write
    for where, n in points.items():
        lake = tmp_path / f"killed-at-{n}"
        proc = _run(landing, lake, GOVLAKE_TEST_KILL_AT_WRITE=str(n))
        proc.communicate(timeout=600)
        assert proc.returncode == -signal.SIGKILL, (where, n)
        seen = _assert_readers_see_a_clean_publication(lake, reference)
        rerun = _run(landing, lake)
        out, err = rerun.communicate(timeout=600)
        assert rerun.returncode == 0, (where, err[-2000:])
        assert "ended without releasing it" in err, err[-500:]  # the dead run's lease
        assert differences(reference, lake, skip=SKIP) == [], (where, n, seen)
        assert not (lake / "_staging").exists()


def test_sigterm_stops_at_a_safe_point(two_dates, tmp_path):
    landing, reference, _ = two_dates
    lake = tmp_path / "stopped"
    proc = _run(landing, lake)
    deadline = time.time() + 300
    while not (lake / "silver" / "person").exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 143, err[-2000:]
    assert "SIGTERM received: stopped at a safe point" in err
    _assert_readers_see_a_clean_publication(lake, reference)
    assert not (lake / "_staging").exists()
    rerun = _run(landing, lake)
    rerun.communicate(timeout=600)
    assert rerun.returncode == 0
    assert differences(reference, lake, skip=SKIP) == []
    assert table_rows(reference, "silver.person") == table_rows(lake, "silver.person")
