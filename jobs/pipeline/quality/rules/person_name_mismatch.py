"""**person_name_mismatch** (准确性): each source's name for a linked person against the
authority's (户籍, the first source of conf/authority.yaml). Where the authority has no record
of the person, against the name most sources agree on (ties: the better-ranked source), so
that one department's odd name is held against that department rather than against every
other. Each distinct name a source holds for a person is checked, so a source with a right and
a wrong record of the same person is reported for the wrong one (one finding per person and
source, however many records repeat it).

Only a valid name (no markup, formula triggers or control characters:
``jobs.pipeline.standardise.valid_name``) can be expected: an invalid one is never chosen, by
authority or by vote, and is itself a finding against the source that delivered it (expected
left empty when no source has a valid name)."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.pipeline import standardise as S
from jobs.pipeline.quality.rules.common import Rule, RuleInputs, RuleSettings, checks
from jobs.platform import settings


def _names_per_source(x: RuleInputs) -> DataFrame:
    order = list(settings.authority().person["name"])
    rank = F.create_map(*[v for i, s in enumerate(order) for v in (F.lit(s), F.lit(i))])
    per = (
        x.links.filter(F.col("person_id").isNotNull() & F.col("name").isNotNull())
        .select("person_id", "source_id", "name")
        .distinct()
        .withColumn("_rank", F.coalesce(rank[F.col("source_id")], F.lit(len(order))))
        .withColumn("_valid", S.valid_name(F.col("name")))
    )
    return x.checkpoint(per, "names-per-source")


def _expected_names(per: DataFrame) -> DataFrame:
    """(person_id, _expected, _auth_source): the authority's valid name, else the vote's."""
    votes = (
        per.filter(F.col("_valid"))
        .groupBy("person_id", "name")
        .agg(
            F.count("*").alias("_n"),
            F.min("_rank").alias("_best"),
            # the best-ranked source stating the name (then the least id), as one sortable
            # string: Sail's min over a struct is ten times slower than over a string
            F.min(F.concat(F.lpad(F.col("_rank").cast("string"), 6, "0"), "source_id")).alias(
                "_top"
            ),
        )
    )
    w = Window.partitionBy("person_id").orderBy(
        F.col("_best") > 0, F.col("_n").desc(), F.col("_best")
    )
    return (
        votes.withColumn("_i", F.row_number().over(w))
        .filter(F.col("_i") == 1)
        .select(
            "person_id",
            F.col("name").alias("_expected"),
            F.substring("_top", 7, 1000).alias("_auth_source"),
        )
    )


def evaluate(x: RuleInputs, conf: RuleSettings) -> DataFrame:
    """One check per (person, source, name) stated, the expected name's source excepted."""
    per = _names_per_source(x)
    df = per.join(_expected_names(per), "person_id", "left").filter(
        ~F.col("source_id").eqNullSafe(F.col("_auth_source"))
    )
    return checks(
        df,
        "person",
        source_id="source_id",
        entity_id="person_id",
        attribute=F.lit("name"),
        observed="name",
        expected="_expected",
        authoritative_source="_auth_source",
        failed=~F.col("_valid") | F.coalesce(F.col("name") != F.col("_expected"), F.lit(False)),
    )


RULE = Rule("person_name_mismatch", RuleSettings, evaluate, __doc__)
