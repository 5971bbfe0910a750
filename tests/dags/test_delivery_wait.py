"""Waiting for a delivery: the sensor defers to the triggerer instead of holding a worker slot,
and the trigger fires once, when the delivery is complete or at the SLA deadline."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import json

import pendulum
import pytest
from airflow.sdk.exceptions import TaskDeferred

from jobs.orchestration.delivery import outcome
from jobs.orchestration.operators import DeliverySensor
from jobs.orchestration.schedule import TZ
from jobs.orchestration.triggers import DeliveryTrigger
from jobs.platform.config import delivery_due as due
from tests.integration.landing_kit import deliver

SOURCE = "mzj_hydj"
PAST = dt.date(2026, 11, 2)  # its SLA (2026-11-03 06:00 +08:00) has passed


def _future() -> dt.date:
    return dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()


def _deliver(landing, date, *, mark=True):
    """A delivery of one file (the sensor reads only the .ok manifests), marked or not."""
    return deliver(landing, SOURCE, date, 1, "jsonl", b'{"DJRQ": "20261102"}\n', 1, ok=mark)


def _events(trigger) -> list[dict]:
    async def first():
        async for event in trigger.run():
            return event.payload

    return [asyncio.run(asyncio.wait_for(first(), 10))]


def test_a_complete_delivery_is_delivered_whenever_it_came(tmp_path):
    _deliver(tmp_path, PAST)
    found = outcome(tmp_path, SOURCE, business_date=PAST, now=dt.datetime.now(dt.UTC))
    assert found["status"] == "delivered" and found["due"] == "2026-11-03T06:00:00+08:00"


def test_past_the_deadline_nothing_is_missing_and_a_part_is_incomplete(tmp_path):
    now = dt.datetime.now(dt.UTC)
    assert outcome(tmp_path, SOURCE, business_date=PAST, now=now)["status"] == "missing"
    _deliver(tmp_path, PAST, mark=False)  # still being written: no .ok
    found = outcome(tmp_path, SOURCE, business_date=PAST, now=now)
    assert found["status"] == "incomplete" and "without a .ok" in found["detail"]
    assert (
        outcome(
            tmp_path, SOURCE, business_date=PAST, now=due(SOURCE, PAST) - dt.timedelta(seconds=1)
        )
        is None
    )


def test_the_sensor_defers_to_the_trigger_while_it_is_worth_waiting(tmp_path, monkeypatch):
    monkeypatch.setenv("GOVLAKE_LANDING", str(tmp_path))
    date = _future()
    sensor = DeliverySensor(task_id="wait_for_delivery", source_id=SOURCE)
    start = pendulum.datetime(date.year, date.month, date.day, tz=TZ)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"data_interval_start": start, "dag_run": None})
    trigger = deferred.value.trigger
    assert isinstance(trigger, DeliveryTrigger) and deferred.value.method_name == "execute_complete"
    assert (trigger.source_id, trigger.business_date) == (SOURCE, date.isoformat())
    # the triggerer rebuilds it from its class path and JSON arguments
    path, kwargs = trigger.serialize()
    module, _, name = path.rpartition(".")
    again = getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))
    assert again.serialize() == (path, kwargs)
    # a past date is decided at once, without deferring
    past = pendulum.datetime(PAST.year, PAST.month, PAST.day, tz=TZ)
    assert sensor.execute({"data_interval_start": past, "dag_run": None})["status"] == "missing"


def test_the_trigger_fires_when_the_delivery_completes(tmp_path):
    date = _future()
    trigger = DeliveryTrigger(str(tmp_path), SOURCE, date.isoformat(), poke_interval=0.05)

    async def deliver_later():
        await asyncio.sleep(0.3)
        _deliver(tmp_path, date)

    async def both():
        task = asyncio.create_task(deliver_later())
        async for event in trigger.run():
            await task
            return event.payload

    payload = asyncio.run(asyncio.wait_for(both(), 10))
    assert payload["status"] == "delivered" and payload["business_date"] == date.isoformat()


def test_the_trigger_fires_at_the_deadline_with_what_is_there(tmp_path):
    (payload,) = _events(DeliveryTrigger(str(tmp_path), SOURCE, PAST.isoformat()))
    assert payload["status"] == "missing" and payload["due"] == "2026-11-03T06:00:00+08:00"
