"""audit.queries: every query put to the SQL interface, allowed or not (事中全留痕、事后可追溯).

Rows are appended with delta-rs as each query ends: the interface answers in well under a
second and does not start a Spark session. A query whose audit row cannot be written returns
no result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from jobs.platform.delta import append_rows
from lineage.recorder import code_version

TABLE = "audit.queries"

SCHEMA = pa.schema(
    [
        ("query_id", pa.string()),
        ("user_name", pa.string()),
        ("role", pa.string()),
        ("division", pa.string()),
        ("client", pa.string()),
        ("submitted_at", pa.timestamp("us", tz="UTC")),
        ("dialect", pa.string()),
        ("as_of", pa.date32()),
        ("submitted_sql", pa.string()),
        ("executed_sql", pa.string()),
        ("tables_read", pa.list_(pa.string())),
        ("columns_read", pa.list_(pa.string())),
        ("status", pa.string()),  # allowed | denied | failed
        ("reason", pa.string()),
        ("rows_returned", pa.int64()),
        ("truncated", pa.bool_()),
        ("duration_ms", pa.float64()),
        ("code_version", pa.string()),
        # the persons or enterprises a lookup named (show, profile, trace, the workbench),
        # as the reader gave them; added after the first release: older rows hold NULL
        ("entities", pa.list_(pa.string())),
    ]
)


@dataclass
class AuditRow:
    query_id: str
    user_name: str
    role: str
    division: str | None
    client: str
    submitted_at: dt.datetime
    dialect: str
    as_of: dt.date | None
    submitted_sql: str
    executed_sql: str | None = None
    tables_read: list[str] = field(default_factory=list)
    columns_read: list[str] = field(default_factory=list)
    status: str = "denied"
    reason: str | None = None
    rows_returned: int | None = None
    truncated: bool = False
    duration_ms: float | None = None
    code_version: str = field(default_factory=code_version)
    entities: list[str] | None = None


def table_path(lake_root: str | Path) -> str:
    return str(Path(lake_root) / "audit" / "queries")


def append(path: str, rows: pa.Table, *, schema_mode: str | None = None) -> None:
    """Append ``rows`` to the audit table at ``path`` (a group commit: jobs/platform/delta.py)."""
    append_rows(path, rows, schema_mode=schema_mode)


def record(lake_root: str | Path, row: AuditRow) -> None:
    """Append one row to audit.queries (creating the table on first use)."""
    append(
        table_path(lake_root),
        pa.Table.from_pylist([asdict(row)], schema=SCHEMA),
        schema_mode="merge",  # a lake audited before `entities` existed gains the column
    )


def ensure_table(lake_root: str | Path) -> None:
    """Create audit.queries empty if it does not exist yet (so it can be queried at once)."""
    path = table_path(lake_root)
    if not DeltaTable.is_deltatable(path):
        write_deltalake(path, SCHEMA.empty_table(), mode="append")


def record_access(
    lake_root: str | Path,
    *,
    user: str,
    role: str,
    division: str | None,
    client: str,
    what: str,
    tables: list[str],
    entities: list[str] | None = None,
    rows: int | None = None,
    status: str = "allowed",
    reason: str | None = None,
    as_of: dt.date | None = None,
) -> None:
    """One audit row for a read that is not an analyst's query: a profile shown, a value
    traced, a report written. ``what`` says what was asked, as the reader asked it."""
    import uuid

    record(
        lake_root,
        AuditRow(
            query_id=uuid.uuid4().hex,
            user_name=user,
            role=role,
            division=division,
            client=client,
            submitted_at=dt.datetime.now(dt.UTC),
            dialect="-",
            as_of=as_of,
            submitted_sql=what,
            tables_read=list(tables),
            status=status,
            reason=reason,
            rows_returned=rows,
            entities=list(entities) if entities else None,
        ),
    )
