"""**person_birth_mismatch** (准确性): a source's birth date for a linked person against the
authority's, compared to the month where the source delivers a month (参保); the authority's
own against what the ID number says. One check per delivered reference."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.pipeline import standardise as S
from jobs.pipeline.quality.rules.common import Rule, RuleInputs, RuleSettings
from jobs.pipeline.quality.rules.persons import against_authority


def evaluate(x: RuleInputs, conf: RuleSettings) -> DataFrame:
    """One check per reference stating a birth date or month."""
    month = F.coalesce(F.col("birth_precision"), F.lit("day")) == "month"

    def fmt(c: Column) -> Column:
        return F.when(month, F.date_format(c, "yyyy-MM")).otherwise(F.date_format(c, "yyyy-MM-dd"))

    return against_authority(
        x, "birth_date", stated=F.col("birth_date"), from_id=S.id_birth_date, fmt=fmt
    )


RULE = Rule("person_birth_mismatch", RuleSettings, evaluate, __doc__)
