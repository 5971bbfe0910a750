"""**marital_status_mismatch** (一致性, 公安 responsible): the 户籍 marital status is in another
category than the person's latest marriage registration implies: IA → 已婚, or 丧偶 when the
spouse has died since; IB → 离婚. A registration or a spouse's death within ``grace_days`` is
not yet expected in 户籍. One check per person with both a registration and a 户籍 status."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.pipeline import standardise as S
from jobs.pipeline.base.person import latest_marriage_events, subject_rows
from jobs.pipeline.quality.rules.common import GraceSettings, Rule, RuleInputs, checks


def _implied_status(x: RuleInputs, grace_days: int) -> DataFrame:
    """(person_id, implied, _recent) from the latest IA/IB registration of each person."""
    events = latest_marriage_events(x.rows("mzj_hydj"), x.links, as_of=x.as_of)
    spouse = x.person.select(
        F.col("person_id").alias("spouse_id"), F.col("death_date").alias("spouse_death")
    )
    events = events.join(spouse, "spouse_id", "left")
    widowed = F.col("spouse_death").isNotNull()
    implied = (
        F.when((F.col("event") == "IA") & widowed, "widowed")
        .when(F.col("event") == "IA", "married")
        .when(F.col("event") == "IB", "divorced")
    )
    # 户籍 records a marriage, a divorce or a spouse's death within the grace period
    recent = ~x.days_ago(F.col("event_date"), grace_days) | (
        widowed & ~x.days_ago(F.col("spouse_death"), grace_days)
    )
    return events.select("person_id", implied.alias("implied"), recent.alias("_recent"))


def evaluate(x: RuleInputs, conf: GraceSettings) -> DataFrame:
    """One check per person whose registration is settled and who has a 户籍 status."""
    events = _implied_status(x, conf.grace_days)
    hjrk = x.rows("gaj_hjrk").select(
        "_file",
        "_row_number",
        S.delivered("gaj_hjrk", "marital_status").alias("code"),
    )
    rows = subject_rows(hjrk, x.links, source_id="gaj_hjrk").filter(F.col("code").isNotNull())
    rows = rows.groupBy("person_id").agg(F.min("code").alias("code"))
    df = rows.join(events, "person_id").filter(F.col("implied").isNotNull() & ~F.col("_recent"))
    df = df.withColumn("_cat", S.marital_category(F.col("code")))
    return checks(
        df,
        "person",
        source_id=F.lit("gaj_hjrk"),
        entity_id="person_id",
        attribute=F.lit("marital_status"),
        observed="code",
        expected="implied",
        authoritative_source=F.lit("mzj_hydj"),
        failed=F.col("_cat") != F.col("implied"),
    )


RULE = Rule("marital_status_mismatch", GraceSettings, evaluate, __doc__)
