"""The bronze stage: ingest every delivered source of one business date and report."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from jobs.config import extract_schemas
from jobs.ingest.bronze import IngestResult, ingest_source
from jobs.ingest.manifest import delivered_sources
from jobs.lake import Lake
from jobs.stages import StageReport


def ingest_date(
    lake: Lake,
    landing: Path,
    business_date: dt.date,
    sources: list[str] | None = None,
    echo: Callable[[str], None] | None = None,
) -> StageReport:
    """Ingest the sources delivered for ``business_date`` (all onboarded sources by default).

    A source directory with no schema is reported, not ingested: onboarding is by schema file.
    An onboarded source with nothing delivered for the date is ingested too (its slice empties
    and the run says the delivery is missing).
    """
    schemas = extract_schemas()
    present = delivered_sources(landing, business_date)
    report = StageReport("bronze", business_date)
    unknown = sorted(set(present) - set(schemas))
    for s in unknown:
        report.problems.append(f"{s}: delivered but not onboarded (no schemas/extracts/{s}.yaml)")
    results = []
    show = echo or (lambda _line: None)
    for line in SUMMARY_HEAD:
        show("   " + line)
    for source_id in sources or sorted(schemas):
        result = ingest_source(lake, landing, source_id, business_date)
        results.append(result)
        show("   " + summary_line(result))
        if source_id not in present:
            report.problems.append(f"{source_id}: no delivery for {business_date}")
        report.problems += [f"{source_id}: {p}" for p in result.problems]
        report.problems += [
            f"{source_id}: {f.file} rejected ({f.reason_code}): {f.reason}"
            for f in result.files
            if f.status == "rejected"
        ]
    report.lines = summary_lines(results)
    report.details = results
    return report


_HEAD = f"{'source':<12} {'files ok/all':>12} {'accepted':>10} {'quarantined':>11}  reasons"
SUMMARY_HEAD = [_HEAD, "-" * len(_HEAD)]


def summary_line(r: IngestResult) -> str:
    """One source's line: files accepted of those delivered, rows, and every reason counted."""
    ok = sum(f.status == "accepted" for f in r.files)
    live = sum(f.status != "superseded" for f in r.files)
    reasons = Counter()
    for f in r.files:
        reasons.update(f.quarantine_reasons)
        if f.status == "rejected":
            reasons[f"file:{f.reason_code}"] += 1
    why = ", ".join(f"{k}={v}" for k, v in sorted(reasons.items())) or "-"
    return f"{r.source_id:<12} {f'{ok}/{live}':>12} {r.rows_accepted:>10,} {r.rows_quarantined:>11,}  {why}"


def summary_lines(results: list[IngestResult]) -> list[str]:
    return SUMMARY_HEAD + [summary_line(r) for r in results]
