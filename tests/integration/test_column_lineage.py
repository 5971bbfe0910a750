"""Column lineage derived from the plans of writes (lineage/columns.py through jobs/platform/lake.py)."""

from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.platform.delta import read_rows


def _sources(lake, table: str) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {}
    for e in read_rows(lake.root / "lineage" / "column_edges"):
        if e["target_table"] == table:
            out.setdefault(e["target_column"], set()).add((e["source_table"], e["source_column"]))
    return out


def _people(lake, spark):
    with lake.run("setup"):
        lake.overwrite(
            spark.createDataFrame(
                [("1", "张三", "A", ["x"]), ("2", "李四", "B", ["y"])],
                "id string, name string, code string, tags array<string>",
            ),
            "bronze.people",
        )
        lake.overwrite(
            spark.createDataFrame([("1", "北京"), ("3", "上海")], "id string, city string"),
            "bronze.places",
        )


def test_projections_structs_joins_and_constants(lake, spark):
    _people(lake, spark)
    with lake.run("build"):
        people, places = lake.read("bronze.people"), lake.read("bronze.places")
        codes = F.create_map(F.lit("A"), F.lit("甲"), F.lit("B"), F.lit("乙"))
        out = (
            people.join(places, "id", "left")
            .join(
                places.select(F.col("id").alias("gone")), F.col("id") == F.col("gone"), "left_anti"
            )
            .select(
                "id",
                F.struct(F.upper("name").alias("name"), F.col("city").alias("city")).alias("who"),
                codes[F.col("code")].alias("code_label"),
                F.transform("tags", lambda t: F.upper(t)).alias("tags"),
                F.lit("v1").alias("version"),
            )
        )
        lake.overwrite(lake.checkpoint(out, "mid"), "silver.people")
    got = _sources(lake, "silver.people")
    assert got["id"] == {("bronze.people", "id")}  # a left join keeps the left key
    assert got["who.name"] == {("bronze.people", "name")}
    assert got["who.city"] == {("bronze.places", "city")}
    assert got["code_label"] == {("bronze.people", "code")}  # a code-table lookup by key
    assert got["tags"] == {("bronze.people", "tags")}
    assert got["version"] == {("(constant)", "")}  # read back through a checkpoint


def test_a_union_of_claims_keeps_each_attribute_apart(lake, spark):
    """Values stacked as (attribute, value) and picked back with when(attribute = …) keep
    the lineage of their own branch (the base libraries' 一数一源 claims)."""
    _people(lake, spark)
    with lake.run("build"):
        people, places = lake.read("bronze.people"), lake.read("bronze.places")
        claims: DataFrame = reduce(
            DataFrame.unionByName,
            [
                people.select("id", F.lit("name").alias("attribute"), F.col("name").alias("value")),
                places.select("id", F.lit("city").alias("attribute"), F.col("city").alias("value")),
            ],
        )
        wide = claims.groupBy("id").agg(
            *(
                F.max(F.when(F.col("attribute") == a, F.col("value"))).alias(a)
                for a in ("name", "city")
            )
        )
        lake.overwrite(wide, "silver.wide")
    got = _sources(lake, "silver.wide")
    assert got["name"] == {("bronze.people", "name")}
    assert got["city"] == {("bronze.places", "city")}
    assert got["id"] == {("bronze.people", "id"), ("bronze.places", "id")}
