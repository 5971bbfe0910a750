"""The `govlake` command as users run it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .landing_kit import deliver, swdj


def govlake(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "jobs.serving.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.mark.slow  # slow: CI runs it (make test-slow); the fast suite keeps a cheaper test of the same surface
def test_run_prints_a_summary_per_source_and_exits_zero(tmp_path):
    import datetime as dt

    landing = tmp_path / "landing"
    deliver(
        landing,
        "swj_swdj",
        dt.date(2026, 11, 2),
        1,
        "txt",
        swdj(
            "91130902MA0ABCDE6M|甲公司|张三|130902199001011230|03|20200101|税务局|地址|0317-1",
            "bad|row",
        ),
        2,
    )
    r = govlake("run", "--landing", str(landing), "--lake", str(tmp_path / "lake"))
    assert r.returncode == 0, r.stderr
    assert "swj_swdj" in r.stdout and "field_count_mismatch=1" in r.stdout
    assert "! wjw_swzm: no delivery for 2026-11-02" in r.stdout
    t = govlake("tables", "--lake", str(tmp_path / "lake"))
    assert "bronze.swj_swdj" in t.stdout and "quarantine.rows" in t.stdout


def test_run_without_a_landing_zone_fails_clearly(tmp_path):
    r = govlake("run", "--landing", str(tmp_path / "nowhere"), "--lake", str(tmp_path / "lake"))
    assert r.returncode != 0 and "does not exist" in r.stderr


def test_run_with_no_dates_in_range_fails_clearly(tmp_path):
    (tmp_path / "landing" / "swj_swdj" / "2026-11-02").mkdir(parents=True)
    r = govlake(
        "run",
        "--landing",
        str(tmp_path / "landing"),
        "--lake",
        str(tmp_path / "lake"),
        "--from",
        "2027-01-01",
    )
    assert r.returncode == 1 and "no business dates" in r.stderr
