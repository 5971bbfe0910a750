"""Helpers of the person rules: a source's statement beside the authority's, certified deaths."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.pipeline.quality.rules.common import RuleInputs, checks


def stated_vs_authority(
    x: RuleInputs, attribute: str, *, stated: Column, expected: Column
) -> DataFrame:
    """Links with a stated value, beside the person's authoritative value and its source."""
    p = x.person.select(
        "person_id",
        F.col(attribute).alias("_auth"),
        F.col(f"{attribute}_source").alias("_auth_source"),
    )
    links = x.links.filter(F.col("person_id").isNotNull()).withColumn("_stated", stated)
    links = links.filter(F.col("_stated").isNotNull()).join(p, "person_id")
    links = links.withColumn("_expected", expected)
    return links.filter(F.col("_expected").isNotNull()).withColumn(
        "_failed", F.col("_stated") != F.col("_expected")
    )


def against_authority(
    x: RuleInputs,
    attribute: str,
    *,
    stated: Column,
    from_id: Callable[[Column], Column],
    fmt: Callable[[Column], Column] | None = None,
) -> DataFrame:
    """Checks of each source's stated ``attribute`` against the person's authoritative value;
    the authority's own statement against what the ID number says (``from_id``)."""
    fmt = fmt or (lambda c: c)
    other = F.col("source_id") != F.col("_auth_source")
    df = stated_vs_authority(
        x,
        attribute,
        stated=fmt(stated),
        expected=fmt(F.when(other, F.col("_auth")).otherwise(from_id(F.col("person_id")))),
    )
    return checks(
        df,
        "person",
        source_id="source_id",
        entity_id="person_id",
        attribute=F.lit(attribute),
        observed="_stated",
        expected="_expected",
        authoritative_source=F.when(other, F.col("_auth_source")).otherwise(F.lit("id_number")),
        failed="_failed",
    )


def certified_deaths(x: RuleInputs, grace_days: int) -> DataFrame:
    """Persons whose death 卫健 certified at least ``grace_days`` before the business date."""
    return x.person.filter(
        F.col("is_deceased")
        & (F.col("is_deceased_source") == "wjw_swzm")
        & x.days_ago(F.col("death_date"), grace_days)
    )
