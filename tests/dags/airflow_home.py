"""A throwaway Airflow for tests: its own AIRFLOW_HOME, SQLite DB, these DAGs, no examples.

Call :func:`configure` before anything imports airflow (it reads its config at import).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def configure(home: Path, lake: Path, landing: Path) -> dict:
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "govlake-airflow",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": (
            '{"type": "file", "log_file_path": "%s", "append": true}'
            % (lake / "_openlineage" / "airflow.jsonl")
        ),
        "GOVLAKE_LAKE": str(lake),
        "GOVLAKE_LANDING": str(landing),
    }
    os.environ.update(env)
    (lake / "_openlineage").mkdir(parents=True, exist_ok=True)
    return env


def init_db() -> None:
    from airflow.utils import db

    db.initdb()
