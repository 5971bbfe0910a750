"""quality.finding_actions: what people did about findings (数据异议 and 整改), append-only.

A department liaison disputes a finding of their department (``dispute``) or says it has been
rectified (``submit_rectification``); a quality officer upholds or rejects a dispute
(``uphold`` / ``reject``). Each action is one row: who, with which role and department, when,
on which business date it takes effect (the latest published date when it was taken), the
status before and after, and the note. Rows are only ever appended (delta-rs, like the audit
tables; the workbench writes them while a run may hold the writer lease, so the table is not
pinned by publications: jobs/platform/publication.py UNPINNED).

The current status of a finding is derived from its actions and from what the deliveries
show (quality.findings), never stored: reruns and backfills rebuild quality.findings, and the
derivation (jobs/serving/workbench/state.py) gives the same lifecycle back. The pipeline reads
only the upheld disputes here: a dismissed finding stops counting in the scores from the date
the decision took effect (:func:`dismissed_counts`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from pyspark.sql import functions as F

from jobs.platform.delta import append_rows
from jobs.platform.lake import Lake

TABLE = "quality.finding_actions"

# every status a finding can have in the workbench; quality.findings' own status is open or
# resolved (what the deliveries show), the others come from people's actions
STATUSES = (
    "open",
    "disputed",
    "dismissed",
    "rectification_submitted",
    "rectification_failed",
    "resolved",
)

SCHEMA = pa.schema(
    [
        ("action_id", pa.string()),
        ("finding_id", pa.string()),
        ("rule_id", pa.string()),
        ("source_id", pa.string()),
        ("department_id", pa.string()),
        ("action", pa.string()),  # dispute | uphold | reject | submit_rectification
        ("from_status", pa.string()),
        ("to_status", pa.string()),
        ("note", pa.string()),  # the reason, decision or rectification note
        ("evidence", pa.string()),  # optional evidence text of a dispute
        ("actor", pa.string()),
        ("actor_role", pa.string()),
        ("actor_department", pa.string()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("effective_date", pa.date32()),  # the business date from which it counts
        ("client", pa.string()),
        ("code_version", pa.string()),
    ]
)

MAX_NOTE = 4000
MAX_EVIDENCE = 20000


@dataclass(frozen=True)
class Transition:
    """One kind of action: the role that takes it, the statuses it starts from, where it ends."""

    action: str
    label: str
    role: str
    from_statuses: frozenset[str]
    to_status: str


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition(
            "dispute",
            "提出异议 dispute",
            "department_liaison",
            frozenset({"open", "rectification_failed"}),
            "disputed",
        ),
        Transition(
            "submit_rectification",
            "提交整改 rectification submitted",
            "department_liaison",
            frozenset({"open", "rectification_failed"}),
            "rectification_submitted",
        ),
        Transition(
            "uphold",
            "异议成立 uphold dispute",
            "quality_officer",
            frozenset({"disputed"}),
            "dismissed",
        ),
        Transition(
            "reject", "异议驳回 reject dispute", "quality_officer", frozenset({"disputed"}), "open"
        ),
    )
}


class ActionRefused(PermissionError):
    """The action may not be taken: wrong role, another department, or the wrong status."""


def check(
    action: str, *, role: str, department: str | None, finding_department: str, status: str
) -> Transition:
    """The transition ``action`` names, when a user of ``role`` (and ``department``, for a
    liaison) may take it on a finding of ``finding_department`` now in ``status``."""
    t = TRANSITIONS.get(action)
    if t is None:
        raise ActionRefused(f"unknown action {action!r}")
    if role != t.role:
        raise ActionRefused(f"{t.action} is for the role {t.role}, not {role}")
    if role == "department_liaison" and department != finding_department:
        raise ActionRefused("a liaison acts on the findings of their own department only")
    if status not in t.from_statuses:
        allowed = ", ".join(sorted(t.from_statuses))
        raise ActionRefused(f"{t.action} needs a finding that is {allowed}; this one is {status}")
    return t


def table_path(lake_root: str | Path) -> str:
    return str(Path(lake_root) / "quality" / "finding_actions")


def append(lake_root: str | Path, rows: list[dict]) -> None:
    """Append action rows (creating the table on first use), in a group commit retried on
    conflict with other processes (jobs/platform/delta.py append_rows)."""
    from lineage.recorder import code_version

    full = [
        {
            "action_id": uuid.uuid4().hex,
            "at": dt.datetime.now(dt.UTC),
            "code_version": code_version(),
            **r,
        }
        for r in rows
    ]
    append_rows(table_path(lake_root), pa.Table.from_pylist(full, schema=SCHEMA))


def read_arrow(lake_root: str | Path) -> pa.Table:
    """Every action so far (an empty table before the first)."""
    from deltalake import DeltaTable

    path = table_path(lake_root)
    if not DeltaTable.is_deltatable(path):
        return SCHEMA.empty_table()
    return DeltaTable(path).to_pyarrow_table().select(SCHEMA.names).cast(SCHEMA)


def dismissed_counts(lake: Lake, business_date: dt.date) -> dict[tuple[str, str], int]:
    """(rule_id, source_id) → findings seen on the date whose dispute was upheld with effect on
    or before it: failures that no longer count in the date's scores."""
    if not lake.exists(TABLE):
        return {}
    upheld = (
        lake.read(TABLE)
        .filter((F.col("action") == "uphold") & (F.col("effective_date") <= F.lit(business_date)))
        .select("finding_id")
        .distinct()
    )
    seen = (
        lake.read("quality.finding_history")
        .filter(F.col("_business_date") == F.lit(business_date))
        .select("finding_id", "rule_id", "source_id")
    )
    rows = seen.join(upheld, "finding_id").groupBy("rule_id", "source_id").count().collect()
    return {(r["rule_id"], r["source_id"]): int(r["count"]) for r in rows}
