"""Shared fixtures: one real Spark session (embedded Sail) for the whole suite, and a small
generated city ingested once, which the integration tests read."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests import shared_city


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


_SHARED_FIXTURES = {"city", "city_lake", "city_lake_path", "sql_lake"}


def pytest_collection_modifyitems(config, items):
    """Tests on the shared sample city last: under ``pytest -n 2`` one worker builds the city
    while the other goes on with the rest, instead of both waiting for it."""
    items.sort(key=lambda item: bool(_SHARED_FIXTURES & set(getattr(item, "fixturenames", ()))))


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


def _shared_root(tmp_path_factory) -> Path:
    """Where the shared sample city is built: ``GOVLAKE_TEST_SHARED`` when set (CI points its
    test runs at one folder, so that one build serves them all), otherwise the run's folder,
    shared by the xdist workers (each worker's basetemp is inside it)."""
    if os.environ.get("GOVLAKE_TEST_SHARED"):
        root = Path(os.environ["GOVLAKE_TEST_SHARED"])
        root.mkdir(parents=True, exist_ok=True)
        return root
    root = tmp_path_factory.getbasetemp()
    return root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root


def _needs_city(args: list[str]) -> bool:
    """Whether a run of these paths includes the integration tests (the whole suite does)."""
    return not args or any("integration" in a or a.rstrip("/") in ("tests", ".") for a in args)


def pytest_sessionstart(session):
    """Under xdist, the controller starts building the shared city as the run starts, beside
    the workers' start-up and collection: the build is the run's critical path."""
    config = session.config
    if hasattr(config, "workerinput") or not config.getoption("numprocesses", None):
        return
    if not _needs_city(config.args):
        return
    root = _shared_root(config._tmp_path_factory)  # the workers' basetemps are inside it
    config.stash[_BUILDER] = subprocess.Popen(
        [sys.executable, "-m", "tests.shared_city", str(root)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
    )


def pytest_sessionfinish(session):
    """Stop the builder if the run ends first (tests stop what they start)."""
    builder = session.config.stash.get(_BUILDER, None)
    if builder is not None:
        if builder.poll() is None:
            builder.kill()
        builder.wait()


_BUILDER = pytest.StashKey[subprocess.Popen]()


@pytest.fixture(scope="session", autouse=True)
def _yield_to_the_builder():
    """Workers yield the CPU to the city's builder (and share it evenly once it is done): the
    engines they start inherit the lower priority."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.nice(5)


@pytest.fixture(scope="session")
def city(tmp_path_factory) -> Path:
    """A small sample city (landing zone + _truth), generated once per test run."""
    return shared_city.city(_shared_root(tmp_path_factory))


@pytest.fixture(scope="session")
def city_lake_path(tmp_path_factory) -> Path:
    """The sample city's lake as `govlake run` built it (shared: read it, never write it)."""
    return shared_city.city_lake(_shared_root(tmp_path_factory))


@pytest.fixture(scope="session")
def city_lake(spark, tmp_path_factory):
    """The sample city run through `govlake run` into a lake: built once per test run, and
    each worker reads and writes its own copy."""
    from jobs.platform.lake import Lake

    shared = shared_city.city_lake(_shared_root(tmp_path_factory))
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
