"""The bronze stage: ingest every delivered source of one business date and report."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, wait
from pathlib import Path

from jobs.pipeline.ingest.bronze import (
    DeliveryPlan,
    IngestResult,
    Staged,
    ingest_source,
    plan_delivery,
    settle_delivery,
)
from jobs.pipeline.ingest.landing import LandingZone
from jobs.pipeline.ingest.worker import WorkerPool
from jobs.pipeline.stage import Progress, StageReport
from jobs.platform import interrupt
from jobs.platform.config import extract_schema, extract_schemas, ingest_parallel
from jobs.platform.lake import Lake

log = logging.getLogger(__name__)


def ingest_date(
    lake: Lake,
    landing: Path,
    *,
    business_date: dt.date,
    sources: list[str] | None = None,
    echo: Callable[[str], None] | None = None,
    progress: Progress | None = None,
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
    order = sources or sorted(schemas)
    with _Staging(lake, landing, business_date, present) as staging:
        for source_id in order:
            interrupt.check(f"before {business_date} bronze {source_id}")
            staged = staging.submit_through(order, source_id)
            result = _ingest_isolated(lake, landing, source_id, business_date, staged=staged)
            results.append(result)
            _report_source(report, result, present=present, show=show)
            if progress is not None:
                progress.advance(source_id, records=result.rows_accepted + result.rows_quarantined)
    report.lines = summary_lines(results)
    report.details = results
    return report


def _report_source(report: StageReport, result: IngestResult, *, present, show) -> None:
    """One source's line, problems and failures in the stage's report."""
    source_id, business_date = result.source_id, result.business_date
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


class _Staging:
    """Reading and staging the date's sources in worker processes (conf/ingest.yaml
    ``parallel``, worker.py): while this process writes one source to the lake, in source
    order, the next ones are being read; a delivery of several files is read file by file on
    every free worker. A small date is read here, source by source."""

    def __init__(self, lake: Lake, landing: Path, business_date: dt.date, present: list[str]):
        self.lake, self.landing, self.date = lake, landing, business_date
        conf = ingest_parallel()
        workers = conf.workers or os.cpu_count() or 1
        self.sizes, self.file_sizes = _delivered_bytes(landing, business_date, present)
        big = sum(self.sizes.values()) >= conf.min_bytes
        self.workers = workers if big and workers > 1 else 0
        self.staged: dict[str, Staged] = {}  # submitted and not yet taken for writing
        self.pool: WorkerPool | None = None
        self.submitted = False

    def __enter__(self) -> _Staging:
        if self.workers:
            self.pool = WorkerPool(self.workers)
        return self

    def submit_through(self, order: list[str], source_id: str) -> Staged | None:
        """The source's staging. The first call submits every source, the largest first, so
        that the longest staging starts at once; writes still go in source order."""
        if self.pool is None:
            return None
        if not self.submitted:
            self.submitted = True
            self._submit_all(order)
        return self.staged.pop(source_id)

    def _submit_all(self, order: list[str]) -> None:
        """A delivery of several files is staged file by file, on whichever workers are free,
        and settled in this process (bronze.settle_delivery); others source by source."""
        tasks, by_file = [], {}  # (bytes, source, folder, planned file or None)
        for source_id in order:
            folder = self.lake.staging.job(f"ingest-{source_id}-{self.date:%Y%m%d}")
            plan = self._plan(source_id)
            if plan is None or len(plan.to_stage) < 2:
                tasks.append((self.sizes.get(source_id, 0), source_id, folder, None))
                continue
            by_file[source_id] = _Settled(plan, folder)
            self.staged[source_id] = Staged(folder, by_file[source_id])
            for f in plan.to_stage:
                planned = {"name": f.name, "delivery": f.manifest.delivery, "md5": f.manifest.md5}
                tasks.append(
                    (self.file_sizes.get((source_id, f.name), 0), source_id, folder, planned)
                )
        for _, source_id, folder, planned in sorted(tasks, key=lambda t: -t[0]):
            future = self.pool.submit(
                landing=self.landing,
                source_id=source_id,
                business_date=self.date,
                stage_dir=folder,
                planned=planned,
            )
            if planned is None:
                self.staged[source_id] = Staged(folder, future)
            else:
                by_file[source_id].files[planned["name"]] = future

    def _plan(self, source_id: str) -> DeliveryPlan | None:
        """The source's delivery as paired now; None when nothing was delivered, or when
        pairing fails (the whole source then goes to a worker, whose failure is the source's
        alone)."""
        try:
            with LandingZone(self.landing).day(source_id, self.date) as day:
                if day is None:
                    return None
                return plan_delivery(day, extract_schema(source_id), business_date=self.date)
        except Exception:  # noqa: BLE001 - reported by the worker that stages the source
            log.warning("pairing %s %s for file-by-file staging failed", source_id, self.date)
            return None

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.close()  # stops what still runs: a stop, an error
        for left in self.staged.values():  # submitted but not written
            self.lake.staging.discard(left.stage_dir)


class _Settled:
    """A delivery staged file by file: its (IngestResult, quarantined rows) once every file's
    staging has ended, as the future of a whole source's staging gives them."""

    def __init__(self, plan: DeliveryPlan, folder: Path):
        self.plan, self.folder = plan, folder
        self.files: dict[str, Future] = {}

    def result(self) -> tuple[IngestResult, list[dict]]:
        """Wait for every file (none is left writing into the folder), then settle; the first
        file's failure is raised."""
        wait(self.files.values())
        futures = [self.files[f.name] for f in self.plan.to_stage]
        failed = [f.exception() for f in futures if f.exception() is not None]
        if failed:
            raise failed[0]
        staged = [f.result() for f in futures]
        return settle_delivery(self.plan, staged, stage_dir=self.folder)


def _delivered_bytes(
    landing: Path, business_date: dt.date, present: list[str]
) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """The size of the files each source delivered for the date, and of each file (links not
    followed)."""
    sizes, files, zone = {}, {}, LandingZone(landing)
    for source_id in present:
        with zone.day(source_id, business_date) as day:
            if day is not None:
                listed = [e for e in day.list() if e.kind == "file"]
                sizes[source_id] = sum(e.size for e in listed)
                files.update({(source_id, e.name): e.size for e in listed})
    return sizes, files


def _ingest_isolated(
    lake: Lake, landing: Path, source_id: str, date: dt.date, *, staged: Staged | None = None
) -> IngestResult:
    """One source's ingestion; a failure becomes a failed result, not an exception."""
    try:
        return ingest_source(lake, landing, source_id=source_id, business_date=date, staged=staged)
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
