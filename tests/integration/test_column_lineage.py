"""Column lineage derived from the plans of writes (lineage/columns.py through jobs/platform/lake.py)."""

from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.platform.delta import read_rows
from lineage.columns import LINEAGE_HINT


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


def test_a_value_carried_in_a_sort_key_keeps_its_own_lineage(lake, spark):
    """A value encoded in a sort key and decoded after an aggregate (the 一数一源 pick) has the
    lineage its alias names (LINEAGE_HINT), and each attribute's branch of a union of claims
    stays apart through it; without the hint, everything in the key would be a source."""
    _people(lake, spark)
    with lake.run("build"):
        people, places = lake.read("bronze.people"), lake.read("bronze.places")
        claims: DataFrame = reduce(
            DataFrame.unionByName,
            [
                people.select(
                    "id",
                    F.lit("name").alias("attribute"),
                    F.col("name").alias("value"),
                    F.col("code").alias("rank"),
                ),
                places.select(
                    "id",
                    F.lit("city").alias("attribute"),
                    F.col("city").alias("value"),
                    F.col("id").alias("rank"),
                ),
            ],
        )
        key = F.concat(F.col("rank"), F.lit("|"), F.col("value"))
        carries = {LINEAGE_HINT: {"value": "value", "rank": "rank"}}
        best = claims.groupBy("id", "attribute").agg(
            F.min(key).alias("_key", metadata=carries), F.min(key).alias("unhinted")
        )
        decoded = best.select(
            "id",
            "attribute",
            F.substring_index("_key", "|", -1).alias(
                "value", metadata={LINEAGE_HINT: "_key.value"}
            ),
            F.substring_index("_key", "|", 1).alias("rank", metadata={LINEAGE_HINT: "_key.rank"}),
            "unhinted",
        )
        wide = decoded.groupBy("id").agg(
            *(
                F.max(F.when(F.col("attribute") == a, F.col("value"))).alias(a)
                for a in ("name", "city")
            ),
            F.max("rank").alias("rank"),
            F.max("unhinted").alias("unhinted"),
        )
        lake.overwrite(wide, "silver.wide")
    got = _sources(lake, "silver.wide")
    assert got["name"] == {("bronze.people", "name")}
    assert got["city"] == {("bronze.places", "city")}
    assert got["rank"] == {("bronze.people", "code"), ("bronze.places", "id")}
    assert got["unhinted"] == {
        ("bronze.people", "name"),
        ("bronze.people", "code"),
        ("bronze.places", "city"),
        ("bronze.places", "id"),
    }
    assert sorted(lake.read("silver.wide").collect()) == [
        ("1", "张三", "北京", "A", "A|张三"),
        ("2", "李四", None, "B", "B|李四"),
        ("3", None, "上海", "3", "3|上海"),
    ]
