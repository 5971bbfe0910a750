"""**licence_holder_unknown** (一致性, 政务服务 responsible): a licence the e-licence platform
issued whose holder is neither in 人口库 nor in 法人库. One check per platform licence."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.pipeline.quality.rules.common import Rule, RuleInputs, RuleSettings, checks, none


def evaluate(x: RuleInputs, conf: RuleSettings) -> DataFrame:
    """One check per licence issued by the platform."""
    lic = x.licence.filter(F.col("issued_by_platform") & F.col("licence_uid").isNotNull())
    return checks(
        lic,
        "licence",
        source_id=F.lit("zwfw_dzzz"),
        entity_id="licence_uid",
        attribute=F.lit("holder_code"),
        observed="holder_code",
        expected=none(),
        authoritative_source=F.when(F.col("holder_kind") == "legal_person", "scjgj_qydj").otherwise(
            "gaj_hjrk"
        ),
        failed=~F.coalesce(F.col("holder_known"), F.lit(False)),
    )


RULE = Rule("licence_holder_unknown", RuleSettings, evaluate, __doc__)
