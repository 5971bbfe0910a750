"""What the workbench and the report show of findings, and the lists they send departments.

Values are shown by the one masking policy (jobs/platform/policy.py): a finding's observed and
expected values take the level and mask of the data item their attribute names, and a person's
ID number is shown as a pseudonym to readers below its level. The rectification lists (整改清单)
are safe to open (jobs/serving/export.py): formula triggers inert, XLSX cells typed.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import pandas as pd

from jobs.pipeline.quality.rules import description
from jobs.platform import settings
from jobs.platform.config import catalog
from jobs.platform.policy import MASKS, Grant, apply_mask, attribute_rule, mask_value
from jobs.serving.export import save_csv, save_xlsx

LIST_COLUMNS = {
    "finding_id": "问题编号 finding",
    "rule_id": "规则 rule",
    "description": "说明 description",
    "dimension": "维度 dimension",
    "source_id": "责任数据源 source",
    "entity_kind": "对象类型 kind",
    "entity_id": "对象标识 entity",
    "attribute": "数据项 attribute",
    "observed": "提供值 observed",
    "expected": "应为 expected",
    "authoritative_source": "权威来源 authority",
    "first_seen_batch": "首次发现批次 first seen",
    "last_seen_batch": "最近发现批次 last seen",
    "first_seen_on": "首次发现日期",
    "last_seen_on": "最近发现日期",
    "state": "状态 status",
    "due_on": "整改期限 due",
}
# the statuses a department's list carries: what it still owes, and what awaits a decision
LISTED = ("open", "rectification_failed", "rectification_submitted", "disputed")


def shown_value(attribute: str, value, *, reader: Grant) -> str:
    """A finding's observed or expected value of ``attribute`` as ``reader`` may see it."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    rule = attribute_rule(attribute)
    if rule is None or reader.in_clear(rule.level):
        return str(value)
    if MASKS.get(rule.mask) is not None and MASKS[rule.mask].takes == "date":
        try:
            value = dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            return ""
        return apply_mask(rule.mask, value).isoformat()
    shown = apply_mask(rule.mask, str(value))
    return "" if shown is None else str(shown)


def shown_entity(kind: str, rule_id: str, *, value, reader: Grant) -> str:
    """The person or enterprise a finding is about, as ``reader`` may see it (a person's ID
    number is the finding's ``entity_id``; a birth certificate's number is not an identifier
    of a registered person)."""
    if value is None:
        return ""
    if kind != "person" or rule_id == "birth_not_registered":
        return str(value)
    return str(mask_value("quality.findings", "entity_id", value=str(value), reader=reader))


def band(score) -> str:
    if score is None or pd.isna(score):
        return "none"
    bands = settings.quality().bands
    return "good" if score >= bands.good else "fair" if score >= bands.fair else "poor"


def trend_svg(points: list[tuple[str, float]], *, width=640, height=180) -> str:
    """A line chart of the platform score over business dates, as inline SVG."""
    if not points:
        return "<p>No scores yet.</p>"
    lo = min(min(s for _, s in points), 90.0)
    lo = max(0.0, lo - (100 - lo) * 0.1)
    pad_l, pad_r, pad_t, pad_b = 44, 12, 12, 28
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    n = len(points)
    xs = [pad_l + (w * i / (n - 1) if n > 1 else w / 2) for i in range(n)]
    ys = [pad_t + h * (100 - s) / (100 - lo) for _, s in points]
    parts = [
        f'<svg role="img" aria-label="platform score trend" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for v in (lo, (lo + 100) / 2, 100):
        y = pad_t + h * (100 - v) / (100 - lo)
        parts.append(
            f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{pad_l - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{v:.0f}</text>'
        )
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    parts.append(f'<polyline points="{path}" class="line"/>')
    for (d, s), x, y in zip(points, xs, ys, strict=True):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" class="dot"><title>{d}: {s:.2f}</title>'
            f'</circle><text x="{x:.1f}" y="{height - 8}" text-anchor="middle" class="axis">'
            f"{html.escape(d[5:])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def write_lists(findings: pd.DataFrame, folder: Path, *, reader: Grant | None):
    """One CSV and one XLSX per department of the findings it still owes an answer or a fix
    for, or that await a decision (:data:`LISTED`, with their status and due date):
    {department: (count, paths)},
    shown as ``reader`` may see them (None: in clear, for the official channel).

    Both are safe to open (jobs/serving/export.py): formula triggers inert, XLSX cells typed."""
    out = {}
    if findings.empty:
        return out
    if "state" not in findings.columns:  # quality.findings as built, no action taken yet
        findings = findings.assign(state=findings["status"], due_on=None)
    open_f = findings[findings["state"].isin(LISTED)].copy()
    open_f["description"] = open_f["rule_id"].map(description)
    if reader is not None:
        for column in ("observed", "expected"):
            open_f[column] = [
                shown_value(a, v, reader=reader)
                for a, v in zip(open_f["attribute"], open_f[column], strict=True)
            ]
        open_f["entity_id"] = [
            shown_entity(k, r, value=v, reader=reader)
            for k, r, v in zip(
                open_f["entity_kind"], open_f["rule_id"], open_f["entity_id"], strict=True
            )
        ]
    ids = {e.department: e.department_id for e in catalog().values()}
    for dep, g in open_f.groupby("department"):
        g = g.sort_values(["rule_id", "source_id", "entity_id"])[list(LIST_COLUMNS)].rename(
            columns=LIST_COLUMNS
        )
        stem = f"整改清单-{ids.get(dep, dep)}"
        rows = list(g.itertuples(index=False, name=None))
        csv = save_csv(folder / f"{stem}.csv", rows, header=list(g.columns))
        xlsx = save_xlsx(folder / f"{stem}.xlsx", rows, header=list(g.columns), sheet="整改清单")
        out[dep] = (len(g), {"csv": csv, "xlsx": xlsx})
    return out
