"""The two operators govlake's DAGs use.

* :class:`DeliverySensor` waits for a source's delivery of the run's business date until its
  SLA, deferred to the triggerer (or in reschedule mode), and returns what it found.
* :class:`GovlakeOperator` runs a function of jobs/orchestration/tasks.py and tells the
  OpenLineage provider which lake tables it read and wrote, under the same dataset names as
  govlake's own lineage events (whose runs it names as their parent).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import BaseSensorOperator, PokeReturnValue

from jobs.orchestration import schedule
from jobs.orchestration.delivery import outcome
from jobs.orchestration.triggers import DeliveryTrigger
from jobs.platform.config import delivery_due


class DeliverySensor(BaseSensorOperator):
    """Returns ``{"status": "delivered" | "incomplete" | "missing", ...}`` and never fails
    for lateness: the ingest task after it records a late or missing delivery."""

    template_fields = ("source_id",)
    ui_color = "#e8f4fd"

    def __init__(self, *, source_id: str, deferrable: bool = True, **kwargs):
        kwargs.setdefault("poke_interval", 300)
        if not deferrable:
            kwargs.setdefault("mode", "reschedule")  # free the worker slot between pokes
        super().__init__(**kwargs)
        self.source_id = source_id
        self.deferrable = deferrable

    def _check(self, context) -> dict | None:
        date = schedule.business_date(context)
        return outcome(
            schedule.landing_dir(), self.source_id, business_date=date, now=dt.datetime.now(dt.UTC)
        )

    def execute(self, context) -> Any:
        found = self._check(context)
        if found is not None or not self.deferrable:
            return found if found is not None else super().execute(context)
        date = schedule.business_date(context)
        deadline = delivery_due(self.source_id, date)
        self.log.info("waiting for %s %s until its SLA %s", self.source_id, date, deadline)
        self.defer(
            trigger=DeliveryTrigger(
                str(schedule.landing_dir()), self.source_id, date.isoformat(), self.poke_interval
            ),
            method_name="execute_complete",
            # the trigger fires at the deadline itself; this is only a safety net
            timeout=deadline - dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        )

    def poke(self, context) -> PokeReturnValue:
        """One check of the landing zone (reschedule mode)."""
        found = self._check(context)
        return PokeReturnValue(is_done=found is not None, xcom_value=found)

    def execute_complete(self, context, event: dict | None = None) -> dict:
        """Resume after the trigger fired: log and return its outcome."""
        self.log.info("%s: %s (%s)", self.source_id, event["status"], event["detail"])
        return event


class GovlakeOperator(PythonOperator):
    """A PythonOperator for jobs/orchestration/tasks.py functions that return
    ``{"lineage": {"inputs": [...], "outputs": [...]}, ...}``."""

    ui_color = "#eaf5e9"

    def execute(self, context) -> Any:
        parent = _parent_id(context)
        previous = os.environ.get("OPENLINEAGE_PARENT_ID")
        if parent:
            os.environ["OPENLINEAGE_PARENT_ID"] = parent
        try:
            result = super().execute(context)
        finally:
            if previous is None:
                os.environ.pop("OPENLINEAGE_PARENT_ID", None)
            else:
                os.environ["OPENLINEAGE_PARENT_ID"] = previous
        self._govlake_lineage = (result or {}).get("lineage") if isinstance(result, dict) else None
        return result

    def get_openlineage_facets_on_complete(self, task_instance):
        """The lake tables the task read and wrote, named as govlake's own events name them."""
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import InputDataset, OutputDataset

        from lineage.openlineage import dataset_namespace

        seen = getattr(self, "_govlake_lineage", None) or {}
        namespace = dataset_namespace(schedule.lake_dir())
        return OperatorLineage(
            inputs=[InputDataset(namespace, t) for t in seen.get("inputs", [])],
            outputs=[OutputDataset(namespace, t) for t in seen.get("outputs", [])],
        )


def _parent_id(context) -> str | None:
    """The provider's ``lineage_parent_id`` of this task run, when the provider is installed."""
    try:
        from airflow.providers.openlineage.plugins.macros import lineage_parent_id
    except ImportError:
        return None
    try:
        return lineage_parent_id(context["ti"])
    except Exception:  # lineage never fails a task
        return None
