"""一数一源: pick each attribute's value from its authoritative source, else the fallbacks.

Values are gathered as *claims*: (entity_id, attribute, source_id, value). Within one source a
value claimed by several records (duplicates, several insurance rows) is settled by majority,
then by the latest business date, then by the smallest value, so the pick is deterministic.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lineage.columns import LINEAGE_HINT

CLAIM_COLUMNS = ["entity_id", "attribute", "source_id", "value", "_business_date"]


# the fixed-width prefix of a claim's key: rank, votes (descending), days (descending)
_RANK, _VOTES, _DAYS = 2, 9, 7
_DAY0 = 5_000_000  # days since 1970 lie within ±2.9M for years 1 to 9999: 7 digits either way
_SEP = "\u0000"  # ends the source id, which never holds one (a value may)


def pick(claims: DataFrame, order: dict[str, list[str]]) -> DataFrame:
    """(entity_id, attribute, value, source_id) from the best-ranked source with a value.

    ``order`` maps each attribute to its sources, authority first (conf/authority.yaml).
    """
    if any(len(sources) >= 10**_RANK for sources in order.values()):
        raise ValueError(
            f"an attribute has {10**_RANK} sources or more: the key holds {_RANK} digits"
        )
    ranks = [(a, s, i) for a, sources in order.items() for i, s in enumerate(sources)]
    spark = claims.sparkSession
    rank = spark.createDataFrame(ranks, "attribute string, source_id string, rank int")
    votes = (
        claims.filter(F.col("value").isNotNull())
        .groupBy("entity_id", "attribute", "source_id", "value")
        .agg(F.count("*").alias("votes"), F.max("_business_date").alias("latest"))
    )
    ranked = votes.join(F.broadcast(rank), ["attribute", "source_id"])
    # The best claim has the least text key, ordered as the ranking is: rank, then most votes,
    # then latest, then the source (one per rank) and the value (by its bytes, as Spark
    # orders text); the source and the value are decoded from it. One aggregate instead of a
    # window sorted on four columns (decision 84). The aliases tell the column lineage that
    # the key carries the value and the source (LINEAGE_HINT, lineage/columns.py).
    days = F.datediff(F.col("latest"), F.lit("1970-01-01").cast("date"))
    key = F.concat(
        F.lpad(F.col("rank").cast("string"), _RANK, "0"),
        F.lpad((F.lit(10**_VOTES - 1) - F.col("votes")).cast("string"), _VOTES, "0"),
        # latest first; no date (never the case) after any date, as a window puts nulls last
        F.coalesce(F.lpad((F.lit(_DAY0) - days).cast("string"), _DAYS, "0"), F.lit("9" * _DAYS)),
        F.col("source_id"),
        F.lit(_SEP),
        F.col("value"),
    )
    carries = {LINEAGE_HINT: {"value": "value", "source_id": "source_id"}}
    best = ranked.groupBy("entity_id", "attribute").agg(F.min(key).alias("_key", metadata=carries))
    rest = F.substring(F.col("_key"), _RANK + _VOTES + _DAYS + 1, 1 << 30)
    source = F.substring_index(rest, _SEP, 1)
    return best.select(
        "entity_id",
        "attribute",
        F.substring(rest, F.length(source) + 2, 1 << 30).alias(
            "value", metadata={LINEAGE_HINT: "_key.value"}
        ),
        source.alias("source_id", metadata={LINEAGE_HINT: "_key.source_id"}),
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
