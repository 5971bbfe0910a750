"""Compare two lakes table by table, as a user would: the rows each table holds now.

Columns that record *when* or *by which run* something was written differ between any two
runs of the same data and are left out (VOLATILE); everything else must be equal.
"""

from __future__ import annotations

import json
from pathlib import Path

from jobs.platform.delta import lake_tables, read_table

# tables about runs and queries, not about the data: they differ between any two runs
RUN_TABLES = {"lineage.runs", "lineage.table_edges", "lineage.publications", "audit.queries"}
VOLATILE = {
    "_ingested_at", "ingested_at", "evaluated_at", "detected_at", "first_seen_at", "run_id", "_run_id",
}  # fmt: skip


def _canonical(value):
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def table_rows(root: Path, table: str) -> list[str]:
    """The table's rows as sorted canonical JSON strings, volatile columns dropped."""
    data = read_table(Path(root) / table.replace(".", "/"))
    keep = [c for c in data.column_names if c not in VOLATILE]
    return sorted(_canonical(row) for row in data.select(keep).to_pylist())


def differences(left: Path, right: Path, skip: set[str] = RUN_TABLES) -> list[str]:
    """What differs between the two lakes (empty when they hold the same data)."""
    a, b = set(lake_tables(left)) - skip, set(lake_tables(right)) - skip
    out = [f"only in {left}: {t}" for t in sorted(a - b)]
    out += [f"only in {right}: {t}" for t in sorted(b - a)]
    for table in sorted(a & b):
        x, y = table_rows(left, table), table_rows(right, table)
        if x != y:
            gone, new = sorted(set(x) - set(y)), sorted(set(y) - set(x))
            out.append(
                f"{table}: {len(x)} vs {len(y)} rows; e.g. only left {gone[:1]}, only right {new[:1]}"
            )
    return out
