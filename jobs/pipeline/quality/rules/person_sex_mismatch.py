"""**person_sex_mismatch** (准确性): a source's sex for a linked person against the authority's;
the authority's own against what the ID number says. 未知 (0) and 未说明 (9) state nothing and
are not checked. One check per delivered reference."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.pipeline import standardise as S
from jobs.pipeline.quality.rules.common import Rule, RuleInputs, RuleSettings
from jobs.pipeline.quality.rules.persons import against_authority


def evaluate(x: RuleInputs, conf: RuleSettings) -> DataFrame:
    """One check per reference stating a sex."""
    stated = F.when(~F.col("sex").isin("0", "9"), F.col("sex"))
    return against_authority(x, "sex", stated=stated, from_id=S.id_sex)


RULE = Rule("person_sex_mismatch", RuleSettings, evaluate, __doc__)
