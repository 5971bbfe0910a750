"""**death_not_deregistered** (时效性, 公安 responsible): a death 卫健 certified more than
``grace_days`` before the business date whose person is still 正常 in any of their own 户籍
records. One check per certified death that has a 户籍 record."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.pipeline import standardise as S
from jobs.pipeline.base.person import subject_rows
from jobs.pipeline.quality.rules.common import GraceSettings, Rule, RuleInputs, checks
from jobs.pipeline.quality.rules.persons import certified_deaths


def evaluate(x: RuleInputs, conf: GraceSettings) -> DataFrame:
    """One check per certified death past the grace period with a 户籍 record."""
    dead = certified_deaths(x, conf.grace_days).select("person_id")
    hjrk = x.rows("gaj_hjrk").select(
        "_file", "_row_number", S.delivered("gaj_hjrk", "reg_status").alias("st")
    )
    status = (
        subject_rows(hjrk, x.links, source_id="gaj_hjrk")
        .join(dead, "person_id")
        .groupBy("person_id")
        .agg(F.max(F.col("st") == "active").alias("_active"))
    )
    return checks(
        status,
        "person",
        source_id=F.lit("gaj_hjrk"),
        entity_id="person_id",
        attribute=F.lit("reg_status"),
        observed=F.when(F.col("_active"), "active").otherwise("deregistered"),
        expected=F.lit("deceased"),
        authoritative_source=F.lit("wjw_swzm"),
        failed="_active",
    )


RULE = Rule("death_not_deregistered", GraceSettings, evaluate, __doc__)
