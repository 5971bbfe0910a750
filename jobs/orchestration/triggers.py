"""The trigger a deferred delivery sensor waits on, in the triggerer (no worker slot held).

It lives in an installed package because the triggerer imports triggers by class path, and
the DAGs folder is not on its path.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from airflow.triggers.base import BaseTrigger, TriggerEvent

from jobs.orchestration.delivery import outcome
from jobs.platform.config import delivery_due


class DeliveryTrigger(BaseTrigger):
    """Fires once: when the delivery is complete, or at its SLA deadline with what is there."""

    def __init__(
        self, landing: str, source_id: str, business_date: str, poke_interval: float = 60.0
    ):
        super().__init__()
        self.landing = landing
        self.source_id = source_id
        self.business_date = business_date
        self.poke_interval = poke_interval

    def serialize(self) -> tuple[str, dict]:
        """The trigger's class path and arguments, as the triggerer stores them."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "landing": self.landing,
                "source_id": self.source_id,
                "business_date": self.business_date,
                "poke_interval": self.poke_interval,
            },
        )

    async def run(self):
        """Poll the landing zone until the delivery arrives or its SLA passes; yield the outcome."""
        date = dt.date.fromisoformat(self.business_date)
        while True:
            now = dt.datetime.now(dt.UTC)
            # reading a few small .ok files: off the event loop all the same
            found = await asyncio.to_thread(
                outcome, Path(self.landing), self.source_id, business_date=date, now=now
            )
            if found is not None:
                yield TriggerEvent(found)
                return
            left = (delivery_due(self.source_id, date) - dt.datetime.now(dt.UTC)).total_seconds()
            await asyncio.sleep(max(min(self.poke_interval, left), 0.05))
