"""Run recording: what a job read and wrote, with Delta versions (lineage.runs, table_edges).

The recorder only collects what it is handed; jobs/platform/lake.py hands it every read and write and
persists the rows it builds. It imports nothing from jobs/.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def code_version() -> str:
    """The git commit of the code that runs (with ``+dirty`` for uncommitted changes)."""
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@dataclass
class RunRecord:
    """One run of one job: its inputs and outputs as {table: delta_version}."""

    job: str
    business_date: dt.date | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    ended_at: dt.datetime | None = None
    status: str = "running"
    inputs: dict[str, int | None] = field(default_factory=dict)
    outputs: dict[str, int | None] = field(default_factory=dict)
    columns: dict[str, list[dict]] = field(default_factory=dict)  # column_edges by target table

    def read(self, table: str, version: int | None) -> None:
        # The first version read is the one that fed the run.
        self.inputs.setdefault(table, version)

    def wrote(self, table: str, version: int | None) -> None:
        # The last version written is the one the run left.
        self.outputs[table] = version

    def derived(self, table: str, edges: list[dict]) -> None:
        """Column edges of ``table`` (lineage.columns.edges rows); writes to a table add up.

        A column with a real source needs no "(constant)" edge from another write of it.
        """
        rows = {tuple(sorted(e.items())): e for e in self.columns.get(table, []) + edges}
        real = {e["target_column"] for e in rows.values() if e["source_table"] != "(constant)"}
        self.columns[table] = [
            e
            for e in rows.values()
            if e["source_table"] != "(constant)" or e["target_column"] not in real
        ]

    def finish(self, status: str) -> None:
        self.status = status
        self.ended_at = dt.datetime.now(dt.UTC)

    def run_row(self) -> dict:
        fmt = lambda d: ",".join(f"{t}@{'' if v is None else v}" for t, v in sorted(d.items()))  # noqa: E731
        return {
            "run_id": self.run_id,
            "job": self.job,
            "business_date": self.business_date,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "status": self.status,
            "inputs": fmt(self.inputs),
            "outputs": fmt(self.outputs),
            "code_version": code_version(),
        }

    def edge_rows(self) -> list[dict]:
        """Every input feeds every output of the run (table-level lineage)."""
        return [
            {
                "run_id": self.run_id,
                "source_table": src,
                "source_version": sv,
                "target_table": tgt,
                "target_version": tv,
            }
            for src, sv in sorted(self.inputs.items())
            for tgt, tv in sorted(self.outputs.items())
            if src != tgt
        ]
