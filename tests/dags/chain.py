"""Run govlake's DAGs with ``dag.test()`` in a given order, in a throwaway Airflow; print one
JSON line per DAG run (its state, each task's state and return value).

``python -m tests.dags.chain HOME LAKE LANDING STEPS_JSON``, STEPS a list of
``["ingest", source_id, "YYYY-MM-DD"]`` (run for that business date: logical date the next
day at 00:00 +08:00, so the date comes from the data interval) and
``["build", stage, ["YYYY-MM-DD", ...]]`` (an asset-triggered DAG: under ``dag.test`` it
receives no asset events, so the dates go in its conf; ``"upstream"`` instead of a list passes
the dates the previous build step built, as its asset event would) and ``["maintain", "", ""]``
(the maintenance DAG, as its schedule would run it). Run in its own process:
Airflow configures logging and its DB at import.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

from tests.dags.airflow_home import configure, init_db


def main(home: str, lake: str, landing: str, steps: str) -> None:
    os.environ["GOVLAKE_AIRFLOW_RETRIES"] = "0"  # dag.test waits out real retry delays
    configure(Path(home), Path(lake), Path(landing))
    init_db()
    import pendulum
    from airflow.dag_processing.dagbag import DagBag

    from jobs.orchestration.schedule import TZ

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags"))
    assert not bag.import_errors, bag.import_errors
    built: list[str] = []
    for kind, name, when in json.loads(steps):
        if kind == "ingest":
            day = dt.date.fromisoformat(when) + dt.timedelta(days=1)
            dag = bag.dags[f"govlake_ingest_{name}"]
            run = dag.test(logical_date=pendulum.datetime(day.year, day.month, day.day, tz=TZ))
        elif kind == "maintain":
            run = bag.dags["govlake_maintain"].test()
        else:
            dag = bag.dags[f"govlake_{name}"]
            dates = built if when == "upstream" else when
            run = dag.test(logical_date=None, run_conf={"business_dates": dates})
        done = summary(run)
        if kind == "build":
            built = (done["tasks"][name]["value"] or {}).get("built", [])
        print("CHAIN " + json.dumps(done, default=str), flush=True)


def summary(run) -> dict:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    tasks = {}
    with create_session() as session:
        for ti in run.get_task_instances(session=session):
            query = XComModel.get_many(
                run_id=run.run_id, dag_ids=run.dag_id, task_ids=ti.task_id, key="return_value"
            )
            value = session.scalars(query).first()
            tasks[ti.task_id] = {
                "state": str(ti.state),
                "value": XComModel.deserialize_value(value) if value is not None else None,
            }
    return {"dag_id": run.dag_id, "state": str(run.state), "tasks": tasks}


if __name__ == "__main__":
    main(*sys.argv[1:5])
