"""**birth_not_registered** (时效性, 公安 responsible): a birth 卫健 certified ``lag_days`` or
more before the business date with no 户籍 record of a child of that birth date and sex in the
mother's household or the father's. One check per certificate whose parents' households are
known."""

from __future__ import annotations

from pydantic import Field
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.pipeline.base.person import birth_certificate_homes
from jobs.pipeline.quality.rules.common import Rule, RuleInputs, RuleSettings, checks


class Settings(RuleSettings):
    """``lag_days``: how long 公安 has to register a newborn (户口登记)."""

    lag_days: int = Field(60, ge=0)


def evaluate(x: RuleInputs, conf: Settings) -> DataFrame:
    """One check per certificate past the lag with a parent's household known."""
    homes = birth_certificate_homes(x.rows("wjw_cszm"), x.links, person=x.person).filter(
        F.col("cert").isNotNull()
        & F.col("birth_date").isNotNull()
        & F.col("sex").isNotNull()
        & x.days_ago(F.col("issued_on"), conf.lag_days)
    )
    kids = (
        x.person.filter(F.col("household_no").isNotNull())
        .select("household_no", "birth_date", "sex")
        .distinct()
        .withColumn("_in", F.lit(True))
    )
    kids = x.checkpoint(kids, "household-children")
    df = (
        homes.join(kids, ["household_no", "birth_date", "sex"], "left")
        .groupBy("cert")
        .agg(F.max(F.col("_in").isNotNull()).alias("_registered"))
    )
    return checks(
        df,
        "person",
        source_id=F.lit("gaj_hjrk"),
        entity_id="cert",
        attribute=F.lit("registration"),
        observed=F.when(F.col("_registered"), "registered"),
        expected=F.lit("registered"),
        authoritative_source=F.lit("wjw_cszm"),
        failed=~F.col("_registered"),
    )


RULE = Rule("birth_not_registered", Settings, evaluate, __doc__)
