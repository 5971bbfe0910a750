"""**employer_unknown** (一致性, 人社 responsible): an employer code in 参保 that no base library
knows. One check per distinct employer code delivered."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.pipeline.quality.rules.common import Rule, RuleInputs, RuleSettings, checks, none


def evaluate(x: RuleInputs, conf: RuleSettings) -> DataFrame:
    """One check per employer code of 参保."""
    refs = x.legal_person_link.filter(
        (F.col("source_id") == "rsj_sbcb") & (F.col("role") == "employer")
    )
    per = refs.groupBy("code_delivered").agg(F.max(F.col("uscc").isNotNull()).alias("_known"))
    return checks(
        per,
        "legal_person",
        source_id=F.lit("rsj_sbcb"),
        entity_id="code_delivered",
        attribute=F.lit("employer_uscc"),
        observed="code_delivered",
        expected=none(),
        authoritative_source=F.lit("scjgj_qydj"),
        failed=~F.col("_known"),
    )


RULE = Rule("employer_unknown", RuleSettings, evaluate, __doc__)
