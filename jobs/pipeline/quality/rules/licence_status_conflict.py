"""**licence_status_conflict** (一致性, 政务服务 responsible): a valid platform licence of a type
that ends with its holder (``licence_types``: a 结婚证 or 出生医学证明 stays a record after a
death) whose holder died more than ``grace_days`` ago (a death with no date counts at once), or
whose enterprise was cancelled or revoked at 市场监管 more than ``grace_days`` ago. One check
per valid platform licence of those types with a known holder."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.pipeline.quality.rules.common import GraceSettings, Rule, RuleInputs, checks
from jobs.pipeline.quality.rules.legal_persons import registration_status


class Settings(GraceSettings):
    """``licence_types``: the types that end with their holder (all types when empty)."""

    licence_types: tuple[str, ...] = ()


def _holders_gone(x: RuleInputs, grace_days: int) -> tuple[DataFrame, DataFrame]:
    """(holder_code, _p) of persons dead past the grace, and (holder_code, _l) of enterprises
    closed past it."""
    dead = x.person.filter(
        F.col("is_deceased") & F.coalesce(x.days_ago(F.col("death_date"), grace_days), F.lit(True))
    ).select(F.col("person_id").alias("holder_code"), F.lit("deceased").alias("_p"))
    closed = x.legal_person.filter(
        F.col("reg_status").isin("cancelled", "revoked") & F.col("uscc").isNotNull()
    ).select(F.col("uscc").alias("holder_code"), F.col("reg_status").alias("_l"))
    # an enterprise closed at 市场监管 within the grace period: the platform follows within days
    recent = registration_status(x).filter(
        ~F.coalesce(x.days_ago(F.col("since"), grace_days), F.lit(True))
    )
    closed = closed.join(
        recent.select(F.col("uscc").alias("holder_code")), "holder_code", "left_anti"
    )
    return dead, closed


def evaluate(x: RuleInputs, conf: Settings) -> DataFrame:
    """One check per valid platform licence of the listed types with a known holder."""
    types = list(conf.licence_types)
    lic = x.licence.filter(
        F.col("issued_by_platform")
        & F.col("licence_uid").isNotNull()
        & (F.col("licence_type").isin(*types) if types else F.lit(True))
        # 有效 on the platform (silver calls it expired once past its valid-to date)
        & F.col("status").isin("valid", "expired")
        & F.coalesce(F.col("holder_known"), F.lit(False))
    )
    dead, closed = _holders_gone(x, conf.grace_days)
    df = lic.join(dead, "holder_code", "left").join(closed, "holder_code", "left")
    df = df.withColumn("_life", F.coalesce("_p", "_l"))
    return checks(
        df,
        "licence",
        source_id=F.lit("zwfw_dzzz"),
        entity_id="licence_uid",
        attribute=F.lit("status"),
        observed="status",
        expected=F.when(F.col("_life").isNotNull(), "cancelled").otherwise("valid"),
        # the registry of the holder's life: 卫健 for a person, 市场监管 for an enterprise
        authoritative_source=F.when(F.col("_p").isNotNull(), "wjw_swzm")
        .when(F.col("_l").isNotNull(), "scjgj_qydj")
        .when(F.col("holder_kind") == "legal_person", "scjgj_qydj")
        .otherwise("wjw_swzm"),
        failed=F.col("_life").isNotNull(),
    )


RULE = Rule("licence_status_conflict", Settings, evaluate, __doc__)
