"""Upkeep of the lake on a schedule (conf/maintenance.yaml, weekly by default): ``govlake
maintain`` compacts the small files every date adds, checkpoints the Delta logs and vacuums
what no kept publication needs. A lake never maintained reads more files every date: a city's
fortieth date took 34 s where it took 26 s after a maintenance (docs/lake.md).

It takes the lake's pool and the writer lease, so it runs between builds, never beside one;
the next date's incremental builds are unaffected (a compaction keeps the same rows).
"""

from __future__ import annotations

from airflow.sdk import DAG

from jobs.orchestration import schedule, tasks
from jobs.orchestration.operators import GovlakeOperator

with DAG(
    dag_id="govlake_maintain",
    description="compact, checkpoint and vacuum the lake (govlake maintain)",
    schedule=schedule.maintenance_timetable(),
    start_date=schedule.start_date(),
    end_date=schedule.end_date(),
    catchup=False,
    max_active_runs=1,
    default_args=schedule.default_args(),
    tags=["govlake", "maintain"],
    doc_md=__doc__,
    is_paused_upon_creation=False,
) as govlake_maintain:
    GovlakeOperator(
        task_id="maintain",
        python_callable=tasks.maintain,
        pool=schedule.LAKE_POOL,
    )
