"""Which bronze rows make up a source's state on a business date.

* incremental sources: every event delivered up to and including the date;
* full sources: the latest snapshot delivered up to the date. When that snapshot is incomplete
  (a part rejected or missing, see audit.deliveries) a record absent from it is not taken as
  deleted: entities it lacks are carried forward from the latest complete snapshot before it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.platform.config import catalog, extract_schema
from jobs.platform.lake import Lake


class CurrentRows(Mapping):
    """Each source's current rows as of a date (``current_rows``), read on first use.

    What the pure transforms of the base, quality and themes stages take as their bronze
    input: the stages pass this; tests pass a plain dict of inline frames. A source with no
    bronze table yet is not in it.
    """

    def __init__(
        self, lake: Lake, as_of: dt.date, *, versions: Mapping[str, int | None] | None = None
    ):
        """``versions``: read the tables at these Delta versions ({table: version}, as a run of
        lineage.runs recorded its inputs), without recording the reads: the rows an earlier
        build used, to compare with."""
        self._lake, self._as_of, self._read = lake, as_of, {}
        self._versions = versions

    def __getitem__(self, source_id: str) -> DataFrame:
        if source_id not in self._read:
            if source_id not in self:
                raise KeyError(source_id)
            self._read[source_id] = current_rows(
                self._lake, source_id, as_of=self._as_of, versions=self._versions
            )
        return self._read[source_id]

    def __contains__(self, source_id: object) -> bool:
        if not isinstance(source_id, str):
            return False
        table = f"bronze.{source_id}"
        if self._versions is not None:
            return self._versions.get(table) is not None
        return self._lake.exists(table)

    def __iter__(self):
        return (s for s in sorted(catalog()) if s in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def current_rows(
    lake: Lake,
    source_id: str,
    *,
    as_of: dt.date,
    versions: Mapping[str, int | None] | None = None,
) -> DataFrame:
    """The source's rows that make up its state on ``as_of`` (see the module); with
    ``versions``, as the tables were at those versions (see CurrentRows)."""
    table = f"bronze.{source_id}"
    if versions is None:
        read, read_arrow = lake.read, lake.read_arrow
    else:

        def read(name: str, **kw) -> DataFrame:
            return lake.read(name, version=versions[name], record=False, **kw)

        def read_arrow(name: str) -> pa.Table:
            return lake.read_arrow(name, version=versions[name], record=False)

    upto = F.col("_business_date") <= F.lit(as_of)
    schema = extract_schema(source_id)
    if schema.mode == "incremental":
        return read(table).filter(upto)
    dates = _snapshot_dates(read_arrow("audit.deliveries"), source_id, as_of)
    if not dates:
        return read(table).filter(upto).limit(0)
    latest, complete = dates[-1]
    earlier = [d for d, ok in dates[:-1] if ok]
    # only the snapshots used: a version is read partition by partition (Lake.read)
    used = [latest] if complete or not earlier else [latest, earlier[-1]]
    bronze = read(table, partitions={"_business_date": used})
    rows = bronze.filter(F.col("_business_date") == F.lit(latest))
    if complete or not earlier:
        return rows
    key = _entity_key(schema.entity_keys)
    carried = bronze.filter(F.col("_business_date") == F.lit(earlier[-1])).join(
        rows.select(key.alias("_k")), key == F.col("_k"), "left_anti"
    )
    return rows.unionByName(carried)


def _entity_key(keys) -> F.Column:
    return F.concat_ws("\u001f", *[F.coalesce(F.trim(F.col(k)), F.lit("")) for k in keys])


def _snapshot_dates(
    deliveries: pa.Table, source_id: str, as_of: dt.date
) -> list[tuple[dt.date, bool]]:
    """Dates with accepted files for the source, oldest first, and whether each is complete
    (audit.deliveries: a few rows a file, read without a request to the engine)."""
    complete: dict[dt.date, bool] = {}
    for r in deliveries.select(
        ["source_id", "business_date", "status", "snapshot_complete"]
    ).to_pylist():
        if r["source_id"] != source_id or r["status"] != "accepted":
            continue
        if r["business_date"] is None or r["business_date"] > as_of:
            continue
        ok = r["snapshot_complete"] is not False  # unknown counts as complete
        complete[r["business_date"]] = complete.get(r["business_date"], True) and ok
    return sorted(complete.items())
