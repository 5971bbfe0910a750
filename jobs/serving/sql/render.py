"""Query results as a text table, CSV or JSON lines (nested values as JSON in CSV; CSV cells
safe to open in a spreadsheet, see jobs/serving/export.py)."""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
from typing import Any

import duckdb
import pyarrow as pa

from jobs.serving.export import write_csv

FORMATS = ("table", "csv", "json")


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def render(table: pa.Table, fmt: str) -> str:
    """``table`` in ``fmt`` (one of FORMATS)."""
    if fmt == "json":
        return "".join(
            json.dumps(row, ensure_ascii=False, default=_json_default) + "\n"
            for row in table.to_pylist()
        )
    if fmt == "csv":  # opened in spreadsheets: formula triggers made inert (jobs/serving/export.py)
        out = io.StringIO()
        write_csv(
            (
                [
                    json.dumps(v, ensure_ascii=False, default=_json_default)
                    if isinstance(v, (dict, list))
                    else v
                    for v in row.values()
                ]
                for row in table.to_pylist()
            ),
            table.column_names,
            out=out,
            newline="\n",
        )
        return out.getvalue()
    if fmt == "table":
        # DuckDB's renderer elides the middle of long results: render pages of 40 rows.
        con = duckdb.connect()
        try:
            if table.num_rows == 0:
                return con.from_arrow(table).__str__()
            return "".join(
                con.from_arrow(table.slice(start, 40)).__str__()
                for start in range(0, table.num_rows, 40)
            )
        finally:
            con.close()
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
