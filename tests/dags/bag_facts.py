"""Load the DAG folder into a DagBag, as the DAG processor does, and print what the policy
tests check, as JSON: import errors and warnings, each DAG's settings and tasks, and which
heavy modules importing the DAGs pulled in. Run in its own process
(``python -m tests.dags.bag_facts HOME``): Airflow configures itself at import.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.dags.airflow_home import REPO, configure

HEAVY = ("pyspark", "pandas", "great_expectations", "duckdb", "deltalake", "pyarrow", "pysail")


def facts() -> dict:
    from airflow.dag_processing.dagbag import DagBag

    before = set(sys.modules)
    bag = DagBag(dag_folder=str(REPO / "dags"))
    pulled = sorted({m.split(".")[0] for m in set(sys.modules) - before} & set(HEAVY))
    dags = {}
    for dag_id, dag in sorted(bag.dags.items()):
        dags[dag_id] = {
            "timetable": type(dag.timetable).__name__,
            "cron": getattr(dag.timetable, "expression", None),
            "timezone": str(getattr(dag.timetable, "timezone", "")),
            "schedule_assets": sorted(a.name for a in _objects(dag.timetable)),
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "tags": sorted(dag.tags),
            "tasks": {
                t.task_id: {
                    "type": type(t).__name__,
                    "owner": t.owner,
                    "retries": t.retries,
                    "retry_exponential_backoff": t.retry_exponential_backoff,
                    "pool": t.pool,
                    "deferrable": getattr(t, "deferrable", None),
                    "mode": getattr(t, "mode", None),
                    "outlets": sorted(a.name for a in t.outlets),
                    "callable": f"{t.python_callable.__module__}.{t.python_callable.__name__}"
                    if hasattr(t, "python_callable")
                    else None,
                    "upstream": sorted(t.upstream_task_ids),
                }
                for t in dag.tasks
            },
        }
    return {
        "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
        "warnings": {str(k): [str(w) for w in v] for k, v in bag.captured_warnings.items()},
        "heavy_modules": pulled,
        "dags": dags,
    }


def _objects(timetable) -> list:
    condition = getattr(timetable, "asset_condition", None)
    return list(getattr(condition, "objects", []))


if __name__ == "__main__":
    home = Path(sys.argv[1])
    configure(home, home / "lake", home / "landing")
    print("FACTS " + json.dumps(facts(), default=str))
