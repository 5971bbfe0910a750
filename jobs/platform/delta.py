"""Reading small Delta tables without Spark (lineage, audit, catalogue), through delta-rs.

delta-rs' own query engine reads them. ``DeltaTable.to_pyarrow_dataset()`` leaves pyarrow
scanner threads that can abort the interpreter at exit ("terminate called without an active
exception", delta-io/delta-rs#2184); command-line tools that read this way exit cleanly.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import threading
import time
from collections.abc import Collection
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow as pa
from deltalake import DeltaTable, QueryBuilder, write_deltalake
from deltalake.exceptions import CommitFailedError


def read_table(path: str | Path, version: int | None = None) -> pa.Table:
    """The whole table (at ``version``) as Arrow."""
    dtab = DeltaTable(str(path), version=version)
    return pa.table(QueryBuilder().register("t", dtab).execute("SELECT * FROM t"))


def read_rows(path: str | Path) -> list[dict]:
    """A small Delta table's current rows as dicts (delta-rs, no Spark)."""
    return read_table(path).to_pylist()


def lake_tables(root: str | Path) -> list[str]:
    """Every table of the lake as ``layer.table`` (working folders such as _staging are not)."""
    base = Path(root)
    if not base.exists():
        return []
    return [
        f"{layer.name}.{t.name}"
        for layer in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("_"))
        for t in sorted(p for p in layer.iterdir() if p.is_dir())
        if (t / "_delta_log").is_dir()
    ]


def query(root: str | Path, tables: dict[str, tuple[str, int | None]], *, sql: str) -> list[dict]:
    """Run ``sql`` over lake tables registered as {name: (layer.table, version)}."""
    qb = QueryBuilder()
    for name, (table, version) in tables.items():
        qb.register(name, DeltaTable(str(Path(root) / table.replace(".", "/")), version=version))
    return pa.table(qb.execute(sql)).to_pylist()


def leaf_fields(schema) -> list[tuple[str, str]]:
    """(dotted path, type) of every leaf of a delta-rs or Arrow schema; list elements are
    transparent (``household.members.name``)."""

    def walk(kind, prefix):
        while pa.types.is_list(kind) or pa.types.is_large_list(kind):
            kind = kind.value_type
        if pa.types.is_struct(kind):
            for f in kind:
                yield from walk(f.type, f"{prefix}.{f.name}")
        else:
            yield prefix, str(kind)

    return [leaf for f in pa.schema(schema) for leaf in walk(f.type, f.name)]


def build_as_of(runs: pa.Table | None, table: str, *, as_of: dt.date) -> tuple[int, dt.date] | None:
    """(Delta version, business date) written by the latest successful run, for the latest
    business date on or before ``as_of``, that wrote ``table`` (lineage.runs); None if none."""
    best: tuple[dt.date, dt.datetime, int] | None = None
    for run in runs.to_pylist() if runs is not None else []:
        if run["status"] != "success" or run["business_date"] is None:
            continue
        if run["business_date"] > as_of:
            continue
        version = run_versions(run["outputs"]).get(table)
        key = (run["business_date"], run["ended_at"], version)
        if version is not None and (best is None or key[:2] > best[:2]):
            best = key
    return (best[2], best[0]) if best else None


def run_versions(text: str | None) -> dict[str, int | None]:
    """``{table: version}`` from a lineage.runs ``inputs`` or ``outputs`` value
    (``table@version,...``; an input that is not a table may have no version)."""
    out: dict[str, int | None] = {}
    for item in (text or "").split(","):
        name, at, version = item.rpartition("@")
        if at:
            out[name] = int(version) if version else None
    return out


def unreadable_files(path: str | Path, version: int) -> list[str]:
    """What keeps the table at ``path`` from being read at ``version``: its data files missing
    on a local disk (vacuum removes those no kept version needs), or why its log cannot give
    that version. Empty when it can be read."""
    try:
        files = DeltaTable(str(path), version=version).file_uris()
    except Exception as e:  # noqa: BLE001 - reported to the caller
        return [f"{type(e).__name__}: {e}"]
    local = [p for p in map(local_path, files) if p is not None]
    return [str(p) for p in local if not p.exists()]


def local_path(uri: str) -> Path | None:
    """The path on this machine of a delta-rs URI (``file:///…``, percent-decoded), or None
    for object storage."""
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)) if parsed.scheme in ("", "file") else None


class _GroupCommit:
    """Appends of one table, committed together (group commit): the audit tables and the
    workbench's actions, appended while a run may hold the writer lease.

    Each caller queues its rows and returns only once a commit holding them succeeded (or raises
    if it failed), so a query still returns no result whose audit row is not written. While one
    caller commits, the rows of the others gather and go in the next commit: a busy server makes
    a few commits a second, not one per query, and concurrent appends of one process never race
    each other. Appends from other processes can still conflict: those are retried.
    """

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._queue: list[tuple[pa.Table, dict]] = []
        self._leader = False
        self._done = threading.Condition(self._lock)
        self._generation = 0  # commits finished
        self._errors: dict[int, BaseException] = {}

    def append(self, rows: pa.Table, schema_mode: str | None = None) -> None:
        with self._lock:
            item = (rows, {"error": None, "done": False})
            self._queue.append(item)
            while not item[1]["done"]:
                if not self._leader:
                    self._leader = True
                    batch, self._queue = self._queue, []
                    self._lock.release()
                    try:
                        error = self._commit([b for b, _ in batch], schema_mode)
                    finally:
                        self._lock.acquire()
                        self._leader = False
                    for _, state in batch:
                        state["done"], state["error"] = True, error
                    self._done.notify_all()
                else:
                    self._done.wait()
            if item[1]["error"] is not None:
                raise item[1]["error"]

    def _commit(self, tables: list[pa.Table], schema_mode: str | None) -> BaseException | None:
        data = pa.concat_tables(tables, promote_options="default")
        for attempt in range(8):
            try:
                write_deltalake(self.path, data, mode="append", schema_mode=schema_mode)
                return None
            except CommitFailedError as e:  # another process committed the same version
                error: BaseException = e
                time.sleep(0.02 * (2**attempt) * (0.5 + random.random()))
            except Exception as e:  # noqa: BLE001 - handed to every waiting caller
                return e
        return error


_WRITERS: dict[str, _GroupCommit] = {}
_WRITERS_LOCK = threading.Lock()


def append_rows(path: str, rows: pa.Table, *, schema_mode: str | None = None) -> None:
    """Append ``rows`` to the Delta table at ``path``, in a group commit with the appends
    other threads of this process make at the same time."""
    with _WRITERS_LOCK:
        writer = _WRITERS.setdefault(path, _GroupCommit(path))
    writer.append(rows, schema_mode)


_LOG_FILE = re.compile(r"^(\d{20})\.(json|crc|checkpoint(\.\d{10}\.\d{10})?\.parquet)$")
_COMPACTED = re.compile(r"^(\d{20})\.(\d{20})\.compacted\.json$")


def expire_log(path: str | Path, *, keep: Collection[int], older_than: float = 0.0) -> int:
    """Delete the log files of versions older than every version in ``keep``: the commits and
    checkpoints before the newest single-file checkpoint at or below the oldest kept version,
    which then starts the log (the Delta protocol's log clean-up, by version rather than by
    file age: delta-rs's ``cleanup_metadata`` goes by modification time, and the lake keeps
    the versions its publications name, whatever their age). Every kept version, and every
    version after the oldest, stays readable.

    Files written less than ``older_than`` seconds ago stay: a writer appending beside the
    maintenance (the audit tables, the workbench's actions) may have read the table a few
    versions back, and on a conflict it reads the commits made since. The number of files
    deleted."""
    log = Path(path) / "_delta_log"
    if not keep or not log.is_dir():
        return 0
    cutoff = time.time() - older_than
    oldest = min(keep)
    names = [p.name for p in log.iterdir() if p.is_file()]
    checkpoints = [
        int(n[:20]) for n in names if n.endswith(".checkpoint.parquet") and _LOG_FILE.match(n)
    ]
    start = max((v for v in checkpoints if v <= oldest), default=None)
    if start is None or not _loads(path, start):
        return 0
    gone = 0
    for name in sorted(names):  # oldest first: a maintenance killed half-way leaves a whole log
        newest = _newest_version(name)
        if newest is None or newest >= start:
            continue
        try:
            if (log / name).stat().st_mtime > cutoff:
                continue
            (log / name).unlink()
        except FileNotFoundError:  # another maintenance, or delta-rs, removed it meanwhile
            continue
        gone += 1
    return gone


def commit_time(path: str | Path, version: int) -> dt.datetime | None:
    """When ``version`` was committed (its ``commitInfo.timestamp``), or None when its commit
    is not in the log (expired, or never written with one)."""
    commit = Path(path) / "_delta_log" / f"{version:020}.json"
    try:
        with open(commit, encoding="utf-8") as fh:
            for line in fh:
                info = json.loads(line).get("commitInfo") if line.strip() else None
                if isinstance(info, dict) and isinstance(info.get("timestamp"), int):
                    return dt.datetime.fromtimestamp(info["timestamp"] / 1000, dt.UTC)
    except (OSError, ValueError):
        return None
    return None


def _loads(path: str | Path, version: int) -> bool:
    """Whether delta-rs loads ``version``, which it reads from that version's checkpoint when
    there is one: the checkpoint that is to start the log is whole and readable."""
    try:
        DeltaTable(str(path), version=version)
    except Exception:  # noqa: BLE001 - any failure: the log stays as it is
        return False
    return True


def _newest_version(name: str) -> int | None:
    """The newest version a log file's name covers (None: not a commit, checksum or checkpoint:
    ``_last_checkpoint``, temporary files and folders are never touched)."""
    if m := _LOG_FILE.match(name):
        return int(m.group(1))
    if m := _COMPACTED.match(name):
        return int(m.group(2))
    return None
