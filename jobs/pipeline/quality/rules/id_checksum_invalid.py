"""**id_checksum_invalid** (规范性): every 18-character ID number delivered, after trimming,
half-width and upper-casing ``x``, is checked against its GB 11643 check character. A wrong one
is a finding against the source that delivered it, once per distinct wrong number (two wrong
numbers delivered for one person are two findings); ``expected`` is the number of the person
linking repaired it to, when it could."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.pipeline import standardise as S
from jobs.pipeline.quality.rules.common import Rule, RuleInputs, RuleSettings, checks, none


def evaluate(x: RuleInputs, conf: RuleSettings) -> DataFrame:
    """One check per delivered 18-character number."""
    refs = x.links.filter(F.col("id_delivered").rlike("^[0-9]{17}[0-9X]$"))
    refs = refs.withColumn("_check", S.id_check_char(F.substring("id_delivered", 1, 17)))
    refs = refs.withColumn("_bad", F.substring("id_delivered", 18, 1) != F.col("_check"))
    repaired = F.col("match_method").isin("repaired_id", "probabilistic")
    return checks(
        refs,
        "person",
        source_id="source_id",
        entity_id=F.when(F.col("_bad"), F.coalesce("person_id", "id_delivered")).otherwise(
            F.col("id_delivered")
        ),
        attribute=F.lit("id_number"),
        observed="id_delivered",
        expected=F.when(F.col("_bad") & repaired, F.col("person_id")),
        authoritative_source=none(),
        failed="_bad",
    )


RULE = Rule("id_checksum_invalid", RuleSettings, evaluate, __doc__, per_value=True)
