"""``quarantine.entries``: every entry of the landing zone that is not a delivery folder.

Entries inside a source's date folder belong to that source and date: they are recorded in
``quarantine.files`` with the date's slice. Everything above that level that is not a
well-formed ``<source_id>/<YYYY-MM-DD>/`` folder of an onboarded source (a stray file, a folder
of an unknown source, a folder whose name is not a business date, a link, a leftover temporary
file) is recorded here, as the landing zone holds it now: the table is the current state,
rewritten when it changes (its Delta history keeps the past), and ``first_seen_at`` says since
when an entry has been there.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyspark.sql import types as T

from jobs.pipeline.ingest.landing import LandingScan, LandingZone
from jobs.platform import delta
from jobs.platform.config import extract_schemas
from jobs.platform.lake import Lake

TABLE = "quarantine.entries"
ENTRIES_SCHEMA = T.StructType(
    [
        T.StructField("path", T.StringType()),
        T.StructField("entry_type", T.StringType()),
        T.StructField("source_id", T.StringType()),
        T.StructField("business_date", T.DateType()),
        T.StructField("reason_code", T.StringType()),
        T.StructField("reason", T.StringType()),
        T.StructField("first_seen_at", T.TimestampType()),
    ]
)
_KEY = ("path", "entry_type", "source_id", "business_date", "reason_code", "reason")
SHOWN = 20  # entries named in a run summary; the table holds them all


def record_landing(lake: Lake, landing: Path) -> LandingScan:
    """Scan the landing zone and make ``quarantine.entries`` hold what it finds."""
    scan = LandingZone(landing).scan(set(extract_schemas()))
    now = dt.datetime.now(dt.UTC)
    current = delta.read_rows(lake.path(TABLE)) if lake.exists(TABLE) else []
    since = {tuple(r[k] for k in _KEY): r["first_seen_at"] for r in current}
    rows = [
        {
            "path": e.path,
            "entry_type": e.kind,
            "source_id": e.source_id,
            "business_date": e.business_date,
            "reason_code": e.reason_code,
            "reason": e.reason,
            "first_seen_at": since.get(
                (e.path, e.kind, e.source_id, e.business_date, e.reason_code, e.reason), now
            ),
        }
        for e in scan.entries
    ]
    if lake.exists(TABLE) and set(since) == {tuple(r[k] for k in _KEY) for r in rows}:
        return scan
    with lake.run("ingest.landing", inputs={"landing": None}):
        lake.overwrite(lake.spark.createDataFrame(rows, ENTRIES_SCHEMA), TABLE)
    return scan


def summary(scan: LandingScan) -> list[str]:
    """Lines naming the entries that are not deliveries (the first :data:`SHOWN`)."""
    if not scan.entries:
        return []
    n = len(scan.entries)
    what = "1 entry that is not a delivery" if n == 1 else f"{n} entries that are not deliveries"
    lines = [f"landing zone: {what} (recorded in {TABLE}):"]
    lines += [f"  {e.path}  {e.reason_code}: {e.reason}" for e in scan.entries[:SHOWN]]
    if len(scan.entries) > SHOWN:
        lines.append(f"  … and {len(scan.entries) - SHOWN} more")
    return lines
