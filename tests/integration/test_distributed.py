"""The same lake on a distributed engine (slow; CI runs it on the shared sample city).

* Sail in local-cluster mode: a driver and two workers exchanging data over RPC, embedded in
  the run's process;
* a standalone ``sail spark server`` process, itself in local-cluster mode, that the run
  reaches over Spark Connect (``GOVLAKE_SPARK_REMOTE``), with a temporary folder of its own.

Each lake must equal the one local mode built, table by table, run-time columns aside.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs.platform.engine import CLUSTER_DEFAULTS
from tests.dags.lake_compare import differences

pytestmark = pytest.mark.slow

CLUSTER = {
    "SAIL_MODE": "local-cluster",
    "SAIL_CLUSTER__WORKER_INITIAL_COUNT": "2",
    "SAIL_CLUSTER__WORKER_MAX_COUNT": "2",
    "SAIL_EXECUTION__DEFAULT_PARALLELISM": "4",  # partitions to shuffle between the workers
    "RUST_LOG": "error",
}


def _run(landing: Path, lake: Path, env: dict) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "jobs.serving.cli", "run", "--landing", str(landing)]
        + ["--lake", str(lake)],
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, **env},
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert server.poll() is None, "the Sail server exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"no Sail server on port {port}")


def test_local_cluster_mode_builds_the_same_lake(city, city_lake_path, tmp_path):
    _run(city, tmp_path / "lake", CLUSTER)
    assert differences(city_lake_path, tmp_path / "lake") == []


def test_a_standalone_sail_server_builds_the_same_lake(city, city_lake_path, tmp_path):
    port, own_tmp = _free_port(), tmp_path / "server-tmp"
    own_tmp.mkdir()
    sail = shutil.which("sail", path=str(Path(sys.executable).parent)) or "sail"
    server = subprocess.Popen(
        [sail, "spark", "server", "--ip", "127.0.0.1", "--port", str(port), "-C", str(own_tmp)],
        # a server outside govlake needs the task slots engine.py gives an embedded one
        env={**os.environ, **CLUSTER, **CLUSTER_DEFAULTS, "TMPDIR": str(own_tmp)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, server)
        _run(city, tmp_path / "lake", {"GOVLAKE_SPARK_REMOTE": f"sc://127.0.0.1:{port}"})
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert differences(city_lake_path, tmp_path / "lake") == []
