"""Shared fixtures: one real Spark session (embedded Sail) for the whole suite, and a small
generated city ingested once, which the integration tests read."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from samplecity.main import GenerateOptions, generate


def pytest_configure(config):
    """The suite's own pseudonym key and spill folder (subprocesses inherit them), so tests
    never touch ~/.config/govlake or the system temp folder's shared spill."""
    main = sys.modules["__main__"]
    if not hasattr(main, "__file__") and getattr(main, "__spec__", None) is None:
        # a pytest-xdist worker: pyspark's Spark Connect takes a __main__ without a file for a
        # doctest run and exits the process; the worker's __main__ is execnet's bootstrap
        main.__file__ = "<pytest-xdist worker>"
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
    from jobs.platform.engine import get_spark, stop

    session = get_spark()
    yield session
    stop()


@pytest.fixture
def lake(spark, tmp_path):
    from jobs.platform.lake import Lake

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


def _built_once(tmp_path_factory, name: str, build) -> Path:
    """``build(folder)`` once per test run, however many xdist workers ask: the first builds
    under an flock, the others wait for it and use what it built. Callers copy before writing."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, shared by the workers
    target = root / f"shared-{name}"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / f"shared-{name}.done").exists():
            shutil.rmtree(target, ignore_errors=True)
            build(target)
            (root / f"shared-{name}.done").touch()
    return target


@pytest.fixture(scope="session")
def city(tmp_path_factory) -> Path:
    """A small sample city (landing zone + _truth), generated once per test run."""
    shared = _built_once(
        tmp_path_factory,
        "city",
        lambda out: generate(out / "landing", CITY_OPTIONS, log=lambda m: None),
    )
    return shared / "landing"


@pytest.fixture(scope="session")
def city_lake(spark, city, tmp_path_factory):
    """The sample city run through `govlake run` into a lake: built once per test run, and
    each worker reads and writes its own copy."""
    from jobs.pipeline.runner import run_pipeline
    from jobs.platform.lake import Lake

    def build(folder: Path) -> None:
        run_pipeline(city, folder / "lake", echo=lambda m: None)

    shared = _built_once(tmp_path_factory, "city-lake", build) / "lake"
    root = tmp_path_factory.mktemp("lake") / "lake"
    shutil.copytree(shared, root, symlinks=True)
    return Lake(root, spark)


@pytest.fixture(scope="session")
def cli_city(tmp_path_factory):
    """A city of twenty thousand generated and run through the command line, as a user does
    (shared with the quality acceptance tests: one run of the whole pipeline)."""
    root = tmp_path_factory.mktemp("cli-city")
    landing, lake = root / "landing", root / "lake"
    cli = [sys.executable, "-m", "jobs.serving.cli"]
    gen = subprocess.run(
        [sys.executable, "-m", "samplecity", "--persons", "20000", "--days", "3", "--seed", "11"]
        + ["--out", str(landing)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[1],  # the generator runs from a checkout
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
    lake = city_lake
    root = tmp_path_factory.mktemp("sql") / "lake"
    shutil.copytree(lake.root, root, ignore=shutil.ignore_patterns("_staging", "_gx"))
    return root
