"""**legal_rep_mismatch** (准确性, 税务 responsible): the legal representative at 税务 is
another person than at 市场监管 (the authority): compared by linked ID number where both sides
are linked, else by name. One check per credit code both registries know."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.pipeline.quality.rules.common import Rule, RuleInputs, RuleSettings, checks


def evaluate(x: RuleInputs, conf: RuleSettings) -> DataFrame:
    """One check per credit code with a representative at both registries."""
    rec = x.legal_records.filter(F.col("uscc").isNotNull() & F.col("legal_rep_name").isNotNull())

    def side(source_id, prefix):
        return (
            rec.filter(F.col("source_id") == source_id)
            .groupBy("uscc")
            .agg(
                F.min("legal_rep_name").alias(f"{prefix}_name"),
                F.min("rep_person_id").alias(f"{prefix}_id"),
            )
        )

    df = side("scjgj_qydj", "reg").join(side("swj_swdj", "tax"), "uscc")
    both = F.col("reg_id").isNotNull() & F.col("tax_id").isNotNull()
    failed = F.when(both, F.col("reg_id") != F.col("tax_id")).otherwise(
        F.col("reg_name") != F.col("tax_name")
    )
    return checks(
        df,
        "legal_person",
        source_id=F.lit("swj_swdj"),
        entity_id="uscc",
        attribute=F.lit("legal_rep_name"),
        observed="tax_name",
        expected="reg_name",
        authoritative_source=F.lit("scjgj_qydj"),
        failed=failed,
    )


RULE = Rule("legal_rep_mismatch", RuleSettings, evaluate, __doc__)
