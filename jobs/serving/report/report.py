"""``govlake report``: the quality officer's report, one self-contained HTML file and the
rectification lists (整改清单) of each department, as CSV and XLSX.

The page needs no network: styles are inline and charts are inline SVG. The report is written
for one reader role (``reader``): values in the examples and the lists are shown as that role
may see them, by the one masking policy (jobs/platform/policy.py). ``unmasked_lists`` writes the
lists in clear (an officer with clearance producing them for the official channel). Writing a
report is recorded in audit.queries, with the entities it names.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from jobs.pipeline.quality.rules import rule_settings
from jobs.pipeline.quality.rules.common import DIMENSIONS
from jobs.platform import settings
from jobs.platform.config import catalog
from jobs.platform.lake import Lake
from jobs.platform.policy import Grant
from jobs.serving.sql import audit
from jobs.serving.workbench.present import (
    band,
    shown_entity,
    shown_value,
    trend_svg,
    write_lists,
)

DIMENSION_LABELS = {
    "overall": "综合 overall",
    "conformity": "规范性 conformity",
    "completeness": "完整性 completeness",
    "accuracy": "准确性 accuracy",
    "consistency": "一致性 consistency",
    "timeliness": "时效性 timeliness",
    "accessibility": "可访问性 accessibility",
    "uniqueness": "唯一性 uniqueness",
}


@dataclass
class ReportFiles:
    index: Path
    lists: dict[str, dict[str, Path]]


def _read(lake: Lake, table: str) -> pd.DataFrame:
    try:
        return lake.read(table).toPandas()
    except FileNotFoundError:  # not built, or not published yet
        return pd.DataFrame()


def build_report(
    lake: Lake,
    out: Path,
    *,
    reader: Grant,
    user: str,
    unmasked_lists: bool = False,
    examples: int = 5,
) -> ReportFiles:
    """The officer's report of the lake's latest scored date into ``out``: index.html, the
    Data Docs and each department's 整改清单, shown as ``reader`` may see them, and audited."""
    out = Path(out)
    (out / "lists").mkdir(parents=True, exist_ok=True)
    scores = _read(lake, "quality.scores")
    results = _read(lake, "quality.results")
    findings = _read(lake, "quality.findings")
    if scores.empty:
        raise LookupError(f"{lake.root}: no quality.scores yet: run the quality stage first")
    dates = sorted(scores["_business_date"].unique())
    latest = dates[-1]
    today = scores[scores["_business_date"] == latest]
    res_today = results[results["_business_date"] == latest] if not results.empty else results
    performance, disputes = [], []
    if len(findings):  # each finding's status in the 数据异议 / 整改 loop (the workbench's)
        from jobs.serving.workbench.state import WorkbenchData

        wb = WorkbenchData(lake.root)
        try:
            wb.refresh()
            state = wb.cursor().execute("SELECT finding_id, state, due_on FROM finding_state").df()
            findings = findings.merge(state, on="finding_id", how="left")
            performance, disputes = wb.counts_by_department(), wb.rule_disputes()
        finally:
            wb.close()
    lists = write_lists(findings, out / "lists", reader=None if unmasked_lists else reader)
    from jobs.serving.report.datadocs import build_data_docs

    build_data_docs(lake.root / "_gx", out / "data-docs", run_name=str(latest))
    page = _render_page(
        lake,
        scores=scores,
        today=today,
        rule_rows=_rule_rows(res_today, findings, latest=latest, reader=reader, examples=examples),
        suites=_suite_rows(res_today),
        list_rows=_list_rows(lists),
        performance=performance,
        disputes=[d for d in disputes if d["disputed"]],
        findings=findings,
        dates=dates,
        masked=not unmasked_lists and reader.clearance != "L4",
        data_docs=(out / "data-docs" / "index.html").exists(),
    )
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    named = findings[findings["status"] == "open"] if len(findings) else findings
    audit.record_access(
        lake.root,
        user=user,
        role=reader.role,
        division=reader.division,
        client="report",
        what=f"report --out {out}" + (" --unmasked-lists" if unmasked_lists else ""),
        tables=["quality.scores", "quality.results", "quality.findings"],
        entities=sorted({str(e) for e in named.get("entity_id", []) if e is not None}),
        rows=len(named),
    )
    return ReportFiles(index, {d: p for d, (_, p) in lists.items()})


DIMS = ["overall", *DIMENSIONS]


def _grid(today, scope: str, ids: list[str], labels: dict[str, str]) -> list[dict]:
    """One row per scope id, one cell per dimension: the score, its band and its counts."""
    rows = []
    sub = today[today["scope"] == scope]
    for sid in ids:
        cells = []
        for d in DIMS:
            hit = sub[(sub["scope_id"] == sid) & (sub["dimension"] == d)]
            if hit.empty:
                cells.append({"text": "–", "band": "none", "title": "not evaluated"})
                continue
            r = hit.iloc[0]
            cells.append(
                {
                    "text": f"{r['score']:.1f}",
                    "band": band(r["score"]),
                    "title": f"{int(r['failed']):,} failed of {int(r['evaluated']):,}",
                }
            )
        rows.append({"label": labels.get(sid, sid), "cells": cells})
    return rows


def _rule_rows(res_today, findings, *, latest, reader: Grant, examples: int) -> list[dict]:
    """One row per cross-source rule: today's counts, open/new/resolved findings, examples."""
    rows = []
    for rule_id in settings.quality().rules:
        rc = rule_settings(rule_id)
        r = res_today[res_today["rule_id"] == rule_id] if not res_today.empty else res_today
        f = findings[findings["rule_id"] == rule_id] if not findings.empty else findings
        open_f = f[f["status"] == "open"] if not f.empty else f
        new = open_f[open_f["first_seen_on"] == latest] if not open_f.empty else open_f
        rows.append(
            {
                "rule_id": rule_id,
                "dimension": rc.dimension,
                "responsible": rc.responsible,
                "description": rc.description,
                "evaluated": int(r["evaluated"].sum()) if len(r) else 0,
                "failed": int(r["failed"].sum()) if len(r) else 0,
                "open": len(open_f),
                "new": len(new),
                "resolved": int((f["status"] == "resolved").sum()) if len(f) else 0,
                "examples": _examples(open_f, rule_id, reader=reader, n=examples),
            }
        )
    return rows


def _examples(open_f, rule_id: str, *, reader: Grant, n: int) -> list[dict]:
    """The first ``n`` open findings of a rule, shown as ``reader`` may see them."""
    out = []
    for _, row in open_f.sort_values("entity_id").head(n).iterrows() if len(open_f) else []:
        out.append(
            {
                "entity": shown_entity(
                    row["entity_kind"], rule_id, value=row["entity_id"], reader=reader
                ),
                "source": row["source_id"],
                "observed": shown_value(row["attribute"], row["observed"], reader=reader),
                "expected": shown_value(row["attribute"], row["expected"], reader=reader),
            }
        )
    return out


def _suite_rows(res_today) -> list[dict]:
    """One row per table validated by a suite today: expectations, failed ones, failed items."""
    if res_today.empty:
        return []
    gx = res_today[res_today["rule_id"].str.startswith("expect_")]
    return [
        {
            "table": table,
            "expectations": len(g),
            "failed_expectations": int((~g["success"]).sum()),
            "failed_items": int(g["failed"].sum()),
        }
        for table, g in gx.groupby("table")
    ]


def _list_rows(lists: dict) -> list[dict]:
    """The report's links to each department's rectification list."""
    return [
        {
            "department": dep,
            "open": n,
            "csv": f"lists/{paths['csv'].name}",
            "xlsx": f"lists/{paths['xlsx'].name}",
        }
        for dep, (n, paths) in sorted(lists.items())
    ]


def _render_page(lake: Lake, *, scores, today, findings, dates, masked: bool, **parts) -> str:
    """index.html from the template, the score grids and trend, and the other ``parts``."""
    plat = scores[(scores["scope"] == "platform") & (scores["dimension"] == "overall")]
    plat = plat.sort_values("_business_date")
    trend = [(str(d), float(s)) for d, s in zip(plat["_business_date"], plat["score"], strict=True)]
    platform_today = trend[-1][1] if trend else None
    cat = catalog()
    sources = {s: f"{s} · {e.resource_name}" for s, e in cat.items()}
    tables = sorted(today[today["scope"] == "table"]["scope_id"].unique())
    env = Environment(
        loader=PackageLoader("jobs.serving.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    return env.get_template("report.html.j2").render(
        collections=_collections(lake),
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        latest=str(dates[-1]),
        dates=[str(d) for d in dates],
        platform_today=platform_today,
        platform_before=trend[-2][1] if len(trend) > 1 else None,
        band=band(platform_today),
        trend_svg=trend_svg(trend),
        dims=[DIMENSION_LABELS[d] for d in DIMS],
        dept_rows=_grid(today, "department", sorted({e.department for e in cat.values()}), {}),
        source_rows=_grid(today, "source", sorted(cat), sources),
        table_rows=_grid(today, "table", tables, {}),
        lists_masked=masked,
        weights=settings.quality().weights,
        open_total=int((findings["status"] == "open").sum()) if len(findings) else 0,
        resolved_total=int((findings["status"] == "resolved").sum()) if len(findings) else 0,
        **parts,
    )


def _collections(lake: Lake) -> list[dict] | None:
    """Data items collected by more than one source (重复采集), from catalog.collections."""
    rows = _read(lake, "catalog.collections")
    if rows.empty:
        return None
    rows = rows[rows["duplicated"]].sort_values(["sources", "data_item"], ascending=[False, True])
    return [
        {
            "item": r.data_item,
            "authority": r.authoritative_source,
            "authority_fields": ", ".join(r.authoritative_fields),
            "others": ", ".join(r.other_fields),
            "sources": int(r.sources),
        }
        for r in rows.itertuples()
    ]
