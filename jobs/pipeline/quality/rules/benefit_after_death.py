"""**benefit_after_death** (一致性, 人社 responsible): a person whose death was certified more
than ``grace_days`` ago still receiving benefits (待遇享受状态 = 1) in any 参保 enrolment. One
check per certified death that has an enrolment."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.pipeline import standardise as S
from jobs.pipeline.base.person import subject_rows
from jobs.pipeline.quality.rules.common import GraceSettings, Rule, RuleInputs, checks
from jobs.pipeline.quality.rules.persons import certified_deaths


def evaluate(x: RuleInputs, conf: GraceSettings) -> DataFrame:
    """One check per certified death past the grace period with a 参保 enrolment."""
    dead = certified_deaths(x, conf.grace_days).select("person_id")
    rows = x.rows("rsj_sbcb").select(
        "_file",
        "_row_number",
        S.delivered("rsj_sbcb", "receiving_benefits").alias("benefits"),
    )
    per = (
        subject_rows(rows, x.links, source_id="rsj_sbcb")
        .join(dead, "person_id")
        .groupBy("person_id")
        .agg(F.max(F.col("benefits") == "true").alias("_receiving"))
    )
    per = per.withColumn("_receiving", F.coalesce("_receiving", F.lit(False)))
    return checks(
        per,
        "person",
        source_id=F.lit("rsj_sbcb"),
        entity_id="person_id",
        attribute=F.lit("receiving_benefits"),
        observed=F.when(F.col("_receiving"), "1").otherwise("0"),
        expected=F.lit("0"),
        authoritative_source=F.lit("wjw_swzm"),
        failed="_receiving",
    )


RULE = Rule("benefit_after_death", GraceSettings, evaluate, __doc__)
