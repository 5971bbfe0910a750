"""``govlake doctor`` and ``govlake maintain``: the lake's health, and its upkeep under the lease.

**doctor** reports, and with ``repair`` repairs where it can:

* a stale writer lease (its holder ended without releasing it): marked released;
* staging left by a process that ended (parsed rows with ID numbers): removed;
* unpublished partial state: tables whose latest commit is not the current publication's while
  no writer runs (a run killed between its commits and its publication). Readers never see it;
  ``repair`` restores those tables to their published versions, and the next run rebuilds;
* broken invariants the code relies on: a bronze slice or quarantined rows without their
  accepted ``audit.deliveries`` rows, counts that do not reconcile with a manifest
  (manifest rows = bronze rows + quarantined rows), a publication naming a version that can no
  longer be read. These need the landing zone: the report names the ``govlake run --from``
  that rebuilds them.

**maintain** compacts small files (``audit.queries`` and the lineage tables grow by a commit per
run or query), checkpoints every Delta log, republishes the current date with the compacted
versions (the same rows, fewer files), vacuums files no kept version needs and expires the log
before the oldest kept version: the versions of every publication of the last
``keep_as_of_days`` (conf/maintenance.yaml) stay readable, so ``--as-of`` keeps working over
that horizon (docs/lake.md, retention policy).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

from deltalake import DeltaTable

from jobs.platform import delta, lease, publication, staging

log = logging.getLogger(__name__)

MIN_RETENTION_HOURS = 1  # files a concurrent append (audit.queries) may be committing


@dataclass
class Finding:
    """One problem `govlake doctor` found, and whether it was repaired."""

    what: str  # lease | staging | unpublished | invariant
    detail: str
    repaired: bool = False
    fix: str | None = None  # what to do when doctor cannot repair it


@dataclass
class Checkup:
    """What `govlake doctor` found in a lake."""

    findings: list[Finding] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """True when every finding has been repaired (or there were none)."""
        return all(f.repaired for f in self.findings)


def doctor(root: Path, *, repair: bool = False) -> Checkup:
    """Look the lake over (and repair what can be repaired)."""
    root = Path(root).resolve()
    report = Checkup()
    writing = not lease.is_free(root) and not lease.holds(root)
    if writing:
        report.findings.append(
            Finding(
                "lease",
                f"a writer is running: {lease.describe(lease.current_holder(root))}; its work in "
                "progress is not checked",
                repaired=True,
            )
        )
    stale = lease.stale(root)
    if stale:
        f = Finding("lease", f"stale writer lease of {lease.describe(stale)}, which ended")
        if repair:
            lease.clear_stale(root)
            f.repaired = True
        report.findings.append(f)
    report.findings += _staging(root, repair)
    if not writing:
        report.findings += _unpublished(root, repair)
        report.findings += _invariants(root)
    return report


def _staging(root: Path, repair: bool) -> list[Finding]:
    left = staging.abandoned(root)
    if not left:
        return []
    f = Finding("staging", f"staging left by processes that ended: {left}")
    if repair:
        staging.sweep(root)
        f.repaired = True
    return [f]


def _unpublished(root: Path, repair: bool) -> list[Finding]:
    pending = publication.unpublished(root)
    if not pending:
        return []
    try:
        pub = publication.current(root)
        where = f"readers see the publication of {pub.business_date}"
    except publication.NotPublished:
        pub, where = None, "nothing is published yet"
    restorable = {t: v for t, (v, _) in pending.items() if v is not None}
    f = Finding(
        "unpublished",
        f"tables changed since the last publication ({where}): "
        + ", ".join(f"{t} v{p}→v{h}" for t, (p, h) in sorted(pending.items())),
        fix="`govlake run` rebuilds and publishes them",
    )
    if repair and restorable:
        with lease.writer(root, command="govlake doctor --repair"):
            versions = dict(pub.versions)
            for table, version in sorted(restorable.items()):
                dtab = DeltaTable(str(root / table.replace(".", "/")))
                dtab.restore(version)
                versions[table] = DeltaTable(str(root / table.replace(".", "/"))).version()
            # the same rows as published, under the versions the restore made
            publication.publish_versions(
                root,
                pub.business_date,
                versions=versions,
                run_id="doctor",
                code_version=_code_version(),
            )
        f.repaired = len(restorable) == len(pending)
        f.detail += f"; restored {sorted(restorable)} to their published versions"
    return [f]


def _code_version() -> str:
    from lineage.recorder import code_version

    return code_version()


def _invariants(root: Path) -> list[Finding]:
    out = []
    for problem in _slices_without_audit(root):
        out.append(Finding("invariant", problem, fix=_rerun_hint(problem)))
    out += _unreadable_publications(root)
    return out


def _rerun_hint(problem: str) -> str:
    date = problem.split()[1] if len(problem.split()) > 1 else "<date>"
    return f"`govlake run --from {date}` rewrites the slice from the landing zone"


def _counts(root: Path, table: str, by: str, where: str = "TRUE") -> dict[tuple, int]:
    if not DeltaTable.is_deltatable(str(root / table.replace(".", "/"))):
        return {}
    rows = delta.query(
        root,
        {"t": (table, None)},
        sql=f"SELECT {by}, _file, count(*) AS n FROM t WHERE {where} GROUP BY {by}, _file",
    )
    return {tuple(r[k] for k in [*by.split(", "), "_file"]): r["n"] for r in rows}


def _slices_without_audit(root: Path) -> list[str]:
    """Each source-date's bronze and quarantine rows against its accepted audit rows."""
    audit_path = root / "audit" / "deliveries"
    if not DeltaTable.is_deltatable(str(audit_path)):
        return []
    accepted = {
        (r["source_id"], r["business_date"], r["file"]): r
        for r in delta.read_rows(audit_path)
        if r["status"] == "accepted"
    }
    quarantined = _counts(root, "quarantine.rows", "_source_id, _business_date")
    problems = []
    for table in delta.lake_tables(root):
        if not table.startswith("bronze."):
            continue
        source = table.split(".", 1)[1]
        for (date, file), n in sorted(_counts(root, table, "_business_date").items()):
            a = accepted.get((source, date, file))
            if a is None:
                problems.append(
                    f"{source} {date} {file}: {n} bronze rows without an accepted audit row"
                )
            elif a["rows_accepted"] != n:
                problems.append(
                    f"{source} {date} {file}: {n} bronze rows, audit.deliveries says "
                    f"{a['rows_accepted']}"
                )
    for (source, date, file), a in sorted(accepted.items(), key=str):
        q = quarantined.get((source, date, file), 0)
        if a["manifest_rows"] is not None and a["rows_accepted"] + q != a["manifest_rows"]:
            problems.append(
                f"{source} {date} {file}: manifest {a['manifest_rows']} rows, lake holds "
                f"{a['rows_accepted']} + {q} quarantined"
            )
    for (source, date, file), n in sorted(quarantined.items(), key=str):
        if (source, date, file) not in accepted:
            problems.append(
                f"{source} {date} {file}: {n} quarantined rows without an accepted audit row"
            )
    return problems


def _unreadable_publications(root: Path) -> list[Finding]:
    try:
        pub = publication.current(root)
    except publication.NotPublished:
        return []
    out = []
    for table, version in sorted(pub.versions.items()):
        missing = delta.unreadable_files(root / table.replace(".", "/"), version)
        if missing:
            out.append(
                Finding(
                    "invariant",
                    f"the current publication ({pub.business_date}) names {table} v{version}, "
                    f"which cannot be read: {missing[:3]}",
                    fix="`govlake run` rebuilds and republishes",
                )
            )
    return out


# ------------------------------------------------------------------------------ maintain
@dataclass
class TableUpkeep:
    """What `govlake maintain` did to one table: files before and after, versions kept."""

    table: str
    files_before: int  # files the latest version is made of
    bytes_before: int
    disk_before: int  # Parquet bytes on disk, older versions' included
    files_after: int = 0
    bytes_after: int = 0
    disk_after: int = 0
    compacted: int = 0  # files rewritten
    vacuumed: int = 0  # files deleted
    expired: int = 0  # log files deleted (versions older than every kept one)


def upkeep_lines(done: list[TableUpkeep]) -> list[str]:
    """What maintenance did, one line a table (`govlake maintain` prints them, the DAG logs them)."""
    lines = [
        f"{'table':<28} {'files read':>13} {'MiB read':>15} {'MiB on disk':>15} "
        f"{'compacted':>9} {'vacuumed':>8} {'log expired':>11}"
    ]
    for u in done:
        lines.append(
            f"{u.table:<28} {u.files_before:>6}→{u.files_after:<6} "
            f"{u.bytes_before / 2**20:>7.2f}→{u.bytes_after / 2**20:<7.2f} "
            f"{u.disk_before / 2**20:>7.2f}→{u.disk_after / 2**20:<7.2f} "
            f"{u.compacted:>9} {u.vacuumed:>8} {u.expired:>11}"
        )
    return lines


def keep_as_of_days() -> int:
    """How far back ``--as-of`` must keep working (conf/maintenance.yaml)."""
    from jobs.platform import settings

    return settings.maintenance().keep_as_of_days


def _footprint(path: Path) -> tuple[int, int, int]:
    """(files a reader of the latest version opens, their bytes, Parquet bytes on disk)."""
    import pyarrow as pa

    actions = pa.table(DeltaTable(str(path)).get_add_actions(flatten=True))
    live = int(sum(actions["size_bytes"].to_pylist())) if actions.num_rows else 0
    disk = sum(p.stat().st_size for p in path.rglob("*.parquet") if p.is_file())
    return actions.num_rows, live, disk


def kept_versions(root: Path, *, keep_days: int) -> dict[str, set[int]]:
    """The versions of each table that publications within the horizon need."""
    pubs = publication.publications(root)
    if not pubs:
        return {}
    latest = publication.current(root)
    horizon = latest.business_date - dt.timedelta(days=keep_days)
    kept: dict[str, set[int]] = {}
    for p in pubs:
        if p.business_date >= horizon or p is latest or p == latest:
            for table, version in p.versions.items():
                kept.setdefault(table, set()).add(version)
    return kept


def maintain(
    root: Path,
    *,
    keep_days: int | None = None,
    wait: float | None = None,
    min_retention_hours: float = MIN_RETENTION_HOURS,
) -> list[TableUpkeep]:
    """Compact, checkpoint, republish, vacuum and expire the log of every table, holding the
    writer lease.

    Files are vacuumed once no kept version needs them and they were removed from the table
    more than ``min_retention_hours`` ago (an append being committed may still need them):
    what this run's compaction replaced goes at the next run."""
    root = Path(root).resolve()
    keep_days = keep_as_of_days() if keep_days is None else keep_days
    out = []
    with lease.writer(root, command="govlake maintain", wait=wait):
        staging.sweep(root)
        try:
            pub = publication.current(root)
        except publication.NotPublished:
            pub = None
        republished: dict[str, int] = dict(pub.versions) if pub else {}
        for table in delta.lake_tables(root):
            out.append(_compact(root, table, pub, republished))
        if pub is not None and republished != pub.versions:
            publication.publish_versions(
                root,
                pub.business_date,
                versions=republished,
                run_id="maintain",
                code_version=_code_version(),
            )
        kept = kept_versions(root, keep_days=keep_days)
        for upkeep in out:
            _vacuum(root, upkeep, kept.get(upkeep.table, set()), min_retention_hours)
    return out


def _compact(
    root: Path, table: str, pub: publication.Publication | None, republished: dict[str, int]
) -> TableUpkeep:
    path = root / table.replace(".", "/")
    upkeep = TableUpkeep(table, *_footprint(path))
    dtab = DeltaTable(str(path))
    head = dtab.version()
    metrics = dtab.optimize.compact()
    upkeep.compacted = int(metrics.get("numFilesRemoved", 0))
    dtab = DeltaTable(str(path))
    dtab.create_checkpoint()
    # the current publication moves to the compacted version only where it was the head:
    # the same rows in fewer files (a table an --only run moved keeps its published version)
    if (
        pub is not None
        and dtab.version() != head
        and publication.same_state(path, pub.version(table), other=head)
    ):
        republished[table] = dtab.version()
    return upkeep


def _vacuum(root: Path, upkeep: TableUpkeep, keep: set[int], retention_hours: float) -> None:
    path = root / upkeep.table.replace(".", "/")
    dtab = DeltaTable(str(path))
    keep = {v for v in keep if v <= dtab.version()} | {dtab.version()}
    removed = dtab.vacuum(
        retention_hours=retention_hours,
        dry_run=False,
        enforce_retention_duration=False,
        keep_versions=sorted(keep),
    )
    upkeep.vacuumed = len(removed)
    # the log before the oldest kept version goes too: readers list the whole log (delta-rs and
    # the engine), and a year of daily commits is thousands of files in lineage.runs alone
    upkeep.expired = delta.expire_log(path, keep=keep, older_than=retention_hours * 3600)
    upkeep.files_after, upkeep.bytes_after, upkeep.disk_after = _footprint(path)
