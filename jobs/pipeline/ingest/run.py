"""The bronze stage: ingest every delivered source of one business date and report."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from jobs.pipeline.ingest.bronze import IngestResult, ingest_source
from jobs.pipeline.ingest.landing import LandingZone
from jobs.pipeline.stage import StageReport
from jobs.platform import interrupt
from jobs.platform.config import extract_schemas
from jobs.platform.lake import Lake

log = logging.getLogger(__name__)


def ingest_date(
    lake: Lake,
    landing: Path,
    *,
    business_date: dt.date,
    sources: list[str] | None = None,
    echo: Callable[[str], None] | None = None,
) -> StageReport:
    """Ingest the sources delivered for ``business_date`` (all onboarded sources by default).

    An onboarded source with nothing delivered for the date is ingested too (its slice empties
    and the run says the delivery is missing). A source whose ingestion fails is rolled back
    and named in the report's failures; the other sources go on.
    """
    schemas = extract_schemas()
    present = LandingZone(landing).scan(set(schemas)).sources_on(business_date)
    report = StageReport("bronze", business_date)
    results = []
    show = echo or (lambda _line: None)
    for line in SUMMARY_HEAD:
        show("   " + line)
    for source_id in sources or sorted(schemas):
        interrupt.check(f"before {business_date} bronze {source_id}")
        result = _ingest_isolated(lake, landing, source_id, business_date)
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
        report.failures += result.failures
    report.lines = summary_lines(results)
    report.details = results
    return report


def _ingest_isolated(lake: Lake, landing: Path, source_id: str, date: dt.date) -> IngestResult:
    """One source's ingestion; a failure becomes a failed result, not an exception."""
    try:
        return ingest_source(lake, landing, source_id=source_id, business_date=date)
    except Exception as e:  # noqa: BLE001 - one source's failure must not stop the others
        log.exception("ingesting %s %s failed", source_id, date)
        why = f"{date} bronze {source_id}: not ingested (rolled back): {type(e).__name__}: {e}"
        return IngestResult(source_id, date, None, [], None, failures=[why])


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
    if r.failures:
        why = f"FAILED ({len(r.failures)}); " + why
    return f"{r.source_id:<12} {f'{ok}/{live}':>12} {r.rows_accepted:>10,} {r.rows_quarantined:>11,}  {why}"


def summary_lines(results: list[IngestResult]) -> list[str]:
    """The per-source table the bronze stage prints."""
    return SUMMARY_HEAD + [summary_line(r) for r in results]
