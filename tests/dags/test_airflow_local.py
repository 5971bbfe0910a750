"""`make airflow` (bin/airflow-local): the four components start on loopback only, log-in
works, every DAG is there, and `down` stops every process it started (slow)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import subprocess
import urllib.request

import pytest

from jobs.pipeline.stages import STAGES
from jobs.platform.config import catalog
from samplecity.main import GenerateOptions, generate
from tests.dags.airflow_home import REPO

pytestmark = pytest.mark.slow
SCRIPT = str(REPO / "bin" / "airflow-local")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _groups(home) -> list[int]:
    return [int(p.read_text()) for p in sorted((home / "run").glob("*.pid"))]


def _alive(groups: list[int]) -> list[str]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,pgid=,args="], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if int(line.split()[1]) in groups]


def _listening(groups: list[int]) -> list[str]:
    """Local addresses the processes of these groups listen on."""
    pids = {int(line.split()[0]) for line in _alive(groups)}
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    return [
        line.split()[3]
        for line in out.splitlines()
        if any(int(p) in pids for p in re.findall(r"pid=(\d+)", line))
    ]


def _get(url: str, token: str | None = None, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_make_airflow_starts_on_loopback_and_stops_cleanly(tmp_path):
    landing = tmp_path / "landing"
    generate(landing, GenerateOptions(persons=50, days=1, start=dt.date(2026, 11, 2)), log=print)
    home, port = tmp_path / "airflow", _free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW_PORT": str(port),
        "GOVLAKE_LANDING": str(landing),
        "GOVLAKE_LAKE": str(tmp_path / "lake"),
    }
    groups: list[int] = []
    try:
        up = subprocess.run(
            [SCRIPT, "up", "--no-backfill"], env=env, capture_output=True, text=True, timeout=600
        )
        groups = _groups(home)
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
        said = re.search(r"Airflow is up:  (\S+)\s+\(user admin, password (\S+)\)", up.stdout)
        assert said and said[1] == f"http://127.0.0.1:{port}", up.stdout
        assert len(groups) == 4
        listening = _listening(groups)
        assert f"127.0.0.1:{port}" in listening
        assert all(a.startswith("127.0.0.1:") for a in listening), listening
        token = _get(f"{said[1]}/auth/token", body={"username": "admin", "password": said[2]})[
            "access_token"
        ]
        dags = _get(f"{said[1]}/api/v2/dags?limit=100", token)["dags"]
        # one per source, one per build stage, and the maintenance DAG
        assert len(dags) == len(catalog()) + len(STAGES) - 1 + 1
        pools = _get(f"{said[1]}/api/v2/pools", token)["pools"]
        assert {"name": "govlake_lake", "slots": 1} in [
            {"name": p["name"], "slots": p["slots"]} for p in pools
        ]
    finally:
        down = subprocess.run(
            [SCRIPT, "down"], env=env, capture_output=True, text=True, timeout=180
        )
    assert down.returncode == 0, down.stderr
    assert _alive(groups) == []
