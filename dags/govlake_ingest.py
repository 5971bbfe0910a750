"""政务数据归集: one ingestion DAG per onboarded source (conf/catalog/<source_id>.yaml).

Each run is one business date of the source's update cycle. It waits, deferred (no worker
slot held), for the date's delivery until the source's SLA; ingests what arrived into bronze
and emits the ``bronze.<source_id>`` asset, which triggers the base libraries; and fails with
a plain message when the delivery was missing past its SLA. Adding a source adds its DAG.
"""

from __future__ import annotations

from airflow.sdk import DAG

from jobs.orchestration import schedule, tasks
from jobs.orchestration.operators import DeliverySensor, GovlakeOperator


def ingestion_dag(source) -> DAG:
    with DAG(
        dag_id=f"govlake_ingest_{source.source_id}",
        description=f"{source.department} · {source.resource_name}: delivery → bronze",
        schedule=schedule.timetable(source.update_cycle),
        start_date=schedule.start_date(),
        end_date=schedule.end_date(),
        catchup=False,
        max_active_runs=1,
        default_args=schedule.default_args(),
        tags=["govlake", "ingest", source.department_id, source.update_cycle],
        doc_md=__doc__,
        is_paused_upon_creation=False,
    ) as dag:
        wait = DeliverySensor(task_id="wait_for_delivery", source_id=source.source_id)
        ingest = GovlakeOperator(
            task_id="ingest",
            python_callable=tasks.ingest,
            op_kwargs={"source_id": source.source_id, "delivery": wait.output},
            outlets=[schedule.bronze_asset(source.source_id)],
            pool=schedule.LAKE_POOL,
        )
        confirm = GovlakeOperator(
            task_id="confirm_delivery",
            python_callable=tasks.confirm_delivery,
            op_kwargs={"ingested": ingest.output},
            retries=0,
        )
        wait >> ingest >> confirm
    return dag


for _source in schedule.sources():
    globals()[f"govlake_ingest_{_source.source_id}"] = ingestion_dag(_source)
