"""Builds triggered by assets, one DAG per stage of jobs/pipeline/stages.py: 基础库 base
libraries → 多源校核 quality → 主题库 themes → scores → 政务数据目录 catalogue and lineage.

``govlake_base`` runs when any source's bronze asset is updated, and each later stage when the
one before it emits its asset. A run builds the business dates its triggering events name, in
order (the base libraries from the earliest forward), so a late or corrected source rebuilds
only the dates it changed and what depends on them.
"""

from __future__ import annotations

from airflow.sdk import DAG, AssetAny

from jobs.orchestration import schedule, tasks
from jobs.orchestration.operators import GovlakeOperator


def build_dag(stage: str) -> DAG:
    with DAG(
        dag_id=f"govlake_{stage}",
        description=schedule.DESCRIPTIONS[stage],
        schedule=AssetAny(*schedule.upstream_assets(stage)),
        start_date=schedule.start_date(),
        end_date=schedule.end_date(),
        catchup=False,
        max_active_runs=1,
        default_args=schedule.default_args(),
        tags=["govlake", "build", stage],
        doc_md=__doc__,
        is_paused_upon_creation=False,
    ) as dag:
        GovlakeOperator(
            task_id=stage,
            python_callable=tasks.build,
            op_kwargs={"stage": stage},
            outlets=[schedule.stage_asset(stage)],
            pool=schedule.LAKE_POOL,
        )
    return dag


for _stage, _ in schedule.BUILD_STAGES:
    globals()[f"govlake_{_stage}"] = build_dag(_stage)
