"""OpenLineage events for every run: START, then COMPLETE or FAIL, with datasets and facets.

Each run of a job (lineage.runs) becomes an OpenLineage run of the job of the same name in the
``govlake`` namespace. Its COMPLETE event lists the tables read and written as datasets
(``file://<lake>`` namespace, ``layer.table`` names), each with its schema facet; every output
carries the column-lineage facet of its lineage.column_edges. Other lineage tools (Marquez,
DataHub) read them.

Transport: openlineage-python's file transport by default (``<lake>/_openlineage/events.jsonl``,
one event per line). ``GOVLAKE_OPENLINEAGE=http`` sends them to ``OPENLINEAGE_URL`` instead
(``OPENLINEAGE_API_KEY`` if the server needs one); ``GOVLAKE_OPENLINEAGE=off`` emits nothing.
An event that cannot be sent is logged and never fails the job.

Under Airflow, ``OPENLINEAGE_PARENT_ID`` (``namespace/job/run id``, the provider's
``lineage_parent_id``) names the task run that started the job: every event then carries a
parent-run facet, so a lineage server shows govlake's runs under the Airflow task that ran them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from pathlib import Path

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
)
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    nominal_time_run,
    parent_run,
    schema_dataset,
)
from openlineage.client.transport.file import FileConfig, FileTransport

from lineage.recorder import RunRecord

log = logging.getLogger(__name__)

JOB_NAMESPACE = "govlake"
PRODUCER = "https://github.com/govlake/govlake"


def dataset_namespace(lake_root: Path) -> str:
    """The OpenLineage namespace of a lake's tables (their names are ``layer.table``)."""
    return f"file://{Path(lake_root).resolve()}"


def parent_facet() -> dict:
    """A parent-run facet from ``OPENLINEAGE_PARENT_ID`` (``namespace/job/run id``), or {}."""
    value = os.environ.get("OPENLINEAGE_PARENT_ID", "")
    namespace, _, rest = value.partition("/")
    job, _, run_id = rest.rpartition("/")
    if not (namespace and job and run_id):
        return {}
    return {
        "parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run_id), job=parent_run.Job(namespace=namespace, name=job)
        )
    }


def events_file(lake_root: Path) -> Path:
    return Path(lake_root) / "_openlineage" / "events.jsonl"


class Emitter:
    """Sends a run's events; ``schema_of(table)`` gives a dataset's [(column, type)]."""

    def __init__(self, client: OpenLineageClient | None, lake_root: Path):
        self.client = client
        self.namespace = dataset_namespace(lake_root)

    @classmethod
    def configured(cls, lake_root: Path) -> Emitter:
        mode = os.environ.get("GOVLAKE_OPENLINEAGE", "file").lower()
        if mode == "off":
            return cls(None, lake_root)
        if mode == "http":
            from openlineage.client.transport.http import HttpConfig, HttpTransport

            url = os.environ["OPENLINEAGE_URL"]
            config = HttpConfig.from_dict(
                {
                    "url": url,
                    "auth": {"type": "api_key", "apiKey": os.environ["OPENLINEAGE_API_KEY"]},
                }
                if os.environ.get("OPENLINEAGE_API_KEY")
                else {"url": url}
            )
            return cls(OpenLineageClient(transport=HttpTransport(config)), lake_root)
        path = events_file(lake_root)
        path.parent.mkdir(parents=True, exist_ok=True)
        transport = FileTransport(FileConfig(log_file_path=str(path), append=True))
        return cls(OpenLineageClient(transport=transport), lake_root)

    def start(self, record: RunRecord) -> None:
        self._emit(RunState.START, record, [], [])

    def finish(self, record: RunRecord, schema_of) -> None:
        """COMPLETE (or FAIL) with the datasets read and written and their facets."""
        inputs = [
            InputDataset(self.namespace, table, facets=self._schema_facet(table, schema_of))
            for table in sorted(record.inputs)
        ]
        outputs = []
        for table in sorted(record.outputs):
            facets = self._schema_facet(table, schema_of)
            lineage = self._column_facet(record.columns.get(table, []))
            if lineage is not None:
                facets["columnLineage"] = lineage
            outputs.append(OutputDataset(self.namespace, table, facets=facets))
        state = RunState.COMPLETE if record.status == "success" else RunState.FAIL
        self._emit(state, record, inputs, outputs)

    def _emit(self, state, record: RunRecord, inputs, outputs) -> None:
        if self.client is None:
            return
        facets = parent_facet()
        if record.business_date is not None:
            start = dt.datetime.combine(record.business_date, dt.time(), dt.UTC)
            facets["nominalTime"] = nominal_time_run.NominalTimeRunFacet(
                nominalStartTime=start.isoformat(),
                nominalEndTime=(start + dt.timedelta(days=1)).isoformat(),
            )
        when = record.ended_at if state != RunState.START and record.ended_at else record.started_at
        event = RunEvent(
            eventType=state,
            eventTime=when.isoformat(),
            run=Run(runId=str(uuid.UUID(record.run_id)), facets=facets),
            job=Job(namespace=JOB_NAMESPACE, name=record.job),
            producer=PRODUCER,
            inputs=inputs,
            outputs=outputs,
        )
        try:
            self.client.emit(event)
        except Exception:  # lineage must never fail a job
            log.warning("OpenLineage event of run %s not sent", record.run_id, exc_info=True)

    @staticmethod
    def _schema_facet(table: str, schema_of) -> dict:
        fields = schema_of(table)
        if not fields:
            return {}
        return {
            "schema": schema_dataset.SchemaDatasetFacet(
                fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in fields]
            )
        }

    def _column_facet(self, edges: list[dict]):
        fields: dict[str, list] = {}
        how: dict[str, str] = {}
        for e in edges:
            if e["source_table"] == "(constant)":
                continue
            fields.setdefault(e["target_column"], []).append(
                column_lineage_dataset.InputField(
                    namespace=self.namespace, name=e["source_table"], field=e["source_column"]
                )
            )
            how[e["target_column"]] = e["transform"] or ""
        if not fields:
            return None
        return column_lineage_dataset.ColumnLineageDatasetFacet(
            fields={
                column: column_lineage_dataset.Fields(
                    inputFields=inputs, transformationDescription=how[column]
                )
                for column, inputs in sorted(fields.items())
            }
        )
