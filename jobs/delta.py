"""Reading small Delta tables without Spark (lineage, audit, catalogue), through delta-rs.

delta-rs' own query engine reads them. ``DeltaTable.to_pyarrow_dataset()`` leaves pyarrow
scanner threads that can abort the interpreter at exit ("terminate called without an active
exception", delta-io/delta-rs#2184); command-line tools that read this way exit cleanly.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable, QueryBuilder


def read_table(path: str | Path, version: int | None = None) -> pa.Table:
    """The whole table (at ``version``) as Arrow."""
    dtab = DeltaTable(str(path), version=version)
    return pa.table(QueryBuilder().register("t", dtab).execute("SELECT * FROM t"))


def read_rows(path: str | Path) -> list[dict]:
    return read_table(path).to_pylist()


def version_as_of(root: str, table: str, as_of: dt.date, runs: pa.Table | None) -> int:
    """The Delta version of ``table`` that held business date ``as_of``.

    It is the version written by the latest successful run, for the latest business date on or
    before ``as_of``, that wrote the table (lineage.runs). A table no run writes (audit.queries)
    is taken as it stood at the end of that day.
    """
    best: tuple[dt.date, dt.datetime, int] | None = None
    written = False
    for run in runs.to_pylist() if runs is not None else []:
        if run["status"] != "success" or run["business_date"] is None:
            continue
        for item in (run["outputs"] or "").split(","):
            name, _, version = item.partition("@")
            if name != table or not version:
                continue
            written = True
            key = (run["business_date"], run["ended_at"], int(version))
            if run["business_date"] <= as_of and (best is None or key[:2] > best[:2]):
                best = key
    if best is not None:
        return best[2]
    if written:
        raise LookupError(f"{table} has no build for a business date on or before {as_of}")
    dtab = DeltaTable(f"{root}/{table.replace('.', '/')}")
    end_of_day = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), dt.UTC)
    try:
        dtab.load_as_version(end_of_day)
    except Exception as e:  # delta-rs raises a generic error when nothing is that old
        raise LookupError(f"{table} has no version on or before {as_of}") from e
    return dtab.version()
