"""Timeliness and accessibility of deliveries, from audit.deliveries and the catalogue's SLAs.

* ``delivery_on_time`` (时效性): each source expected on the date (its update cycle's dates,
  CatalogEntry.expects, as the Airflow sensors wait for it; or any source that delivered) is one item; it fails when its first delivery for the date came
  after the SLA deadline (``delivery_sla``: business date + ``days_after`` at ``deadline`` in
  ``tz``), or never came.
* ``files_accepted`` (可访问性): each delivered file (superseded ones excepted) is one item; a
  rejected file fails.
* ``rows_accepted`` (可访问性): each row a manifest declares (superseded files excepted) is one
  item; a row that did not reach bronze (quarantined, or in a rejected file) fails.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from jobs.platform.config import catalog, delivery_due
from jobs.platform.lake import Lake

DELIVERY_RULES = {
    "delivery_on_time": "timeliness",
    "files_accepted": "accessibility",
    "rows_accepted": "accessibility",
}


def delivery_results(lake: Lake, business_date: dt.date) -> list[dict]:
    """Result rows (rule_id, dimension, table, source_id, evaluated, failed) for the date."""
    d = lake.read("audit.deliveries").filter(f"business_date = DATE'{business_date}'").toPandas()
    out = []
    for source_id, entry in sorted(catalog().items()):
        mine = d[d["source_id"] == source_id]
        if not entry.expects(business_date) and mine.empty:
            continue
        table = f"bronze.{source_id}"
        first = pd.to_datetime(mine["delivered_at"], utc=True).min() if len(mine) else None
        late = (
            first is None
            or pd.isna(first)
            or first.to_pydatetime() > delivery_due(source_id, business_date)
        )
        out.append(_row("delivery_on_time", table, source_id, 1, int(late)))
        live = mine[mine["status"] != "superseded"]
        out.append(
            _row(
                "files_accepted",
                table,
                source_id,
                len(live),
                int((live["status"] == "rejected").sum()),
            )
        )
        declared = int(live["manifest_rows"].fillna(0).sum())
        accepted = int(live.loc[live["status"] == "accepted", "rows_accepted"].fillna(0).sum())
        out.append(_row("rows_accepted", table, source_id, declared, max(declared - accepted, 0)))
    return out


def _row(rule_id, table, source_id, evaluated, failed) -> dict:
    return {
        "rule_id": rule_id,
        "dimension": DELIVERY_RULES[rule_id],
        "table": table,
        "source_id": source_id,
        "evaluated": int(evaluated),
        "failed": int(failed),
    }
