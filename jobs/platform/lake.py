"""The one place Delta tables are read, written, merged and maintained.

Tables live at ``<root>/<layer>/<table>`` and are named ``layer.table``. Every read and write
made inside :meth:`Lake.run` is handed to a :class:`lineage.recorder.RunRecord`, which this
module persists to ``lineage.runs`` and ``lineage.table_edges`` when the run ends.

Guards against Sail behaviours (../shared/CONVENTIONS.md), each with a test in
tests/integration/test_lake.py that fails without it:

* ``replaceWhere`` does not reject rows outside the predicate → :meth:`replace_slice` filters
  the frame to the predicate first (and creates an absent table without the option, which
  Sail cannot do through replaceWhere);
* dynamic partition overwrite replaces the whole table → never used: slices are replaced with
  an explicit ``replaceWhere``;
* ``lit()`` columns are stored non-nullable → :func:`nullable` unions with an empty frame whose
  schema is all nullable before every write;
* DESCRIBE HISTORY / VACUUM / DeltaTable are unavailable → history, version and vacuum go
  through ``deltalake`` (delta-rs); upserts use ``MERGE INTO`` SQL;
* partition columns move to the end of the schema → writes select the target's columns by
  name (:meth:`_conform`) and reads return the table's stored order; callers select by name.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import shutil
import threading
import uuid
from collections.abc import Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.platform import delta, faults, lease
from jobs.platform.publication import UNPINNED, Publication
from jobs.platform.staging import Staging
from lineage import columns as column_lineage
from lineage.openlineage import Emitter
from lineage.recorder import RunRecord

log = logging.getLogger(__name__)

# Delta operations that leave a table's rows as they were (delta-rs names them so)
_SAME_ROWS = frozenset({"OPTIMIZE", "VACUUM START", "VACUUM END"})

_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z_][a-z0-9_]*$")

RUNS_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType()),
        T.StructField("job", T.StringType()),
        T.StructField("business_date", T.DateType()),
        T.StructField("started_at", T.TimestampType()),
        T.StructField("ended_at", T.TimestampType()),
        T.StructField("status", T.StringType()),
        T.StructField("inputs", T.StringType()),
        T.StructField("outputs", T.StringType()),
        T.StructField("code_version", T.StringType()),
    ]
)
EDGES_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType()),
        T.StructField("source_table", T.StringType()),
        T.StructField("source_version", T.LongType()),
        T.StructField("target_table", T.StringType()),
        T.StructField("target_version", T.LongType()),
    ]
)

COLUMN_EDGES_SCHEMA = T.StructType(
    [
        T.StructField(name, T.StringType())
        for name in (
            "target_table", "target_column", "source_table", "source_column", "transform",
            "job", "run_id",
        )
    ]
)  # fmt: skip


def with_row_hash(df: DataFrame) -> DataFrame:
    """``df`` with ``_row_hash``: a hash of every column (as Lake.apply_changes compares rows
    and the curated tables carry it)."""
    hashed = [F.coalesce(F.col(f"`{c}`").cast("string"), F.lit("\u0000")) for c in df.columns]
    return df.withColumn("_row_hash", F.sha2(F.concat_ws("\u001f", *hashed), 256))


def _plain_arrow(schema: pa.Schema) -> pa.Schema:
    """The schema with text and binary as plain arrays (delta-rs gives views)."""
    views = {pa.string_view(): pa.string(), pa.binary_view(): pa.binary()}
    return pa.schema([f.with_type(views.get(f.type, f.type)) for f in schema])


def _as_changed(df: DataFrame, columns: list[str], changed_on: Any) -> DataFrame:
    """The rows as ``Lake.apply_changes`` writes them: hashed, and changed on ``changed_on``."""
    return with_row_hash(df.select(*columns)).withColumn("_changed_on", F.lit(changed_on))


def nullable(df: DataFrame) -> DataFrame:
    """The same rows with every column declared nullable.

    Sail stores columns made from ``lit()`` (and expressions it proves non-null) as NOT NULL,
    after which a later write of a null into them fails. A union with an empty frame whose
    schema is all-nullable makes every column nullable on Sail and on Spark alike.
    """
    schema = T.StructType([T.StructField(f.name, f.dataType, True) for f in df.schema.fields])
    return df.sparkSession.createDataFrame([], schema).unionByName(df)


def _plain(kind: T.DataType) -> T.DataType:
    """A Spark type without field metadata (Sail cannot parse a schema that carries Delta's)."""
    if isinstance(kind, T.StructType):
        return T.StructType([T.StructField(f.name, _plain(f.dataType), f.nullable) for f in kind])
    if isinstance(kind, T.ArrayType):
        return T.ArrayType(_plain(kind.elementType), kind.containsNull)
    if isinstance(kind, T.MapType):
        return T.MapType(_plain(kind.keyType), _plain(kind.valueType), kind.valueContainsNull)
    return kind


def union_all(frames: list[DataFrame]) -> DataFrame:
    """The union (by name) of ``frames``, as a balanced tree: a chain of unions is a plan as
    deep as the list is long, and Sail's engine crashes the process (a native stack overflow)
    on a chain of a few hundred, which a table partitioned by date reaches within a year."""
    if not frames:
        raise ValueError("union_all needs at least one frame")
    while len(frames) > 1:
        pairs = zip(frames[0::2], frames[1::2], strict=False)
        frames = [a.unionByName(b) for a, b in pairs] + frames[len(frames) // 2 * 2 :]
    return frames[0]


def _in_partitions(df: DataFrame, partitions: Mapping[str, Collection[Any]] | None) -> DataFrame:
    """The rows of ``df`` in the given partitions ({partition column: values}; None: all)."""
    for c, values in (partitions or {}).items():
        df = df.filter(F.col(f"`{c}`").isin(list(values)))
    return df


def sql_literal(value: Any) -> str:
    """A SQL literal for a slice predicate value (dates, numbers, strings)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return f"DATE'{value.isoformat()}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


class Lake:
    """A Delta lake rooted at a directory; the only reader and writer of its tables."""

    def __init__(self, root: str | Path, spark: SparkSession, *, pinned: Publication | None = None):
        self.root = Path(root).resolve()
        self.spark = spark
        self.pinned = pinned  # a reader's view: tables at a publication's versions (read-only)
        self._run: RunRecord | None = None
        self._staged: dict[str, list[column_lineage.Col]] = {}  # checkpoint path → lineage
        self._emitter: Emitter | None = None  # OpenLineage, configured on the first run
        self.finished_runs: list[RunRecord] = []  # every run recorded, in order (for Airflow)
        self.staging = Staging(self.root)  # this process's working area (jobs/platform/staging.py)
        self._job_dir: Path | None = None  # the current run's staging sub-folder
        self._undo: dict[str, int | None] | None = None  # see all_or_nothing
        self._leased = False  # whether this object took the writer lease (jobs/platform/lease.py)
        self._handles: dict[str, DeltaTable] = {}  # see _delta
        self._handles_lock = threading.Lock()
        self._files: dict[str, pa.Table] = {}  # see read_arrow

    @classmethod
    def published(
        cls, root: str | Path, spark: SparkSession | None, *, as_of: dt.date | None = None
    ) -> Lake:
        """A reader's view of the lake: every table at the versions published for ``as_of``
        (default: the current publication). Raises publication.NotPublished."""
        from jobs.platform import publication

        return cls(root, spark, pinned=publication.current(Path(root).resolve(), as_of))

    def close(self) -> None:
        """Remove this process's staging and give the writer lease back (also at exit)."""
        self.staging.close()
        if self._leased:
            self._leased = False
            lease.release(self.root)

    # ---------------------------------------------------------------- naming and metadata
    def path(self, table: str) -> str:
        """The folder of ``layer.table``; any other form of name is refused."""
        if not _TABLE_NAME.match(table):
            raise ValueError(f"table name {table!r} is not of the form layer.table")
        layer, name = table.split(".")
        return str(self.root / layer / name)

    def exists(self, table: str) -> bool:
        """Whether the table exists (has a Delta log).

        delta-rs answers by listing the table's log, which every commit lengthens until log
        files expire: 1 ms for a new table, 10 ms for lineage.runs after 40 dates, and a date
        asks about a few hundred times. A table this object has a handle for exists (handles
        are forgotten when a table is removed, ``_roll_back``); one found to exist gets a handle.
        """
        path = self.path(table)
        with self._handles_lock:
            if path in self._handles:
                return True
        if not DeltaTable.is_deltatable(path):
            return False
        self._handle(path)
        return True

    def version(self, table: str) -> int | None:
        """The table's current Delta version, or None when it does not exist."""
        return self._delta(table).version() if self.exists(table) else None

    def _delta(self, table: str) -> DeltaTable:
        """The table's delta-rs handle at its latest version. Opening a table reads its whole
        log (a few milliseconds, and a date asks for versions and schemas hundreds of times);
        a handle kept from an earlier call reads only the commits made since. Only a table
        removed and created anew could leave a handle ahead of its log: the one place that
        removes tables (``_roll_back``) forgets every handle."""
        return self._handle(self.path(table))

    def _handle(self, path: str) -> DeltaTable:
        with self._handles_lock:  # the servers share one Lake between threads
            handle = self._handles.get(path)
            if handle is not None:
                try:
                    handle.update_incremental()
                    return handle
                except Exception:  # the table went away or its log was rewritten: open anew
                    del self._handles[path]
            handle = self._handles[path] = DeltaTable(path)
            return handle

    def readable(self, table: str, version: int) -> bool:
        """Whether the table can still be read at ``version`` (its log gives it and, on a
        local disk, vacuum has left its data files)."""
        return self.exists(table) and not delta.unreadable_files(self.path(table), version)

    def same_rows(self, table: str, version: int | None, *, until: int | None = None) -> bool:
        """Whether the table holds at ``until`` (None: now) the rows it held at ``version``:
        every commit between is a compaction or a vacuum (``govlake maintain``), which rewrite
        or remove files without changing the rows."""
        if version is None or not self.exists(table):
            return False
        latest = self.version(table)
        until = latest if until is None else until
        if not version <= until <= latest:
            return False
        if until == version:
            return True
        newest = self._delta(table).history(latest - version)  # the commits after `version`
        commits = {c.get("version"): c.get("operation") for c in newest}
        return all(commits.get(v) in _SAME_ROWS for v in range(version + 1, until + 1))

    def value_ranges(self, table: str, column: str) -> list[tuple[Any, Any] | None]:
        """The least and greatest value of ``column`` in each of the table's files, as the
        log's statistics give them (None for a file with nulls there, or whose statistics the log
        does not keep): what the table holds, known without reading it."""
        actions = pa.table(self._delta(table).get_add_actions(flatten=True))
        stats = [f"{kind}.{column}" for kind in ("min", "max", "null_count")]
        if not set(stats) <= set(actions.column_names):
            return [None] * actions.num_rows
        low, high, nulls = (actions.column(c).to_pylist() for c in stats)
        return [
            (lo, hi) if lo is not None and hi is not None and n == 0 else None
            for lo, hi, n in zip(low, high, nulls, strict=True)
        ]

    def tables(self) -> list[str]:
        """Every table in the lake, as ``layer.table``."""
        return delta.lake_tables(self.root)

    def history(self, table: str, limit: int | None = None) -> list[dict]:
        """The table's commit history, newest first (through delta-rs)."""
        return DeltaTable(self.path(table)).history(limit)

    def vacuum(self, table: str, *, retention_hours: int = 168, dry_run: bool = True) -> list[str]:
        """Remove files no longer referenced by versions newer than the retention (delta-rs),
        keeping every version a kept publication names (``--as-of`` keeps working)."""
        from jobs.platform.maintenance import keep_as_of_days, kept_versions

        if not dry_run:
            self.take_lease(command=f"govlake vacuum {table} --apply")
        keep = kept_versions(self.root, keep_days=keep_as_of_days()).get(table, set())
        return DeltaTable(self.path(table)).vacuum(
            retention_hours=retention_hours,
            dry_run=dry_run,
            enforce_retention_duration=False,
            keep_versions=sorted(keep) or None,
        )

    # ---------------------------------------------------------------- reads
    def read(
        self,
        table: str,
        *,
        version: int | None = None,
        columns: list[str] | None = None,
        record: bool = True,
        partitions: Mapping[str, Collection[Any]] | None = None,
    ) -> DataFrame:
        """The table (optionally as of a Delta version); the read is recorded for lineage
        (``record=False``: a comparison with an earlier state, not an input of the run's data).

        Sail moves partition columns to the end of a table's schema, so never rely on the
        position of a column read back: pass ``columns`` to get them in the order you declare
        (and union by name).

        ``partitions`` ({partition column: values}): only the rows of those partitions. A
        version is read partition by partition (``_read_version``), so this keeps a read of
        one date's slice from planning every date the table holds.
        """
        version = self._reading(table, version, record=record)
        if partitions:
            parts = set(self._delta(table).metadata().partition_columns)
            if not set(partitions) <= parts:
                raise ValueError(f"{table} is not partitioned by {sorted(set(partitions) - parts)}")
        if version is None:
            df = _in_partitions(self.spark.read.format("delta").load(self.path(table)), partitions)
        else:
            df = self._read_version(table, version, partitions=partitions)
        return df.select(*[F.col(f"`{c}`") for c in columns]) if columns else df

    def read_arrow(
        self, table: str, *, version: int | None = None, record: bool = True
    ) -> pa.Table:
        """A small table (lineage, audit) as Arrow, read without a request to the engine, as
        ``read`` would give it (the version a view is pinned to; recorded alike).

        These tables grow by a file per run or delivery until ``govlake maintain`` compacts
        them, and a date reads them many times: a data file never changes once written, so
        each is read once per process and kept (``_files``), and a read costs the files
        written since the last."""
        import pyarrow.parquet as pq

        version = self._reading(table, version, record=record)
        dtab = (
            self._delta(table) if version is None else DeltaTable(self.path(table), version=version)
        )
        schema = _plain_arrow(pa.schema(dtab.schema().to_arrow()))
        if dtab.protocol().min_reader_version > 1:  # deletion vectors, column mapping: delta-rs
            from deltalake import QueryBuilder

            out = pa.table(QueryBuilder().register("t", dtab).execute("SELECT * FROM t"))
            return out.cast(_plain_arrow(out.schema))
        parts = dtab.metadata().partition_columns
        actions = pa.table(dtab.get_add_actions(flatten=True)).to_pylist()
        paths = [f"{self.path(table)}/{a['path']}" for a in actions]
        new = [p for p in paths if p not in self._files]
        with ThreadPoolExecutor(4) as pool:  # pyarrow reads without the GIL
            self._files.update(zip(new, pool.map(pq.read_table, new), strict=True))
        pieces = []
        for action, path in zip(actions, paths, strict=True):
            data = self._files[path]
            for c in parts:
                value = pa.array([action[f"partition.{c}"]] * data.num_rows)
                data = data.append_column(c, value.cast(schema.field(c).type))
            pieces.append(data.select([n for n in schema.names if n in data.column_names]))
        if not pieces:
            return schema.empty_table()
        out = pa.concat_tables(pieces, promote_options="permissive")
        missing = [f for f in schema if f.name not in out.column_names]  # added since
        for f in missing:
            out = out.append_column(f, pa.nulls(out.num_rows, f.type))
        return out.select(schema.names).cast(schema)

    def _reading(self, table: str, version: int | None, *, record: bool) -> int | None:
        """The version a read of ``table`` asks for (None: the latest), the read recorded for
        lineage unless ``record`` is False."""
        if not self.exists(table):
            raise FileNotFoundError(f"table {table} does not exist at {self.path(table)}")
        if version is None and self.pinned is not None and table not in UNPINNED:
            version = self.pinned.version(table)
            if version is None:
                raise FileNotFoundError(f"table {table} is not published yet")
        if self._run is not None and record:
            self._run.read(table, version if version is not None else self.version(table))
        return version

    def _read_version(
        self, table: str, version: int, *, partitions: Mapping[str, Collection[Any]] | None = None
    ) -> DataFrame:
        """One version of a table, read from the files delta-rs lists for it.

        Sail's time travel (``versionAsOf``) fails for some versions once the log has a
        checkpoint ("Missing commit file: expected version 0, found N": it misreads the
        ``_last_checkpoint`` hint), and Sail checkpoints every tenth commit. A version of a
        table without reader features (deletion vectors, column mapping) is exactly its data
        files, with partition values from the log: one scan per partition (Sail cannot tell
        which file a row came from), joined in a balanced tree (``union_all``). Tables with
        such features go through the engine's own time travel.
        """
        dtab = DeltaTable(self.path(table), version=version)
        if dtab.protocol().min_reader_version > 1:
            df = (
                self.spark.read.format("delta")
                .option("versionAsOf", version)
                .load(self.path(table))
            )
            return _in_partitions(df, partitions)
        schema = _plain(T.StructType.fromJson(json.loads(dtab.schema().to_json())))
        parts = dtab.metadata().partition_columns
        data = T.StructType([f for f in schema.fields if f.name not in parts])
        if not parts:
            files = dtab.file_uris()
            if not files:
                return self.spark.createDataFrame([], schema)
            return self.spark.read.schema(schema).parquet(*files)
        actions = pa.table(dtab.get_add_actions(flatten=True)).to_pylist()
        wanted = {c: set(v) for c, v in (partitions or {}).items()}
        groups: dict[tuple, list[str]] = {}
        for a in actions:
            if any(a.get(f"partition.{c}") not in v for c, v in wanted.items()):
                continue
            key = tuple(a.get(f"partition.{c}") for c in parts)
            groups.setdefault(key, []).append(f"{self.path(table)}/{a['path']}")
        frames = []
        for key, files in groups.items():
            df = self.spark.read.schema(data).parquet(*files)
            for c, v in zip(parts, key, strict=True):
                df = df.withColumn(c, F.lit(v).cast(schema[c].dataType))
            frames.append(df.select(*schema.names))
        if not frames:
            return self.spark.createDataFrame([], schema)
        return union_all(frames)

    # ---------------------------------------------------------------- writes
    def _conform(self, df: DataFrame, table: str) -> tuple[DataFrame, bool]:
        """Select the target's columns by name (typed nulls for ones df lacks).

        Returns the frame and whether it brings new columns (then the schema is merged).
        """
        if not self.exists(table):
            return df, False
        schema = self._delta(table).schema()
        target = schema.to_arrow()
        have = set(df.columns)
        spark_types = {}
        if not set(target.names) <= have:  # typed nulls, from the log (no request to the engine)
            spark = _plain(T.StructType.fromJson(json.loads(schema.to_json())))
            spark_types = {f.name: f.dataType for f in spark.fields}
        cols = [
            F.col(name) if name in have else F.lit(None).cast(spark_types[name]).alias(name)
            for name in target.names
        ]
        extra = [c for c in df.columns if c not in set(target.names)]
        return df.select(*cols, *extra), bool(extra)

    def read_schema(self, table: str) -> T.StructType:
        """The table's current Spark schema."""
        return self.spark.read.format("delta").load(self.path(table)).schema

    def _write(
        self,
        df: DataFrame,
        table: str,
        mode: str,
        options: Mapping[str, str],
        partition_by: list[str] | None,
        *,
        derive: bool = True,
    ) -> None:
        if derive:
            self._derive(table, df)
        self._before_write(table)
        df, new_columns = self._conform(df, table)
        writer = nullable(df).write.format("delta").mode(mode)
        for k, v in options.items():
            writer = writer.option(k, v)
        if new_columns:
            writer = writer.option("mergeSchema", "true")
        if partition_by and not self.exists(table):
            writer = writer.partitionBy(*partition_by)
        writer.save(self.path(table))
        if self._run is not None:
            self._run.wrote(table, self.version(table))

    def replace_slice(
        self,
        df: DataFrame,
        table: str,
        *,
        where: Mapping[str, Any],
        partition_by: list[str] | None = None,
    ) -> None:
        """Replace exactly the rows matching ``where`` (column = value, ANDed) with ``df``.

        Idempotent: writing the same frame for the same slice twice gives the same table.
        Rows of ``df`` outside the slice are not written (Sail's replaceWhere would write them).
        """
        if not where:
            raise ValueError("replace_slice needs a non-empty predicate")
        predicate = " AND ".join(f"`{c}` = {sql_literal(v)}" for c, v in where.items())
        in_slice = F.lit(True)
        for c, v in where.items():
            in_slice = in_slice & (F.col(c) == F.lit(v))
        # Sail cannot create a table through replaceWhere (it reads the absent log first).
        options = {"replaceWhere": predicate} if self.exists(table) else {}
        self._write(df.filter(in_slice), table, "overwrite", options, partition_by)

    def append(self, df: DataFrame, table: str, *, partition_by: list[str] | None = None) -> None:
        """Append ``df`` to the table (created on first write), recorded in the run's lineage."""
        self._write(df, table, "append", {}, partition_by)

    def overwrite(
        self, df: DataFrame, table: str, *, partition_by: list[str] | None = None
    ) -> None:
        """Replace the whole table (for tables rebuilt in full, e.g. the catalogue)."""
        self._write(df, table, "overwrite", {}, partition_by)

    def apply_changes(
        self,
        df: DataFrame,
        table: str,
        *,
        keys: list[str],
        changed_on: Any = None,
        scope: DataFrame | None = None,
        lineage: DataFrame | None = None,
    ) -> dict[str, int]:
        """Make ``table`` equal to ``df`` by writing only what changed (incremental rebuilds).

        Rows are compared by a hash of every column except ``_row_hash`` and ``_changed_on``;
        new and changed rows are upserted and rows whose key vanished are deleted, in one MERGE.
        ``_changed_on`` (set to ``changed_on``) tells when a row last changed. An unchanged
        rebuild writes nothing. Returns the counts of ``inserted_or_updated`` and ``deleted``.

        ``scope`` (a frame of ``keys``): ``df`` holds the rows of those keys only, and only they
        are compared, upserted or deleted; the rest of the table stays as it is (an incremental
        build of the entities a date touched).

        ``lineage``: a frame of the same columns whose plan says where they come from, when
        ``df`` is carried forward from the table itself (never computed, only analysed).
        """
        value_cols = [c for c in df.columns if c not in ("_row_hash", "_changed_on")]
        new = _as_changed(df, value_cols, changed_on)
        self._derive(
            table, new if lineage is None else _as_changed(lineage, value_cols, changed_on)
        )
        if not self.exists(table):
            self._write(new, table, "overwrite", {}, None, derive=False)
            return {"inserted_or_updated": self.read(table).count(), "deleted": 0}
        # each new row beside the old row of its key, materialised before anything is written
        old = self.read(table).select(
            *keys, F.col("_row_hash").alias("_old_hash"), F.col("_changed_on").alias("_old_on")
        )
        if scope is not None:
            old = old.join(scope.select(*keys), keys, "left_semi")
        joined = self.checkpoint(new.join(old, keys, "left"), f"changes-{table}")
        same = F.col("_old_hash").isNotNull() & (F.col("_old_hash") == F.col("_row_hash"))
        changed = joined.filter(~same).select(*new.columns)
        # both counts in one pass over the join: an old row is deleted when no new row has its
        # key (keys identify rows, as the MERGE requires), so deleted = old rows - matched ones;
        # the deleted keys themselves are materialised only for the MERGE, which needs them
        tally = joined.agg(
            F.count(F.when(~same, 1)).alias("changed"), F.count("_old_hash").alias("matched")
        ).first()
        counts = {
            "inserted_or_updated": int(tally["changed"]),
            "deleted": old.count() - int(tally["matched"]),
        }
        if any(counts.values()) and self._rewrite_is_cheaper(table, counts):
            # unchanged rows keep when they last changed: the table the MERGE would give
            # (its columns' lineage is new's, derived above: not the join's with the table)
            kept = F.when(same, F.col("_old_on")).otherwise(F.col("_changed_on"))
            out = joined.withColumn("_changed_on", kept).select(*new.columns)
            if scope is not None:  # with the rows outside the scope as they are
                rest = self.read(table).join(scope.select(*keys), keys, "left_anti")
                out = out.unionByName(rest.select(*new.columns))
            self._write(out, table, "overwrite", {}, None, derive=False)
            return counts
        self._merge_changes(table, keys, counts, gone=old, joined=joined, changed=changed)
        return counts

    def _merge_changes(self, table, keys, counts, *, gone, joined, changed) -> None:
        """``apply_changes`` by MERGE: delete the old rows (of ``gone``) that no row of
        ``joined`` has the key of, then upsert ``changed``."""
        on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
        # two statements: Sail does not resolve source columns in MERGE conditions
        if counts["deleted"]:
            deleted = gone.join(joined.select(*keys), keys, "left_anti").select(*keys)
            self._merge_sql(
                self.checkpoint(deleted, f"deletes-{table}"),
                table,
                f"ON {on} WHEN MATCHED THEN DELETE",
            )
        if counts["inserted_or_updated"]:
            cols = changed.columns
            sets = ", ".join(f"t.`{c}` = s.`{c}`" for c in cols)
            names = ", ".join(f"`{c}`" for c in cols)
            values = ", ".join(f"s.`{c}`" for c in cols)
            self._merge_sql(
                changed,
                table,
                f"ON {on} WHEN MATCHED THEN UPDATE SET {sets} "
                f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})",
            )
        if self._run is not None:
            self._run.wrote(table, self.version(table))

    def _rewrite_is_cheaper(self, table: str, counts: dict[str, int]) -> bool:
        """Whether writing the table anew costs less than the MERGEs. Each MERGE statement
        (deletions, then upserts) rewrites every file holding a row it touches; with the
        touched rows spread over the files, it rewrites a share ``1 - (1 - 1/files)^touched``
        of the table. When the statements together would rewrite at least the whole table
        (a few large files, as Sail writes them: any scattered change touches them all),
        one write of the table is cheaper (a full snapshot re-delivered in new files re-keys
        every reference to it, and MERGE would delete and re-insert most of the links)."""
        touched = counts["inserted_or_updated"] + counts["deleted"]
        dtab = self._delta(table)
        if dtab.metadata().partition_columns:
            return False
        files = pa.table(dtab.get_add_actions()).num_rows
        if files == 0:
            return True
        statements = bool(counts["inserted_or_updated"]) + bool(counts["deleted"])
        share = 1 - (1 - 1 / files) ** touched
        return share * statements >= 1

    def _merge_sql(self, source: DataFrame, table: str, clauses: str) -> None:
        self._before_write(table)
        view = f"_govlake_src_{uuid.uuid4().hex}"
        source.createOrReplaceTempView(view)
        try:
            self.spark.sql(
                f"MERGE INTO delta.`{self.path(table)}` AS t USING {view} AS s {clauses}"
            ).collect()
        finally:
            self.spark.catalog.dropTempView(view)

    def checkpoint(self, df: DataFrame, name: str = "checkpoint") -> DataFrame:
        """Materialise ``df`` as Parquet in the run's staging area and return a frame reading it.

        Sail plans a frame used by several branches once per branch, and it does not cut a long
        plan short: a plan that explodes candidates over a few hundred rows can be expanded over
        every row upstream. Reading a checkpoint back keeps later steps small and fast. Staged
        files are removed when the run ends (or with the next one).
        """
        if self._job_dir is None:
            self._job_dir = self.staging.job("adhoc")
        folder = self._job_dir / f"{name}-{uuid.uuid4().hex}"
        df.write.mode("overwrite").parquet(str(folder))
        lineage = self._lineage(df)
        if lineage is not None:  # a read of the checkpoint is a read of what it was made from
            self._staged[str(folder)] = lineage
        # with the frame's own schema: an empty frame leaves no Parquet file to read one from
        return self.spark.read.schema(df.schema).parquet(str(folder))

    # ---------------------------------------------------------------- all or nothing
    def take_lease(self, *, command: str | None = None, wait: float | None = None) -> None:
        """Hold the lake's writer lease while this object lives (jobs/platform/lease.py); every write
        takes it first if the command has not (and fails at once if another writer holds it)."""
        if self.pinned is not None:
            raise PermissionError("a published view of the lake is read-only")
        if not self._leased:
            lease.acquire(self.root, command=command, wait=wait)
            self._leased = True

    def _before_write(self, table: str) -> None:
        self.take_lease()
        faults.before_write()
        # lineage records what was attempted, a failed run included: it is never rolled back
        if self._undo is not None and table not in self._undo and not table.startswith("lineage."):
            self._undo[table] = self.version(table)

    @contextlib.contextmanager
    def all_or_nothing(self, what: str) -> Iterator[None]:
        """Writes inside either all stay, or, when the block raises, none do: every table
        written is restored to its version before the block (delta-rs ``restore``), and a table
        the block created is removed. Delta has no transaction over several tables; this makes
        an in-process failure leave no half-written slice (a killed process is caught by the
        writer's next run, which rewrites the slice). It relies on one writer at a time: a
        commit another writer made to the same table meanwhile would be undone too.
        """
        if self._undo is not None:
            raise RuntimeError(f"{what}: all_or_nothing blocks do not nest")
        self._undo, before = {}, None
        try:
            yield
        except BaseException as e:
            before, self._undo = self._undo, None
            problems = self._roll_back(before)
            if problems:
                raise RuntimeError(f"{what}: rolled back only in part: {problems}") from e
            raise
        finally:
            self._undo = None

    def _roll_back(self, before: dict[str, int | None]) -> list[str]:
        problems = []
        with self._handles_lock:
            self._handles.clear()
        for table, version in before.items():
            try:
                if version is None:
                    if self.exists(table):
                        shutil.rmtree(self.path(table))
                    continue
                dtab = DeltaTable(self.path(table))
                if dtab.version() != version:
                    dtab.restore(version)
                log.warning("rolled %s back to version %s", table, version)
            except Exception as e:  # keep restoring the others
                problems.append(f"{table}: {type(e).__name__}: {e}")
        with self._handles_lock:  # none may outlive a table removed above
            self._handles.clear()
        return problems

    # ---------------------------------------------------------------- column lineage
    def _lineage(self, df: DataFrame) -> list[column_lineage.Col] | None:
        """The columns of ``df`` with what they derive from (lineage/columns.py), or None."""
        try:
            plan = df._plan.plan(self.spark.client)  # the Spark Connect plan, built client-side
            return column_lineage.analyse(plan, self._resolve_read)
        except Exception:  # lineage must never fail a job; the coverage test notices gaps
            log.warning("column lineage of a write could not be derived", exc_info=True)
            return None

    def _resolve_read(self, path: str, options: dict[str, str]) -> list | None:
        path = path.removeprefix("file://").rstrip("/")
        if path in self._staged:
            return self._staged[path]
        rel = Path(path).resolve()
        # a table's folder, or one of its data files (a version read from its files)
        for folder in (rel, *rel.parents):
            if folder.parent.parent == self.root and not folder.parent.name.startswith("_"):
                break
        else:
            return None
        table = f"{folder.parent.name}.{folder.name}"
        if not DeltaTable.is_deltatable(str(folder)):
            return None
        leaves = [p for p, _ in delta.leaf_fields(self._handle(str(folder)).schema())]
        return column_lineage.table_columns(table, leaves)

    def _derive(self, table: str, df: DataFrame) -> None:
        if self._run is None or table.startswith("lineage."):
            return
        lineage = self._lineage(df)
        if lineage is not None:
            self._run.derived(table, column_lineage.edges(table, lineage))

    def derive_columns(self, table: str, edges: list[dict]) -> None:
        """Add column edges that no plan shows (a delivered field to its bronze column)."""
        if self._run is not None:
            self._run.derived(table, edges)

    # ---------------------------------------------------------------- runs and lineage
    @contextlib.contextmanager
    def run(
        self,
        job: str,
        *,
        business_date: dt.date | None = None,
        inputs: Mapping[str, int | None] | None = None,
    ) -> Iterator[RunRecord]:
        """Record one run of ``job``: every read and write inside is kept for lineage.

        ``inputs`` names inputs that are not lake tables (e.g. ``landing.gaj_hjrk``).
        On exit the run and its table edges are appended to lineage.runs / table_edges,
        with status ``success`` or ``failed`` (the exception is re-raised).
        """
        if self._run is not None:
            raise RuntimeError(f"run {job!r} started inside run {self._run.job!r}")
        record = RunRecord(job=job, business_date=business_date)
        for t, v in (inputs or {}).items():
            record.read(t, v)
        self._run = record
        if self._emitter is None:
            self._emitter = Emitter.configured(self.root)
        self._emitter.start(record)
        status = "failed"
        try:
            yield record
            status = "success"
        finally:
            self._run = None
            record.finish(status)
            self.finished_runs.append(record)
            self._persist_run(record)
            self._emitter.finish(record, self._dataset_schema)
            self._staged.clear()
            if self._job_dir is not None:
                self.staging.discard(self._job_dir)
                self._job_dir = None

    def _persist_run(self, record: RunRecord) -> None:
        runs = self.spark.createDataFrame([record.run_row()], RUNS_SCHEMA)
        self._write(runs, "lineage.runs", "append", {}, None)
        if record.status == "success" and record.columns:
            try:
                self._persist_column_edges(record)
            except Exception:  # e.g. a concurrent run replaced them first: the next run will
                log.warning("column lineage of run %s not saved", record.run_id, exc_info=True)
        edges = record.edge_rows()
        if edges:
            self._write(
                self.spark.createDataFrame(edges, EDGES_SCHEMA),
                "lineage.table_edges",
                "append",
                {},
                None,
            )

    def _dataset_schema(self, table: str) -> list[tuple[str, str]] | None:
        """[(column, type)] of a lake table, for OpenLineage's schema facet."""
        if not _TABLE_NAME.match(table) or not self.exists(table):
            return None
        return [(f.name, str(f.type)) for f in pa.schema(self._delta(table).schema())]

    def _persist_column_edges(self, record: RunRecord) -> None:
        """Replace the column edges of the tables the run wrote, when they changed.

        lineage.column_edges holds the current derivation of every column: it changes with the
        code, not with the data, so most runs find it unchanged and write nothing.
        """
        table = "lineage.column_edges"
        key = ("target_table", "target_column", "source_table", "source_column", "transform")
        new = [
            {**e, "job": record.job, "run_id": record.run_id}
            for rows in record.columns.values()
            for e in rows
        ]
        current: list[dict] = []
        if self.exists(table):
            current = delta.read_rows(self.path(table))
        kept = [e for e in current if e["target_table"] not in record.columns]
        before = {tuple(e[k] for k in key) for e in current if e["target_table"] in record.columns}
        if before == {tuple(e[k] for k in key) for e in new}:
            return
        rows = kept + new
        frame = self.spark.createDataFrame(
            [tuple(r[f.name] for f in COLUMN_EDGES_SCHEMA.fields) for r in rows],
            COLUMN_EDGES_SCHEMA,
        )
        self._write(frame, table, "overwrite", {}, None)
