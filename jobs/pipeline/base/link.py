"""Linking every person reference in every source to a person_id (silver.person_link).

``match_method``:
* ``exact_id``      the number is valid after trimming, half-width and upper-casing ``x``;
* ``repaired_id``   a legacy 15-digit number upgraded, or an invalid 18-character number with
                    exactly one correction (one substituted character or one adjacent
                    transposition) that names a known person whose name, sex and birth date
                    agree with the record;
* ``probabilistic`` no usable number, but a known person of the same name whose sex, birth date
                    and region give a Fellegi-Sunter score above the configured threshold, and
                    no other candidate as good;
* ``unresolved``    otherwise. Nothing is dropped.

Known persons are those identified by a valid or upgraded number in any source other than the
e-licence platform (spec/curated.md: the licence platform alone does not make a person known).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.pipeline import standardise as S
from jobs.platform import settings
from jobs.platform.settings import PersonReference

LICENCE_SOURCE = "zwfw_dzzz"
REF_COLUMNS = [
    "source_id",
    "_business_date",
    "_batch_id",
    "_file",
    "_row_number",
    "role",
    "id_delivered",
    "name",
    "sex",
    "birth_date",
    "birth_precision",
]


# ------------------------------------------------------------------------------ references
def person_references(current: Mapping[str, DataFrame]) -> DataFrame:
    """One row per person reference in the sources' current records (conf/references.yaml)."""
    frames = []
    for source_id, refs in settings.references().persons.items():
        if source_id not in current:
            continue
        rows = current[source_id]
        for ref in refs:
            frames.append(reference_frame(rows, source_id, ref=ref))
    return reduce(DataFrame.unionByName, frames)


# a link row is one reference: the source, the delivered row, and the role the person plays
LINK_KEYS = ["source_id", "_file", "_row_number", "role"]


def reference_frame(rows: DataFrame, source_id: str, *, ref: PersonReference) -> DataFrame:
    """Standardised number, name, sex and birth date of one role in one source's rows."""
    for col, value in (ref.when or {}).items():
        rows = rows.filter(S.clean_text(F.col(col)) == F.lit(str(value)))
    sex = ref.sex
    if sex is not None and sex.value is not None:
        sex_col = F.lit(str(sex.value))
    elif sex is not None and sex.column is not None:
        sex_col = S.map_code(F.col(sex.column), sex.table)
    else:
        sex_col = F.lit(None).cast("string")
    birth = ref.birth
    if birth:  # cleaned once into a column: parse_date references its input many times
        rows = rows.withColumn("_birth_text", S.clean_text(F.col(birth.column)))
    if birth:  # a birth date after the delivery's business date is impossible: not used
        rows = rows.withColumn("_birth", S.parse_date(F.col("_birth_text"), list(birth.formats)))
        birth_col = F.when(F.col("_birth") <= F.col("_business_date"), F.col("_birth"))
    else:
        birth_col = F.lit(None).cast("date")
    out = rows.select(
        F.lit(source_id).alias("source_id"),
        "_business_date",
        "_batch_id",
        "_file",
        "_row_number",
        F.lit(ref.role).alias("role"),
        S.id_normalise(F.col(ref.id)).alias("id_delivered"),
        S.clean_name(F.col(ref.name)).alias("name")
        if ref.name
        else F.lit(None).cast("string").alias("name"),
        sex_col.alias("sex"),
        birth_col.alias("birth_date"),
        F.lit(birth.precision if birth else None).cast("string").alias("birth_precision"),
    )
    # a role with neither number nor name (no father on the certificate) refers to nobody
    return out.filter(F.col("id_delivered").isNotNull() | F.col("name").isNotNull())


# ------------------------------------------------------------------------------ linking
def _first_pass(refs: DataFrame, as_of: dt.date) -> DataFrame:
    """Exact numbers and upgraded legacy numbers.

    Intermediate values are separate columns on purpose: nesting id_upgrade_15 inside
    id_is_valid multiplies the expression tree (each references its input ~20 times), and
    Sail does not eliminate common subexpressions (23 s instead of 0.9 s on 80k rows).
    """
    d = F.lit(as_of)
    return (
        refs.withColumn("_up", S.id_upgrade_15(F.col("id_delivered")))
        .withColumn("_exact", S.id_is_valid(F.col("id_delivered"), d))
        .withColumn("_legacy", S.id_is_valid(F.col("_up"), d))
        .withColumn(
            "person_id",
            F.when(F.col("_exact"), F.col("id_delivered")).when(F.col("_legacy"), F.col("_up")),
        )
        .withColumn(
            "match_method",
            F.when(F.col("_exact"), "exact_id").when(F.col("_legacy"), "repaired_id"),
        )
        .drop("_up", "_exact", "_legacy")
    )


def known_persons(linked: DataFrame) -> DataFrame:
    """(person_id, name) of people identified by number outside the licence platform."""
    return (
        linked.filter(F.col("person_id").isNotNull() & (F.col("source_id") != LICENCE_SOURCE))
        .select("person_id", "name")
        .distinct()
    )


def _candidates(c: Column) -> Column:
    """Every one-character substitution and adjacent transposition of an 18-character number."""
    subs = [
        F.concat(F.substring(c, 1, i), F.lit(ch), F.substring(c, i + 2, 18))
        for i in range(18)
        for ch in ("0123456789X" if i == 17 else "0123456789")
    ]
    swaps = [
        F.concat(
            F.substring(c, 1, i),
            F.substring(c, i + 2, 1),
            F.substring(c, i + 1, 1),
            F.substring(c, i + 3, 18),
        )
        for i in range(17)
    ]
    return F.array(*subs, *swaps)


def _agrees(ref_birth: Column, precision: Column, cand_birth: Column) -> Column:
    month = F.date_trunc("month", ref_birth.cast("timestamp")) == F.date_trunc(
        "month", cand_birth.cast("timestamp")
    )
    return F.when(precision == "month", month).otherwise(ref_birth == cand_birth)


def _repairs(todo: DataFrame, known: DataFrame, as_of: dt.date) -> DataFrame:
    """(ref_key, person_id) for references with exactly one confirmed correction."""
    cands = (
        todo.filter(F.col("id_delivered").rlike("^[0-9]{17}[0-9X]$"))
        .select(
            "ref_key",
            "name",
            "sex",
            "birth_date",
            "birth_precision",
            F.explode(_candidates(F.col("id_delivered"))).alias("candidate"),
        )
        .filter(F.col("candidate") != F.col("id_delivered"))
        .filter(S.id_is_valid(F.col("candidate"), F.lit(as_of)))
    )
    confirmed = cands.join(
        known.withColumnRenamed("person_id", "candidate").withColumnRenamed("name", "known_name"),
        "candidate",
    ).filter(
        (F.col("name") == F.col("known_name"))
        & (F.col("sex").isNull() | (F.col("sex") == S.id_sex(F.col("candidate"))))
        & (
            F.col("birth_date").isNull()
            | _agrees(
                F.col("birth_date"), F.col("birth_precision"), S.id_birth_date(F.col("candidate"))
            )
        )
    )
    per_ref = confirmed.groupBy("ref_key").agg(
        F.count_distinct("candidate").alias("n"), F.min("candidate").alias("person_id")
    )
    return per_ref.filter(F.col("n") == 1).select("ref_key", "person_id")


def _weights() -> tuple[float, dict[str, tuple[float, float]]]:
    conf = settings.authority().probabilistic
    w = {
        f: (math.log2(v.m / v.u), math.log2((1 - v.m) / (1 - v.u))) for f, v in conf.fields.items()
    }
    return float(conf.threshold), w


def _probabilistic(todo: DataFrame, known: DataFrame) -> DataFrame:
    """(ref_key, person_id, match_score) by Fellegi-Sunter on name (blocking), sex, birth, region."""
    threshold, w = _weights()
    region_of = lambda c: F.when(c.rlike("^[0-9]{6}"), F.substring(c, 1, 6))  # noqa: E731
    birth_in_id = F.try_to_timestamp(
        F.substring(F.col("id_delivered"), 7, 8), F.lit("yyyyMMdd")
    ).cast("date")
    refs = todo.filter(F.col("name").isNotNull()).select(
        "ref_key",
        "name",
        "sex",
        F.coalesce("birth_date", birth_in_id).alias("birth_date"),
        F.coalesce("birth_precision", F.lit("day")).alias("birth_precision"),
        region_of(F.col("id_delivered")).alias("region"),
    )
    pairs = refs.join(known, "name")

    def term(field: str, known_value: Column, agree: Column) -> Column:
        a, d = w[field]
        return F.when(known_value.isNull(), 0.0).when(agree, a).otherwise(d)

    cand_birth = S.id_birth_date(F.col("person_id"))
    score = (
        F.lit(w["name"][0])
        + F.when(F.col("sex").isNull(), 0.0)
        .when(F.col("sex") == S.id_sex(F.col("person_id")), w["sex"][0])
        .otherwise(w["sex"][1])
        + F.when(F.col("birth_date").isNull(), 0.0)
        .when(
            _agrees(F.col("birth_date"), F.col("birth_precision"), cand_birth), w["birth_date"][0]
        )
        .otherwise(w["birth_date"][1])
        + term("region", F.col("region"), F.col("region") == F.substring(F.col("person_id"), 1, 6))
    )
    scored = pairs.withColumn("match_score", score).filter(F.col("match_score") >= threshold)
    best = Window.partitionBy("ref_key")
    return (
        scored.withColumn("top", F.max("match_score").over(best))
        .filter(F.col("match_score") == F.col("top"))
        .withColumn("n", F.count("*").over(best))
        .filter(F.col("n") == 1)
        .select("ref_key", "person_id", "match_score")
    )


def link_persons(refs: DataFrame, as_of: dt.date, *, checkpoint=lambda df, name: df) -> DataFrame:
    """Every reference with ``person_id``, ``match_method`` and ``match_score``.

    ``checkpoint`` (Lake.checkpoint in the pipeline) materialises the first pass, which every
    later step reads: see Lake.checkpoint for why that matters on Sail.
    """
    first = _first_pass(refs, as_of).withColumn(
        "ref_key",
        F.concat_ws("|", "source_id", "_file", F.col("_row_number").cast("string"), "role"),
    )
    first = checkpoint(first, "links-first-pass")
    known = known_persons(first)
    todo = first.filter(F.col("person_id").isNull()).drop("person_id", "match_method")
    repaired = (
        _repairs(todo, known, as_of)
        .withColumn("match_method", F.lit("repaired_id"))
        .withColumn("match_score", F.lit(None).cast("double"))
    )
    rest = todo.join(repaired.select("ref_key"), "ref_key", "left_anti")
    prob = _probabilistic(rest, known).withColumn("match_method", F.lit("probabilistic"))
    found = repaired.unionByName(prob)
    resolved = todo.join(found, "ref_key", "left").withColumn(
        "match_method", F.coalesce("match_method", F.lit("unresolved"))
    )
    exact = first.filter(F.col("person_id").isNotNull()).withColumn(
        "match_score", F.lit(None).cast("double")
    )
    return exact.unionByName(resolved.select(*exact.columns)).drop("ref_key")
