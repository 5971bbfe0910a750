"""Shared fixtures: one real Spark session (embedded Sail) for the whole suite, and a small
generated city ingested once, which the integration tests read."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from jobs.generate.main import GenerateOptions, generate


def pytest_configure(config):
    """The suite's own pseudonym key and spill folder (subprocesses inherit them), so tests
    never touch ~/.config/govlake or the system temp folder's shared spill."""
    if "GOVLAKE_PSEUDONYM_KEY_FILE" not in os.environ and "GOVLAKE_PSEUDONYM_KEY" not in os.environ:
        folder = Path(tempfile.mkdtemp(prefix="govlake-test-key-"))
        key = folder / "pseudonym.key"
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, secrets.token_hex(32).encode())
        os.close(fd)
        os.environ["GOVLAKE_PSEUDONYM_KEY_FILE"] = str(key)
    if "GOVLAKE_SQL_SPILL" not in os.environ:
        os.environ["GOVLAKE_SQL_SPILL"] = tempfile.mkdtemp(prefix="govlake-test-spill-")


@pytest.fixture(scope="session")
def spark():
    from jobs.engine import get_spark, stop

    session = get_spark()
    yield session
    stop()


@pytest.fixture
def lake(spark, tmp_path):
    from jobs.lake import Lake

    return Lake(tmp_path / "lake", spark)


CITY_OPTIONS = GenerateOptions(
    persons=2500,
    days=3,
    seed=7,
    start=dt.date(2026, 11, 2),
    value_fault_rate=0.02,
    parse_fault_rate=0.003,
    file_fault_rate=0.3,
    conflict_rate=0.02,
    event_scale=20.0,
)


@pytest.fixture(scope="session")
def city(tmp_path_factory) -> Path:
    """A small sample city (landing zone + _truth), generated once per test session."""
    out = tmp_path_factory.mktemp("city") / "landing"
    generate(out, CITY_OPTIONS, log=lambda m: None)
    return out


@pytest.fixture(scope="session")
def city_lake(spark, city, tmp_path_factory):
    """The sample city run through `govlake run` into a lake (once per session)."""
    from jobs.lake import Lake
    from jobs.runner import run_pipeline

    root = tmp_path_factory.mktemp("lake") / "lake"
    reports = run_pipeline(city, root, echo=lambda m: None)
    return Lake(root, spark), reports


@pytest.fixture(scope="session")
def cli_city(tmp_path_factory):
    """A city of twenty thousand generated and run through the command line, as a user does
    (shared with the quality acceptance tests: one run of the whole pipeline)."""
    root = tmp_path_factory.mktemp("cli-city")
    landing, lake = root / "landing", root / "lake"
    cli = [sys.executable, "-m", "jobs.cli"]
    gen = subprocess.run(
        [*cli, "generate", "--persons", "20000", "--days", "3", "--seed", "11"]
        + ["--out", str(landing)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert gen.returncode == 0, gen.stderr
    run = subprocess.run(
        [*cli, "run", "--landing", str(landing), "--lake", str(lake)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    return landing, lake, run


@pytest.fixture(scope="session")
def sql_lake(city_lake, tmp_path_factory) -> Path:
    """A copy of the sample city's lake for the SQL interface, whose audit rows it receives."""
    lake, _ = city_lake
    root = tmp_path_factory.mktemp("sql") / "lake"
    shutil.copytree(lake.root, root, ignore=shutil.ignore_patterns("_staging", "_gx"))
    return root
