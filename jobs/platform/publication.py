"""Publication: a business date becomes visible to readers only when all its stages are done.

Writers commit to many tables, one after another; a reader that took the latest commit of each
table would see half a build while a run is going (``silver.person_link`` at the new date,
``silver.person`` at the old one). So when every stage of a business date has completed, the
writer records, in one Delta commit to ``lineage.publications``, the version of every table it
built: a *publication*. Readers (``govlake sql``, ``show``, ``profile``, ``trace``,
``report``, the catalogue) read the tables at those versions, never at their latest commits:

* the **current** state is the publication of the latest business date (the latest published
  one when a date was published twice): rebuilding an old date (``govlake run --from``, a
  correction) publishes it for ``--as-of`` while readers stay on the latest date until the
  rebuild reaches it again;
* ``--as-of D`` is the state published for D (or, for a date never built, for the latest date
  before it).

Tables that are logs rather than built state (``lineage.runs``, ``lineage.table_edges``,
``audit.queries``, the publications themselves) are not pinned: readers see them whole.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from jobs.platform import delta, faults

TABLE = "lineage.publications"
UNPINNED = frozenset(
    {
        "lineage.runs",
        "lineage.table_edges",
        TABLE,
        "audit.queries",
        "audit.logins",
        # the workbench appends people's actions at any time; runs read its latest version
        "quality.finding_actions",
    }
)
SCHEMA = pa.schema(
    [
        ("business_date", pa.date32()),
        ("published_at", pa.timestamp("us", tz="UTC")),
        ("run_id", pa.string()),
        ("versions", pa.string()),  # JSON {"layer.table": version}
        ("code_version", pa.string()),
    ]
)


class NotPublished(LookupError):
    """Nothing is published (for that date) yet."""


@dataclass(frozen=True)
class Publication:
    """A published business date: when, and the table versions readers see for it."""

    business_date: dt.date
    published_at: dt.datetime
    versions: dict[str, int]

    def version(self, table: str) -> int | None:
        """The table's published version; None for a log table (read whole) or one the
        publication does not know (built after it)."""
        return self.versions.get(table)


def _path(root: Path) -> Path:
    return Path(root) / TABLE.replace(".", "/")


def publish(root: Path, business_date: dt.date, *, run_id: str, code_version: str) -> Publication:
    """Record the current version of every built table as the state of ``business_date``
    (the caller holds the writer lease and has completed every stage of the date)."""
    root = Path(root)
    versions = {
        t: DeltaTable(str(root / t.replace(".", "/"))).version()
        for t in delta.lake_tables(root)
        if t not in UNPINNED
    }
    return publish_versions(
        root, business_date, versions=versions, run_id=run_id, code_version=code_version
    )


def publish_versions(
    root: Path, business_date: dt.date, *, versions: dict[str, int], run_id: str, code_version: str
) -> Publication:
    """Record ``versions`` as the state of ``business_date``, in one commit."""
    faults.before_write()
    now = dt.datetime.now(dt.UTC)
    row = {
        "business_date": [business_date],
        "published_at": [now],
        "run_id": [run_id],
        "versions": [json.dumps(versions, sort_keys=True)],
        "code_version": [code_version],
    }
    write_deltalake(str(_path(root)), pa.table(row, schema=SCHEMA), mode="append")
    return Publication(business_date, now, versions)


def publications(root: Path) -> list[Publication]:
    """Every publication, oldest first."""
    if not DeltaTable.is_deltatable(str(_path(root))):
        return []
    rows = delta.read_rows(_path(root))
    out = [
        Publication(r["business_date"], r["published_at"], json.loads(r["versions"])) for r in rows
    ]
    return sorted(out, key=lambda p: (p.published_at, p.business_date))


def current(root: Path, as_of: dt.date | None = None) -> Publication:
    """The state readers see: the latest business date published (``as_of``: the latest on or
    before it), as last published. Raises NotPublished."""
    pubs = [p for p in publications(root) if as_of is None or p.business_date <= as_of]
    if not pubs:
        when = f" on or before {as_of}" if as_of else ""
        raise NotPublished(
            f"nothing is published in {root}{when} yet: a business date is published when "
            "every stage of `govlake run` (or the Airflow builds) has completed for it"
        )
    return max(pubs, key=lambda p: (p.business_date, p.published_at))


def unpublished(root: Path) -> dict[str, tuple[int | None, int]]:
    """Tables whose latest commit is not the current publication's: {table: (published,
    latest)}. Between a run's commits and its publication this is the work in progress; after a
    crash, the partial state a rerun replaces."""
    try:
        pinned = current(root).versions
    except NotPublished:
        pinned = {}
    out = {}
    for t in delta.lake_tables(root):
        if t in UNPINNED:
            continue
        path = Path(root) / t.replace(".", "/")
        latest = DeltaTable(str(path)).version()
        if not same_state(path, pinned.get(t), other=latest):
            out[t] = (pinned.get(t), latest)
    return out


def same_state(path: Path, version: int | None, *, other: int) -> bool:
    """Whether two versions of a table hold the same data files (a vacuum, a checkpoint or an
    empty commit makes a new version of the same state)."""
    if version is None:
        return False
    if version == other:
        return True

    def files(v: int) -> set[str]:
        return set(DeltaTable(str(path), version=v).file_uris())

    return files(version) == files(other)
