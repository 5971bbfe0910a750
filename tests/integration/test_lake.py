"""jobs/platform/lake.py on real Sail + Delta: each guard against a Sail behaviour has a test here that
fails without it (../shared/CONVENTIONS.md), plus merge, time travel, history and lineage."""

from __future__ import annotations

import datetime as dt

import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F

D1, D2 = dt.date(2026, 11, 2), dt.date(2026, 11, 3)


def frame(spark, rows):
    return spark.createDataFrame(rows, "id int, v string, d date")


def rows_of(lake, table):
    return sorted(tuple(r) for r in lake.read(table).select("id", "v", "d").collect())


def test_replace_slice_writes_only_rows_inside_the_predicate(lake, spark):
    lake.replace_slice(
        frame(spark, [(1, "a", D1), (2, "b", D2)]), "t.x", where={"d": D1}, partition_by=["d"]
    )
    # Sail's replaceWhere would also write (9, D2): the guard filters first
    lake.replace_slice(frame(spark, [(3, "c", D1), (9, "outside", D2)]), "t.x", where={"d": D1})
    assert rows_of(lake, "t.x") == [(3, "c", D1)]


def test_replace_slice_leaves_other_slices_alone(lake, spark):
    """No dynamic partition overwrite: replacing one date never touches another."""
    lake.replace_slice(frame(spark, [(1, "a", D1)]), "t.x", where={"d": D1}, partition_by=["d"])
    lake.replace_slice(frame(spark, [(2, "b", D2)]), "t.x", where={"d": D2})
    lake.replace_slice(frame(spark, [(3, "c", D1)]), "t.x", where={"d": D1})
    assert rows_of(lake, "t.x") == [(2, "b", D2), (3, "c", D1)]


def test_replace_slice_is_idempotent(lake, spark):
    for _ in range(2):
        lake.replace_slice(frame(spark, [(1, "a", D1), (2, "b", D1)]), "t.x", where={"d": D1})
    assert rows_of(lake, "t.x") == [(1, "a", D1), (2, "b", D1)]


def test_replace_slice_with_no_rows_empties_the_slice(lake, spark):
    lake.replace_slice(frame(spark, [(1, "a", D1), (2, "b", D2)]), "t.x", where={"d": D1})
    lake.replace_slice(frame(spark, [(2, "b", D2)]), "t.x", where={"d": D2})
    lake.replace_slice(frame(spark, []), "t.x", where={"d": D1})
    assert rows_of(lake, "t.x") == [(2, "b", D2)]


def test_columns_from_lit_are_stored_nullable(lake, spark):
    df = spark.range(2).withColumn("status", F.lit("open"))
    lake.overwrite(df, "t.n")
    assert all(f.nullable for f in DeltaTable(lake.path("t.n")).schema().fields)
    # without the guard Sail stores `status` NOT NULL and this append fails
    lake.append(spark.createDataFrame([(5, None)], "id long, status string"), "t.n")
    assert sorted(r["id"] for r in lake.read("t.n").filter(F.col("status").isNull()).collect()) == [
        5
    ]


def test_reads_give_columns_in_the_declared_order(lake, spark):
    """Sail moves partition columns to the end; a positional union would shift values."""
    df = spark.createDataFrame([(D1, 1, "a")], "d date, id int, v string")
    lake.replace_slice(df, "t.p", where={"d": D1}, partition_by=["d"])
    assert lake.read("t.p").columns == ["id", "v", "d"]  # the Sail behaviour guarded against
    declared = lake.read("t.p", columns=df.columns)
    assert declared.columns == ["d", "id", "v"]
    both = declared.union(spark.createDataFrame([(D2, 2, "b")], "d date, id int, v string"))
    assert sorted(tuple(r) for r in both.collect()) == [(D1, 1, "a"), (D2, 2, "b")]


def test_writes_select_the_targets_columns_by_name(lake, spark):
    lake.replace_slice(frame(spark, [(1, "a", D1)]), "t.p", where={"d": D1}, partition_by=["d"])
    later = spark.createDataFrame([(D2, "b", 2)], "d date, v string, id int")  # another order
    lake.replace_slice(later, "t.p", where={"d": D2})
    assert rows_of(lake, "t.p") == [(1, "a", D1), (2, "b", D2)]
    # a frame missing a column gets a typed null; a new column extends the schema
    lake.append(spark.createDataFrame([(3, D2, "z")], "id int, d date, extra string"), "t.p")
    got = {r["id"]: (r["v"], r["extra"]) for r in lake.read("t.p").collect()}
    assert got[3] == (None, "z") and got[1] == ("a", None)


def test_time_travel_history_and_vacuum(lake, spark):
    lake.overwrite(frame(spark, [(1, "a", D1)]), "t.h")
    lake.overwrite(frame(spark, [(2, "b", D1)]), "t.h")
    assert lake.version("t.h") == 1
    assert [r["id"] for r in lake.read("t.h", version=0).collect()] == [1]
    assert len(lake.history("t.h")) == 2
    stale = lake.vacuum("t.h", retention_hours=0, dry_run=True)
    assert len(stale) == 1  # the file of version 0
    lake.vacuum("t.h", retention_hours=0, dry_run=False)
    assert [r["id"] for r in lake.read("t.h").collect()] == [2]


def test_every_read_and_write_of_a_run_is_recorded(lake, spark):
    lake.overwrite(frame(spark, [(1, "a", D1)]), "t.src")
    with lake.run("job.copy", business_date=D1, inputs={"landing.x": None}) as run:
        lake.overwrite(lake.read("t.src"), "t.dst")
    runs = lake.read("lineage.runs").collect()
    assert [(r["job"], r["status"], r["business_date"]) for r in runs] == [
        ("job.copy", "success", D1)
    ]
    assert runs[0]["inputs"] == "landing.x@,t.src@0" and runs[0]["outputs"] == "t.dst@0"
    assert runs[0]["code_version"]
    edges = sorted(
        (r["source_table"], r["source_version"], r["target_table"], r["target_version"])
        for r in lake.read("lineage.table_edges").filter(F.col("run_id") == run.run_id).collect()
    )
    assert edges == [("landing.x", None, "t.dst", 0), ("t.src", 0, "t.dst", 0)]


def test_a_failed_run_is_recorded_as_failed(lake, spark):
    with pytest.raises(RuntimeError, match="boom"), lake.run("job.broken"):
        raise RuntimeError("boom")
    assert [r["status"] for r in lake.read("lineage.runs").collect()] == ["failed"]


def test_table_names_are_checked(lake):
    with pytest.raises(ValueError):
        lake.path("../etc/passwd")


def test_checkpoint_keeps_the_schema_of_an_empty_frame(lake, spark):
    empty = spark.createDataFrame([], "id int, v string")
    back = lake.checkpoint(empty, "empty")
    assert back.columns == ["id", "v"] and back.count() == 0


@pytest.mark.parametrize("rewrite", [False, True], ids=["merge", "rewrite"])
def test_apply_changes_writes_only_what_changed(lake, spark, monkeypatch, rewrite):
    """Both ways of writing the changes (MERGEs, or the table written anew when the MERGEs
    would rewrite about all of it) give the same table, ``_changed_on`` included."""
    monkeypatch.setattr(type(lake), "_rewrite_is_cheaper", lambda self, table, counts: rewrite)
    d1, d2 = dt.date(2026, 11, 2), dt.date(2026, 11, 3)
    df = lambda rows: spark.createDataFrame(rows, "id int, v string")  # noqa: E731
    assert lake.apply_changes(
        df([(1, "a"), (2, "b"), (3, "c")]), "t.c", keys=["id"], changed_on=d1
    ) == {"inserted_or_updated": 3, "deleted": 0}
    assert lake.apply_changes(
        df([(1, "a"), (2, "B"), (4, "d")]), "t.c", keys=["id"], changed_on=d2
    ) == {"inserted_or_updated": 2, "deleted": 1}
    got = sorted((r["id"], r["v"], r["_changed_on"]) for r in lake.read("t.c").collect())
    assert got == [(1, "a", d1), (2, "B", d2), (4, "d", d2)]
    version = lake.version("t.c")
    assert lake.apply_changes(
        df([(1, "a"), (2, "B"), (4, "d")]), "t.c", keys=["id"], changed_on=d2
    ) == {"inserted_or_updated": 0, "deleted": 0}
    assert lake.version("t.c") == version  # an unchanged rebuild writes nothing
    d3 = dt.date(2026, 11, 4)
    keyed = lambda rows: spark.createDataFrame(rows, "k string, id int, v string")  # noqa: E731
    lake.apply_changes(
        keyed([(None, 1, "a"), ("x", 2, "b")]), "t.n", keys=["k", "id"], changed_on=d1
    )
    assert lake.apply_changes(
        keyed([(None, 1, "a"), ("x", 2, "B"), ("y", 3, "c")]),
        "t.n",
        keys=["k", "id"],
        changed_on=d3,
    ) == {"inserted_or_updated": 3, "deleted": 1}
    got = sorted((r["id"], r["v"], r["_changed_on"]) for r in lake.read("t.n").collect())
    assert got == [(1, "a", d3), (2, "B", d3), (3, "c", d3)]  # a null key is never the same


def test_time_travel_reads_every_version_after_checkpoints(lake, spark):
    """Sail's versionAsOf fails for some versions once a log has a checkpoint (Sail writes one
    every tenth commit; maintenance adds more): Lake.read(version=) reads a version's files."""
    import datetime as dt

    from deltalake import DeltaTable

    for i in range(12):
        day = dt.date(2026, 11, 1 + i % 3)
        lake.append(
            spark.createDataFrame([(i, day)], "x int, d date"), "bronze.tt", partition_by=["d"]
        )
        lake.append(spark.createDataFrame([(i,)], "x int"), "silver.tt")
        if i == 4:
            DeltaTable(lake.path("silver.tt")).create_checkpoint()
    sail_fails = []
    for v in range(12):
        try:
            spark.read.format("delta").option("versionAsOf", v).load(lake.path("silver.tt")).count()
        except Exception:  # noqa: BLE001 - the behaviour guarded against
            sail_fails.append(v)
        rows = lake.read("bronze.tt", version=v).collect()
        assert len(rows) == v + 1 and {r["d"] for r in rows} <= {
            dt.date(2026, 11, d) for d in (1, 2, 3)
        }
        assert sorted(r["x"] for r in lake.read("silver.tt", version=v).collect()) == list(
            range(v + 1)
        )
    assert sail_fails, "Sail's time travel works now: Lake._read_version can go"


def test_time_travel_of_a_table_with_years_of_partitions(lake, spark):
    """A version of a partitioned table is read partition by partition (the values come from
    the log); chained one after another, the unions of 400 dates crashed the process."""
    days = 400
    df = spark.range(days * 3).select(
        F.col("id").cast("int").alias("x"),
        F.date_add(F.lit(D1), (F.col("id") % days).cast("int")).alias("d"),
    )
    lake.append(df, "bronze.years", partition_by=["d"])
    lake.append(spark.createDataFrame([(-1, D1)], "x int, d date"), "bronze.years")
    old = lake.read("bronze.years", version=0)
    assert old.count() == days * 3
    last = D1 + dt.timedelta(days=days - 1)
    assert sorted(r["x"] for r in old.filter(F.col("d") == F.lit(last)).collect()) == [
        days - 1,
        2 * days - 1,
        3 * days - 1,
    ]


def test_a_read_of_some_partitions_is_the_same_rows_as_a_filter(lake, spark):
    days = [D1 + dt.timedelta(days=i) for i in range(5)]
    for i, day in enumerate(days):
        lake.append(
            spark.createDataFrame([(i, day), (10 + i, day)], "x int, d date"),
            "bronze.parts",
            partition_by=["d"],
        )
    picked = {"d": [days[1], days[3], D1 - dt.timedelta(days=1)]}
    for version in (None, 2, 4):
        whole = lake.read("bronze.parts", version=version)
        some = lake.read("bronze.parts", version=version, partitions=picked)
        assert sorted(map(tuple, some.collect())) == sorted(
            map(tuple, whole.filter(F.col("d").isin(picked["d"])).collect())
        )
    assert lake.read("bronze.parts", version=0, partitions={"d": [days[4]]}).count() == 0
    with pytest.raises(ValueError, match="not partitioned by"):
        lake.read("bronze.parts", partitions={"x": [1]})


def test_a_failed_block_leaves_no_table_it_created_and_no_write(lake, spark):
    """Lake.exists answers from the handles it keeps: none may outlive a table rolled back."""
    lake.append(frame(spark, [(1, "a", D1)]), "silver.kept")
    with pytest.raises(RuntimeError, match="boom"):
        with lake.all_or_nothing("a test"):
            lake.append(frame(spark, [(2, "b", D2)]), "silver.kept")
            lake.append(frame(spark, [(3, "c", D2)]), "silver.made")
            assert lake.exists("silver.made") and lake.version("silver.made") == 0
            raise RuntimeError("boom")
    assert not lake.exists("silver.made") and lake.version("silver.made") is None
    assert rows_of(lake, "silver.kept") == [(1, "a", D1)]


def test_a_merge_is_kept_for_changes_that_touch_few_of_many_files(lake, spark):
    """The cost model: a MERGE rewrites the files holding the rows it touches."""
    rows = lambda ids: spark.createDataFrame([(i, "v") for i in ids], "id int, v string")  # noqa: E731
    for part in range(12):  # a table of 12 files
        lake.append(rows(range(part * 10, part * 10 + 10)), "t.many")
    cheaper = lambda **c: lake._rewrite_is_cheaper("t.many", c)  # noqa: E731
    assert not cheaper(inserted_or_updated=2, deleted=0)
    assert cheaper(inserted_or_updated=60, deleted=60)
