"""**enterprise_status_conflict** (一致性, 税务 responsible): an enterprise cancelled or revoked
at 市场监管 more than ``grace_days`` ago but not cancelled (07) at 税务, or cancelled at 税务
but active at 市场监管. One check per credit code both registries know."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.pipeline.quality.rules.common import GraceSettings, Rule, RuleInputs, checks
from jobs.pipeline.quality.rules.legal_persons import registration_status


def evaluate(x: RuleInputs, conf: GraceSettings) -> DataFrame:
    """One check per credit code with a status at both registries (recent closures wait)."""
    rec = x.legal_records.filter(F.col("uscc").isNotNull())
    reg = registration_status(x)
    tax = (
        rec.filter((F.col("source_id") == "swj_swdj") & F.col("tax_status").isNotNull())
        .groupBy("uscc")
        .agg(F.max("tax_status").alias("tax_status"))
    )
    df = reg.join(tax, "uscc").filter(F.col("reg_status").isNotNull())
    closed = F.col("reg_status").isin("cancelled", "revoked")
    settled = F.col("since").isNull() | x.days_ago(F.col("since"), conf.grace_days)
    failed = (closed & settled & (F.col("tax_status") != "cancelled")) | (
        (F.col("reg_status") == "active") & (F.col("tax_status") == "cancelled")
    )
    expected = F.when(closed, "cancelled").otherwise("not cancelled")
    return checks(
        df.filter(~closed | settled),
        "legal_person",
        source_id=F.lit("swj_swdj"),
        entity_id="uscc",
        attribute=F.lit("tax_status"),
        observed="tax_status",
        expected=expected,
        authoritative_source=F.lit("scjgj_qydj"),
        failed=failed,
    )


RULE = Rule("enterprise_status_conflict", GraceSettings, evaluate, __doc__)
