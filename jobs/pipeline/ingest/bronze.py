"""Ingest one source's delivery of one business date into bronze.<source_id>.

Steps (each file on its own, spec/extracts.md "Landing layout"):
1. pair data files with their ``.ok`` manifests, through the landing zone's safe folders
   (jobs/pipeline/ingest/landing.py: no link is followed); a file without one is ``manifest_missing``,
   and every other entry of the folder is recorded with its reason;
2. keep the latest delivery of the date (by ``delivered_at``); earlier ones are ``superseded``;
3. per file of that delivery: read it once (bounded), md5, duplicates, header drift, parse,
   row count vs manifest. An unexpected error in one file rejects that file (``ingest_error``)
   and is reported as a failure; the other files go on;
4. stage accepted rows as Parquet, write the date's slice of bronze, quarantine.rows,
   quarantine.files and audit.deliveries (each replaced, so reruns are idempotent), all or
   nothing: if any write or the check below fails, every table is rolled back;
5. check conservation from the lake itself: manifest rows = bronze rows + quarantined rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.pipeline.ingest.landing import Folder, LandingZone, printable
from jobs.pipeline.ingest.manifest import DayFiles, Manifest, latest_delivery, pair_files
from jobs.pipeline.ingest.readers import FileRejected, ParsedFile, Record, read_file
from jobs.pipeline.ingest.records import Block
from jobs.platform import delta
from jobs.platform.config import ExtractSchema, extract_schema, ingest_limits
from jobs.platform.lake import Lake

log = logging.getLogger(__name__)

STAGE_BATCH_ROWS = 200_000

QUARANTINE_ROWS_SCHEMA = T.StructType(
    [
        T.StructField("_source_id", T.StringType()),
        T.StructField("_business_date", T.DateType()),
        T.StructField("_batch_id", T.StringType()),
        T.StructField("_file", T.StringType()),
        T.StructField("_row_number", T.IntegerType()),
        T.StructField("raw", T.StringType()),
        T.StructField("reason_code", T.StringType()),
        T.StructField("reason", T.StringType()),
    ]
)
QUARANTINE_FILES_SCHEMA = T.StructType(
    [
        T.StructField("source_id", T.StringType()),
        T.StructField("business_date", T.DateType()),
        T.StructField("file", T.StringType()),
        T.StructField("reason_code", T.StringType()),
        T.StructField("reason", T.StringType()),
        T.StructField("detected_at", T.TimestampType()),
    ]
)
DELIVERIES_SCHEMA = T.StructType(
    [
        T.StructField("source_id", T.StringType()),
        T.StructField("business_date", T.DateType()),
        T.StructField("file", T.StringType()),
        T.StructField("delivery", T.StringType()),
        T.StructField("batch_id", T.StringType()),
        T.StructField("mode", T.StringType()),
        T.StructField("parts", T.IntegerType()),
        T.StructField("delivered_at", T.TimestampType()),
        T.StructField("status", T.StringType()),
        T.StructField("reason_code", T.StringType()),
        T.StructField("manifest_rows", T.LongType()),
        T.StructField("rows_accepted", T.LongType()),
        T.StructField("rows_quarantined", T.LongType()),
        T.StructField("extra_columns", T.StringType()),
        T.StructField("missing_columns", T.StringType()),
        T.StructField("notes", T.StringType()),
        T.StructField("snapshot_complete", T.BooleanType()),
        T.StructField("ingested_at", T.TimestampType()),
    ]
)


class ConservationError(Exception):
    """Rows in a manifest are not all accounted for in bronze + quarantine."""


@dataclass
class FileOutcome:
    """What became of one delivered file: accepted, rejected or superseded, with counts."""

    file: str
    status: str  # accepted | rejected | superseded
    manifest: Manifest | None = None
    reason_code: str | None = None
    reason: str | None = None
    rows_accepted: int = 0
    rows_quarantined: int = 0
    quarantine_reasons: Counter = field(default_factory=Counter)
    extra_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class IngestResult:
    """What one source's delivery of one date became."""

    source_id: str
    business_date: dt.date
    batch_id: str | None
    files: list[FileOutcome]
    snapshot_complete: bool | None  # None for incremental sources
    problems: list[str] = field(default_factory=list)
    missing_parts: str | None = None  # why the delivery has fewer files than its `parts`
    failures: list[str] = field(default_factory=list)  # unexpected errors (the run fails)

    @property
    def rows_accepted(self) -> int:
        """Rows accepted into bronze over all files."""
        return sum(f.rows_accepted for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        """Rows sent to quarantine.rows over all files."""
        return sum(f.rows_quarantined for f in self.files)


def bronze_schema(schema: ExtractSchema) -> T.StructType:
    """bronze.<source_id>: canonical columns as delivered text, then the metadata columns."""
    fields = [T.StructField(c, T.StringType()) for c in schema.column_names]
    return T.StructType(
        fields
        + [
            T.StructField("_extra", T.StringType()),
            T.StructField("_source_id", T.StringType()),
            T.StructField("_business_date", T.DateType()),
            T.StructField("_batch_id", T.StringType()),
            T.StructField("_file", T.StringType()),
            T.StructField("_row_number", T.IntegerType()),
            T.StructField("_row_hash", T.StringType()),
            T.StructField("_ingested_at", T.TimestampType()),
        ]
    )


def batch_id_for(source_id: str, business_date: dt.date, *, delivery: str) -> str:
    """The batch id of a delivery: source, business date and delivery id."""
    return f"{source_id}_{business_date:%Y%m%d}_{delivery}"


# ------------------------------------------------------------------------------ pairing files
def _pair_outcomes(files: DayFiles) -> list[FileOutcome]:
    """Outcomes of the entries that are not (readable) data files with a valid manifest."""
    missing = "no .ok manifest: the file is incomplete or still being written"
    outcomes = [
        FileOutcome(printable(name), "rejected", reason_code="manifest_missing", reason=missing)
        for name in files.unmarked
    ]
    outcomes += [
        FileOutcome(printable(name), "rejected", reason_code=e.reason_code, reason=e.reason)
        for name, e in {**files.invalid, **files.others}.items()
    ]
    outcomes += [
        FileOutcome(
            printable(name),
            "rejected",
            reason_code="data_missing",
            reason=f"{printable(name)}.ok names a data file that was not delivered",
        )
        for name in files.orphans
    ]
    return outcomes


# ------------------------------------------------------------------------------ header drift
@dataclass
class HeaderPlan:
    """Where each canonical column is in a delivered header, and the extra columns."""

    positions: dict[str, int]  # canonical column → index in the delivered row
    extras: list[tuple[int, str]]  # delivered columns the schema does not know
    missing: list[str]
    notes: list[str]


def plan_header(header: list[str], schema: ExtractSchema, *, file: str) -> HeaderPlan:
    """Map a delivered header onto canonical columns; reject a missing required column."""
    known = schema.header_map()
    dups = sorted({h for h in header if header.count(h) > 1})
    if dups:
        raise FileRejected("duplicate_column", f"{file}: header repeats column(s) {dups}")
    positions, extras, notes = {}, [], []
    for i, h in enumerate(header):
        col = known.get(h)
        if col is None:
            extras.append((i, h))
        elif col in positions:
            raise FileRejected(
                "duplicate_column", f"{file}: column {col} delivered twice (as {h!r})"
            )
        else:
            positions[col] = i
            if h not in {c.header for c in schema.columns}:
                notes.append(f"column {h!r} accepted as {col} (known alias)")
    missing = [c.column for c in schema.columns if c.column not in positions]
    required = {c.column: c.header for c in schema.columns if c.required}
    missing_required = [f"{required[c]} ({c})" for c in missing if c in required]
    if missing_required:
        raise FileRejected(
            "missing_required_column",
            f"{file}: required column(s) missing from the header: {', '.join(missing_required)}",
        )
    delivered_order = [c for c in schema.column_names if c in positions]
    if sorted(positions, key=positions.get) != delivered_order:
        notes.append("columns delivered in a different order (accepted by name)")
    if extras:
        notes.append(f"extra column(s) kept in _extra: {[h for _, h in extras]}")
    if missing:
        notes.append(f"optional column(s) missing, stored as null: {missing}")
    return HeaderPlan(positions, extras, missing, notes)


# ------------------------------------------------------------------------------ staging
class _Stager:
    """Buffers accepted rows column-wise and writes them as Parquet batches."""

    def __init__(self, schema: ExtractSchema, out_dir: Path, file: str):
        self.columns = schema.column_names
        self.out_dir = out_dir
        self.file = file
        self.buf: dict[str, list] = {c: [] for c in [*self.columns, "_extra", "_row_number"]}
        self.tables: list[pa.Table] = []  # rows gathered column-wise, or from the buffer
        self.pending = 0  # rows gathered and not yet written
        self.parts = 0
        self.rows = 0

    def add(self, values: list, row_number: int, *, extra: dict | None) -> None:
        """Buffer one accepted row (values aligned with the columns, unknown fields in ``extra``)."""
        for c, v in zip(self.columns, values, strict=True):
            self.buf[c].append(v)
        self.buf["_extra"].append(json.dumps(extra, ensure_ascii=False) if extra else None)
        self.buf["_row_number"].append(row_number)
        self.rows += 1
        self.pending += 1
        if self.pending >= STAGE_BATCH_ROWS:
            self.flush()

    def add_block(self, columns: list[pa.Array], row_numbers: pa.Array, *, extra: pa.Array):
        """Add accepted rows given column-wise (columns aligned with the schema's)."""
        self._buffered_to_table()
        arrays = dict(zip(self.columns, columns, strict=True))
        arrays["_extra"] = extra
        arrays["_row_number"] = row_numbers
        self.tables.append(pa.table(arrays))
        self.rows += len(row_numbers)
        self.pending += len(row_numbers)
        if self.pending >= STAGE_BATCH_ROWS:
            self.flush()

    def _buffered_to_table(self) -> None:
        if not self.buf["_row_number"]:
            return
        arrays = {c: pa.array(self.buf[c], pa.string()) for c in [*self.columns, "_extra"]}
        arrays["_row_number"] = pa.array(self.buf["_row_number"], pa.int32())
        self.tables.append(pa.table(arrays))
        for v in self.buf.values():
            v.clear()

    def flush(self) -> None:
        """Write the rows gathered so far, in delivered order, as one staged Parquet part."""
        self._buffered_to_table()
        if not self.tables:
            return
        table = pa.concat_tables(self.tables)
        self.tables, self.pending = [], 0
        table = table.append_column("_file", pa.array([self.file] * len(table), pa.string()))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, self.out_dir / f"{self._stem()}.{self.parts:04d}.parquet")
        self.parts += 1

    def discard(self) -> None:
        """Remove the file's staged parts (the file was rejected after all)."""
        self.rows = 0
        for p in self.out_dir.glob(f"{self._stem()}.*.parquet"):
            p.unlink()

    def _stem(self) -> str:
        """The staged parts' name: a digest of the delivered name, which is the department's
        (control characters, glob patterns, one name the beginning of another) and goes into
        the rows' ``_file`` column only."""
        return hashlib.sha256(self.file.encode("utf-8", "surrogateescape")).hexdigest()


def _text(v) -> str | None:
    """A delivered value as text; an empty field is a missing value (spec: common value rules)."""
    if v is None:
        return None
    if isinstance(v, str):
        return v if v != "" else None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    return json.dumps(v, ensure_ascii=False)


def _stage_file(
    data: bytes,
    name: str,
    schema: ExtractSchema,
    manifest: Manifest,
    stage_dir: Path,
    quarantined: list[dict],
    batch_id: str,
    business_date: dt.date,
) -> FileOutcome:
    """Parse one file, stage its good rows, collect its bad rows; raises FileRejected."""
    parsed: ParsedFile = read_file(data, schema)
    outcome = FileOutcome(name, "accepted", manifest)
    stager = _Stager(schema, stage_dir, name)
    qrows: list[dict] = []

    def quarantine(rec: Record) -> None:
        qrows.append(
            {
                "_source_id": schema.source_id,
                "_business_date": business_date,
                "_batch_id": batch_id,
                "_file": name,
                "_row_number": rec.row_number,
                "raw": rec.raw,
                "reason_code": rec.reason_code,
                "reason": rec.reason,
            }
        )

    try:
        if schema.format in ("jsonl", "json"):
            seen_keys = _stage_objects(parsed, schema, stager, quarantine)
            plan = plan_header(list(seen_keys), schema, file=name) if stager.rows else None
        else:
            plan = plan_header(parsed.header, schema, file=name)
            _stage_rows(parsed, plan, schema, stager, quarantine)
        stager.flush()
        total = stager.rows + len(qrows)
        if parsed.declared_count is not None and parsed.declared_count != total:
            raise FileRejected(
                "count_mismatch",
                f"the document says count={parsed.declared_count} but holds {total} records",
            )
        if total != manifest.rows:
            raise FileRejected(
                "row_count_mismatch",
                f"manifest says {manifest.rows} records, the file holds {total}",
            )
    except FileRejected:
        stager.discard()
        raise
    outcome.rows_accepted = stager.rows
    outcome.rows_quarantined = len(qrows)
    outcome.quarantine_reasons = Counter(q["reason_code"] for q in qrows)
    if plan is not None:
        outcome.extra_columns = [h for _, h in plan.extras]
        outcome.missing_columns = plan.missing
        outcome.notes = list(plan.notes)
    outcome.notes += list(manifest.notes) + parsed.notes.lines()
    quarantined.extend(qrows)
    return outcome


def _stage_rows(
    parsed: ParsedFile, plan: HeaderPlan, schema: ExtractSchema, stager: _Stager, quarantine
) -> None:
    order = [plan.positions.get(c) for c in schema.column_names]
    for rec in parsed.items:
        if isinstance(rec, Block):
            _stage_block(rec, plan, order, stager)
            continue
        if rec.reason_code:
            quarantine(rec)
            continue
        v = rec.values
        values = [_text(v[i]) if i is not None else None for i in order]
        extra = {h: v[i] for i, h in plan.extras if v[i] not in (None, "")} if plan.extras else None
        stager.add(values, rec.row_number, extra=extra)


def _stage_block(block: Block, plan: HeaderPlan, order: list, stager: _Stager) -> None:
    """Accepted records parsed column-wise: columns in schema order (an empty field is null)."""
    n = len(block)
    null = pa.nulls(n, pa.string())
    columns = [null if i is None else block.columns[i].cast(pa.string()) for i in order]
    extra = None
    if plan.extras:
        texts = [(h, block.columns[i].to_pylist()) for i, h in plan.extras]
        extra = [
            json.dumps(e, ensure_ascii=False) if e else None
            for e in ({h: v[k] for h, v in texts if v[k] not in (None, "")} for k in range(n))
        ]
    stager.add_block(columns, block.row_numbers, extra=pa.array(extra or [None] * n, pa.string()))


def _stage_objects(parsed: ParsedFile, schema: ExtractSchema, stager: _Stager, quarantine) -> dict:
    """JSON records: keys map to columns like headers; unknown keys go to _extra."""
    known = schema.header_map()
    cols = schema.column_names
    limit = ingest_limits().max_columns
    seen: dict[str, None] = {}  # keys in first-seen order, like a header
    for rec in parsed.records:
        if rec.reason_code:
            quarantine(rec)
            continue
        row = dict.fromkeys(cols)
        extra = None
        for k, v in rec.values.items():
            c = known.get(k)
            if c is None:
                extra = extra or {}
                extra[k] = v
            else:
                row[c] = _text(v)
            if k not in seen:
                seen[k] = None
                if len(seen) > limit:
                    raise FileRejected(
                        "too_many_columns",
                        f"the records use more than {limit:,} different keys",
                    )
        stager.add([row[c] for c in cols], rec.row_number, extra=extra)
    return seen


# ------------------------------------------------------------------------------ the run
@dataclass
class Staged:
    """A source's delivery being read and staged in worker processes (run.py, worker.py): the
    folder it is staged into and the future of (IngestResult, quarantined rows), or anything
    else whose ``result()`` gives them (a delivery staged file by file)."""

    stage_dir: Path
    outcome: Future


def stage_source(
    landing: Path, *, source_id: str, business_date: dt.date, stage_dir: Path
) -> tuple[IngestResult, list[dict]]:
    """Pair, read, check and stage one source's delivery of a date into ``stage_dir``; the
    lake is not touched (this runs in a worker process when the date is large)."""
    schema = extract_schema(source_id)
    with LandingZone(landing).day(source_id, business_date) as day:
        plan = plan_delivery(day, schema, business_date=business_date)
        staged = [stage_one(plan, f, stage_dir=stage_dir) for f in plan.to_stage]
    return settle_delivery(plan, staged, stage_dir=stage_dir)


def ingest_source(
    lake: Lake,
    landing: Path,
    *,
    source_id: str,
    business_date: dt.date,
    staged: Staged | None = None,
) -> IngestResult:
    """Ingest one source's deliveries of one business date (idempotent: the slice is replaced).

    The slice's four tables are written all or nothing; when that fails the error is raised
    after the rollback, naming the source and date. ``staged``: the delivery already being
    staged elsewhere (its folder is removed here all the same).
    """
    schema = extract_schema(source_id)
    if staged is None:
        stage_dir = lake.staging.job(f"ingest-{source_id}-{business_date:%Y%m%d}")
    else:
        stage_dir = staged.stage_dir
    try:
        if staged is None:
            result, quarantined = stage_source(
                landing, source_id=source_id, business_date=business_date, stage_dir=stage_dir
            )
        else:
            result, quarantined = staged.outcome.result()
        with lake.all_or_nothing(f"ingest {source_id} {business_date}"):
            with lake.run(
                f"ingest.{source_id}",
                business_date=business_date,
                inputs={f"landing.{source_id}": None},
            ):
                _write_slices(lake, schema, result, stage_dir, quarantined)
                check_conservation(lake, result)
    finally:
        lake.staging.discard(stage_dir)
    return result


@dataclass
class DeliveryPlan:
    """A source's delivery of a date as paired: the files to read (the latest delivery's, in
    name order) and the outcomes already settled (superseded, blocked, unpaired entries)."""

    schema: ExtractSchema
    business_date: dt.date
    batch_id: str | None
    delivery: str | None
    latest: dict[str, Manifest]
    settled: list[FileOutcome]
    to_stage: list[_FileToStage]


@dataclass
class FileStaged:
    """One file read, checked and staged on its own (``name`` as delivered). ``md5`` is that of
    its bytes once they matched the manifest: the delivery's duplicate check needs it."""

    name: str
    outcome: FileOutcome
    md5: str | None
    quarantined: list[dict]
    failures: list[str]


class DeliveryChanged(Exception):
    """A file planned for staging is no longer the one delivered (the landing zone changed)."""


def plan_delivery(
    day: Folder | None, schema: ExtractSchema, *, business_date: dt.date
) -> DeliveryPlan:
    """Pair the day's files and pick the latest delivery (see the module)."""
    files = pair_files(day, schema.source_id, business_date=business_date)
    outcomes, manifests = _pair_outcomes(files), files.manifests
    delivery = latest_delivery(manifests)
    batch_id = (
        batch_id_for(schema.source_id, business_date, delivery=delivery) if delivery else None
    )
    latest = {n: m for n, m in manifests.items() if m.delivery == delivery}
    for name, m in sorted(manifests.items()):
        if name not in latest:
            why = f"replaced by the later delivery {printable(delivery)}"
            outcomes.append(FileOutcome(printable(name), "superseded", m, reason=why))
    to_stage = []
    for name, m in sorted(latest.items()):
        if name in files.blocked:
            e = files.blocked[name]
            why = {"reason_code": e.reason_code, "reason": e.reason}
            outcomes.append(FileOutcome(printable(name), "rejected", m, **why))
            continue
        to_stage.append(_FileToStage(day, name, m, batch_id))
    return DeliveryPlan(schema, business_date, batch_id, delivery, latest, outcomes, to_stage)


def stage_one(plan: DeliveryPlan, file: _FileToStage, *, stage_dir: Path) -> FileStaged:
    """Read, check and stage one planned file into ``stage_dir``."""
    d = _Delivery(plan.schema, plan.business_date, stage_dir)
    outcome = _check_and_stage(file, d)
    return FileStaged(file.name, outcome, d.matched_md5.get(file.name), d.quarantined, d.failures)


def settle_delivery(
    plan: DeliveryPlan, staged: list[FileStaged], *, stage_dir: Path
) -> tuple[IngestResult, list[dict]]:
    """The source's result from its files staged one by one, in name order: a file with the
    same bytes as an earlier one of the delivery is rejected as a duplicate, and what it staged
    is discarded, as if it had never been read."""
    outcomes, quarantined, failures = list(plan.settled), [], []
    seen: dict[str, str] = {}
    for f in staged:
        if f.md5 is not None and f.md5 in seen:
            _Stager(plan.schema, stage_dir, f.name).discard()
            why = f"same bytes as {printable(seen[f.md5])} of this delivery"
            m = f.outcome.manifest
            outcomes.append(
                FileOutcome(f.outcome.file, "rejected", m, reason_code="duplicate_file", reason=why)
            )
            continue
        if f.md5 is not None:
            seen[f.md5] = f.name
        outcomes.append(f.outcome)
        quarantined += f.quarantined
        failures += f.failures
    latest, delivery = plan.latest, plan.delivery
    result = IngestResult(
        plan.schema.source_id,
        plan.business_date,
        plan.batch_id,
        sorted(outcomes, key=lambda o: o.file),
        _snapshot_complete(plan.schema, plan.business_date, latest, outcomes),
        failures=failures,
    )
    announced = next(iter(latest.values())).parts if latest else 0
    if delivery and len(latest) < announced:
        result.missing_parts = (
            f"delivery {printable(delivery)} announced {announced} parts but {len(latest)} arrived"
        )
        result.problems.append(result.missing_parts)
    if result.snapshot_complete is False:
        result.problems.append("full snapshot incomplete: absent records are not deletions")
    return result, quarantined


def stage_file(
    landing: Path, *, source_id: str, business_date: dt.date, stage_dir: Path, planned: dict
) -> FileStaged:
    """Stage one file of a source's delivery (a worker's share of a large delivery).
    ``planned``: the file's ``name``, and the ``delivery`` and ``md5`` its manifest declared
    when the run planned the delivery; DeliveryChanged if they no longer hold."""
    schema = extract_schema(source_id)
    with LandingZone(landing).day(source_id, business_date) as day:
        plan = plan_delivery(day, schema, business_date=business_date)
        file = next((f for f in plan.to_stage if f.name == planned["name"]), None)
        if file is None or (file.manifest.delivery, file.manifest.md5) != (
            planned["delivery"],
            planned["md5"],
        ):
            raise DeliveryChanged(
                f"{printable(planned['name'])}: the delivery changed while it was being read"
            )
        return stage_one(plan, file, stage_dir=stage_dir)


def delivered_field_edges(schema: ExtractSchema) -> list[dict]:
    """Column lineage from each delivered field (its header in the file) to its bronze column.

    The Parquet staged from the files hides the headers; the extract schema says which header
    (or alias) fills which column.
    """
    landing, table = f"landing.{schema.source_id}", f"bronze.{schema.source_id}"
    rows = [
        {
            "target_table": table,
            "target_column": col.column,
            "source_table": landing,
            "source_column": col.header,
            "transform": "as delivered (text)"
            + (f"; also headed {', '.join(col.aliases)}" if col.aliases else ""),
        }
        for col in schema.columns
    ]
    for column, source, how in (
        ("_file", "(file name)", "the delivered file the row came from"),
        ("_row_number", "(row number)", "the row's position in its file (header excluded)"),
        ("_extra", "(undeclared fields)", "fields the schema does not declare, as JSON"),
        # per-delivery values: named here so the derivation is the same whichever date or
        # delivery ran last (or whether the slice was empty)
        ("_source_id", "(source folder)", "the source the delivery came from"),
        ("_business_date", "(date folder)", "the business date the delivery is for"),
        ("_batch_id", "(.ok manifest)", "<source_id>_<YYYYMMDD>_<delivery id of the manifest>"),
        ("_ingested_at", "(ingestion)", "when the row was ingested"),
    ):
        rows.append(
            {
                "target_table": table,
                "target_column": column,
                "source_table": landing,
                "source_column": source,
                "transform": how,
            }
        )
    return rows


@dataclass(frozen=True)
class _FileToStage:
    day: Folder
    name: str
    manifest: Manifest
    batch_id: str


@dataclass
class _Delivery:
    """What the files of one delivery are staged into, and what they add up to."""

    schema: ExtractSchema
    business_date: dt.date
    stage_dir: Path
    quarantined: list[dict] = field(default_factory=list)
    matched_md5: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def _check_and_stage(file: _FileToStage, d: _Delivery) -> FileOutcome:
    """Read, check and stage one file. A rejection is an outcome; so is an unexpected error,
    which is also added to ``failures`` (the run then ends non-zero, the other files go on)."""
    name, m = printable(file.name), file.manifest
    try:
        return _read_and_stage(file, d)
    except FileRejected as e:
        return FileOutcome(name, "rejected", m, reason_code=e.reason_code, reason=e.reason)
    except Exception as e:  # noqa: BLE001 - one file's failure must not stop the others
        log.exception("ingesting %s %s %s failed", d.schema.source_id, d.business_date, name)
        why = f"unexpected error while reading the file: {type(e).__name__}: {e}"
        d.failures.append(f"{d.business_date} bronze {d.schema.source_id} {name}: {why}")
        return FileOutcome(name, "rejected", m, reason_code="ingest_error", reason=why)


def _read_and_stage(file: _FileToStage, d: _Delivery) -> FileOutcome:
    name, m, schema = file.name, file.manifest, d.schema
    expected = f"{schema.source_id}_{d.business_date:%Y%m%d}_"
    if not (name.startswith(expected) and name.endswith("." + schema.extension)):
        raise FileRejected("bad_file_name", f"expected {expected}<NN>.{schema.extension}")
    data = file.day.read(name, max_bytes=ingest_limits().max_file_bytes)
    actual = hashlib.md5(data).hexdigest()
    if actual != m.md5:
        raise FileRejected("md5_mismatch", f"manifest md5 {m.md5}, file md5 {actual}")
    d.matched_md5[name] = actual  # duplicates across the delivery's files: settle_delivery
    if len(data) < 4096 and not data.strip():
        if m.rows == 0:  # nothing happened that day: a valid, empty delivery
            return FileOutcome(name, "accepted", m, notes=["empty file, 0 records declared"])
        raise FileRejected(
            "empty_file", f"the file is empty but the manifest declares {m.rows} records"
        )
    return _stage_file(
        data, name, schema, m, d.stage_dir, d.quarantined, file.batch_id, d.business_date
    )


def _snapshot_complete(
    schema: ExtractSchema,
    business_date: dt.date,
    latest: dict[str, Manifest],
    outcomes: list[FileOutcome],
) -> bool | None:
    if schema.mode != "full":
        return None
    if not latest:
        return False
    parts = max(m.parts for m in latest.values())
    accepted = [o for o in outcomes if o.status == "accepted"]
    deliveries = {m.delivery for m in latest.values()}
    part_prefix = f"{schema.source_id}_{business_date:%Y%m%d}_"
    # a repeated file does not make a snapshot incomplete; any other rejection of a file of the
    # latest delivery does, and so does a file named like a part without a manifest (it may be
    # one); entries that are no delivery file at all (a stray or temporary file) do not
    harmful = [
        o
        for o in outcomes
        if o.status == "rejected"
        and o.reason_code not in ("duplicate_file", "temporary_file", "stray_file")
        and (
            o.manifest.delivery in deliveries
            if o.manifest is not None
            else o.file.startswith(part_prefix)
        )
    ]
    return len(accepted) == parts and not harmful


def _rejected_rows(result: IngestResult, now: dt.datetime) -> list[dict]:
    """quarantine.files rows: each rejected file, and the parts a delivery announced but lacks."""
    rows = [
        {"file": o.file, "reason_code": o.reason_code, "reason": o.reason}
        for o in result.files
        if o.status == "rejected"
    ]
    if result.missing_parts:
        rows.append(
            {
                "file": f"{result.batch_id} (missing parts)",
                "reason_code": "parts_missing",
                "reason": result.missing_parts,
            }
        )
    base = {"source_id": result.source_id, "business_date": result.business_date}
    return [{**base, **r, "detected_at": now} for r in rows]


def _write_slices(
    lake: Lake,
    schema: ExtractSchema,
    result: IngestResult,
    stage_dir: Path,
    quarantined: list[dict],
) -> None:
    spark = lake.spark
    now = dt.datetime.now(dt.UTC)
    date = result.business_date
    bschema = bronze_schema(schema)
    staged = sorted(stage_dir.glob("*.parquet")) if stage_dir.exists() else []
    file_schema = T.StructType(
        [
            f
            for f in bschema.fields
            if f.name in {*schema.column_names, "_extra", "_row_number", "_file"}
        ]
    )
    if staged:
        df = spark.read.schema(file_schema).parquet(str(stage_dir))
    else:  # nothing accepted: an empty slice, derived like a delivered one
        df = spark.createDataFrame([], file_schema)
    df = add_bronze_metadata(
        df, schema, business_date=date, batch_id=result.batch_id, ingested_at=now
    )
    table = f"bronze.{schema.source_id}"
    lake.derive_columns(table, delivered_field_edges(schema))
    lake.replace_slice(
        df.select(*bschema.names),
        table,
        where={"_business_date": date},
        partition_by=["_business_date"],
    )

    qdf = (
        spark.createDataFrame(quarantined, QUARANTINE_ROWS_SCHEMA)
        if quarantined
        else spark.createDataFrame([], QUARANTINE_ROWS_SCHEMA)
    )
    lake.replace_slice(
        qdf,
        "quarantine.rows",
        where={"_business_date": date, "_source_id": schema.source_id},
        partition_by=["_business_date"],
    )

    lake.replace_slice(
        spark.createDataFrame(_rejected_rows(result, now), QUARANTINE_FILES_SCHEMA),
        "quarantine.files",
        where={"business_date": date, "source_id": schema.source_id},
        partition_by=["business_date"],
    )
    lake.replace_slice(
        spark.createDataFrame(_delivery_rows(result, now), DELIVERIES_SCHEMA),
        "audit.deliveries",
        where={"business_date": date, "source_id": schema.source_id},
        partition_by=["business_date"],
    )


def add_bronze_metadata(
    df: DataFrame,
    schema: ExtractSchema,
    *,
    business_date: dt.date,
    batch_id: str | None,
    ingested_at: dt.datetime,
) -> DataFrame:
    """Add _source_id, _business_date, _batch_id, _row_hash and _ingested_at to staged rows."""
    hashed = [F.coalesce(F.col(c), F.lit("\u0000")) for c in [*schema.column_names, "_extra"]]
    return (
        df.withColumn("_source_id", F.lit(schema.source_id))
        .withColumn("_business_date", F.lit(business_date))
        .withColumn("_batch_id", F.lit(batch_id).cast(T.StringType()))
        .withColumn("_row_hash", F.sha2(F.concat_ws("\u001f", *hashed), 256))
        .withColumn("_ingested_at", F.lit(ingested_at).cast(T.TimestampType()))
    )


def _delivery_rows(result: IngestResult, now: dt.datetime) -> list[dict]:
    rows = []
    for o in result.files:
        m = o.manifest
        rows.append(
            {
                "source_id": result.source_id,
                "business_date": result.business_date,
                "file": o.file,
                "delivery": m.delivery if m else None,
                "batch_id": batch_id_for(
                    result.source_id, result.business_date, delivery=m.delivery
                )
                if m
                else None,
                "mode": m.mode if m else None,
                "parts": m.parts if m else None,
                "delivered_at": m.delivered_at if m else None,
                "status": o.status,
                "reason_code": o.reason_code,
                "manifest_rows": m.rows if m else None,
                "rows_accepted": o.rows_accepted,
                "rows_quarantined": o.rows_quarantined,
                "extra_columns": ",".join(o.extra_columns) or None,
                "missing_columns": ",".join(o.missing_columns) or None,
                "notes": "; ".join(o.notes + ([o.reason] if o.reason else [])) or None,
                "snapshot_complete": result.snapshot_complete,
                "ingested_at": now,
            }
        )
    return rows


def check_conservation(lake: Lake, result: IngestResult) -> None:
    """For every accepted file: manifest rows = bronze rows + quarantined rows, read from the lake
    (with delta-rs: the check is not one of the run's inputs).

    Raises ConservationError naming each file that does not reconcile.
    """
    accepted = {o.file: o.manifest.rows for o in result.files if o.status == "accepted"}
    date = result.business_date
    counts: Counter = Counter()
    for table, source_col in (
        (f"bronze.{result.source_id}", None),
        ("quarantine.rows", "_source_id"),
    ):
        where = f"_business_date = DATE '{date.isoformat()}'"
        if source_col:
            where += f" AND {source_col} = '{result.source_id}'"
        rows = delta.query(
            lake.root,
            {"t": (table, None)},
            sql=f"SELECT _file, count(*) AS n FROM t WHERE {where} GROUP BY _file",
        )
        for row in rows:
            counts[row["_file"]] += row["n"]
    problems = [
        f"{f}: manifest {n} rows, lake holds {counts.get(f, 0)} (bronze + quarantine)"
        for f, n in sorted(accepted.items())
        if counts.get(f, 0) != n
    ]
    problems += [
        f"{f}: {n} rows in the lake but the file was not accepted"
        for f, n in sorted(counts.items())
        if f not in accepted
    ]
    if problems:
        raise ConservationError(
            f"{result.source_id} {date}: rows do not reconcile with the manifests:\n  "
            + "\n  ".join(problems)
        )
