"""audit.logins: every login attempt to the SQL server, accepted or refused.

Appended with delta-rs like audit.queries (jobs/serving/sql/audit.py). Never holds a password or a
SCRAM proof. Read by platform_admin (conf/access.yaml: tables ["*"]); analysts' grants do not
include audit.*.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from jobs.serving.sql import audit
from lineage.recorder import code_version

TABLE = "audit.logins"

SCHEMA = pa.schema(
    [
        ("login_id", pa.string()),
        ("user_name", pa.string()),
        ("client_addr", pa.string()),
        ("application_name", pa.string()),
        ("tls", pa.bool_()),
        ("outcome", pa.string()),  # accepted | refused
        ("reason", pa.string()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("code_version", pa.string()),
    ]
)


@dataclass
class LoginRow:
    user_name: str
    client_addr: str
    application_name: str
    tls: bool
    outcome: str
    reason: str | None
    login_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    code_version: str = field(default_factory=code_version)


def table_path(lake_root: str | Path) -> str:
    return str(Path(lake_root) / "audit" / "logins")


def record(lake_root: str | Path, row: LoginRow) -> None:
    """Append one row to audit.logins (creating the table on first use)."""
    audit.append(table_path(lake_root), pa.Table.from_pylist([asdict(row)], schema=SCHEMA))


def ensure_table(lake_root: str | Path) -> None:
    path = table_path(lake_root)
    if not DeltaTable.is_deltatable(path):
        write_deltalake(path, SCHEMA.empty_table(), mode="append")
