"""一数一源: pick each attribute's value from its authoritative source, else the fallbacks.

Values are gathered as *claims*: (entity_id, attribute, source_id, value). Within one source a
value claimed by several records (duplicates, several insurance rows) is settled by majority,
then by the latest business date, then by the smallest value, so the pick is deterministic.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

CLAIM_COLUMNS = ["entity_id", "attribute", "source_id", "value", "_business_date"]


def pick(claims: DataFrame, order: dict[str, list[str]]) -> DataFrame:
    """(entity_id, attribute, value, source_id) from the best-ranked source with a value.

    ``order`` maps each attribute to its sources, authority first (conf/authority.yaml).
    """
    ranks = [(a, s, i) for a, sources in order.items() for i, s in enumerate(sources)]
    spark = claims.sparkSession
    rank = spark.createDataFrame(ranks, "attribute string, source_id string, rank int")
    votes = (
        claims.filter(F.col("value").isNotNull())
        .groupBy("entity_id", "attribute", "source_id", "value")
        .agg(F.count("*").alias("votes"), F.max("_business_date").alias("latest"))
    )
    ranked = votes.join(F.broadcast(rank), ["attribute", "source_id"])
    w = Window.partitionBy("entity_id", "attribute").orderBy(
        F.col("rank"), F.col("votes").desc(), F.col("latest").desc(), F.col("value")
    )
    return (
        ranked.withColumn("_n", F.row_number().over(w))
        .filter(F.col("_n") == 1)
        .select("entity_id", "attribute", "value", "source_id")
    )


def wide(picked: DataFrame, attributes: list[str], *, with_source: list[str]) -> DataFrame:
    """One row per entity: ``<attribute>`` and ``<attribute>_source`` columns."""
    aggs = []
    for a in attributes:
        aggs.append(F.max(F.when(F.col("attribute") == a, F.col("value"))).alias(a))
        if a in with_source:
            aggs.append(
                F.max(F.when(F.col("attribute") == a, F.col("source_id"))).alias(f"{a}_source")
            )
    return picked.groupBy("entity_id").agg(*aggs)
