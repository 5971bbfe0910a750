"""Which persons' 一人一档 a business date can change: the incremental build of the profiles.

A person's profile (jobs/pipeline/themes/profiles.py) shows the person's own row of 人口库, the
records of 户籍, marriages, birth certificates and insurance that name the person, the licences
the person holds, the legal persons the person represents, the person's open findings, and, of
relatives, the members of the person's household (name, birth date, relation), the spouse (who
must be alive) and the children (name, birth date). So when only a few records change, only a
few profiles can:

* **seeds**, persons whose own inputs differ between the inputs of the previous build and
  today's: their row of silver.person; the *facts* of the quoted records that name them (each
  record's quoted fields and who its parties are, so a spouse re-linked on a marriage changes
  both parties); their licences, represented legal persons and findings; and the parties of a
  marriage registration dated between the two business dates (whether the latest registration
  is certain depends on the date);
* **relatives** of the seeds whose row, records or registrations changed, on either date:
  everyone of the same household (by 人口库 and by the 户籍 record: members, couples, children
  of the head) and the other parties of their marriage registrations (the spouse).

Only the records' fields the profile quotes (``QUOTED``) count: a department stamping every
row with the extract date (人社's ``updated_on``) changes no profile. A test checks ``QUOTED``
against the profile's column lineage.

``restrict`` then narrows the inputs to the scope's neighbourhood, so that the profile of every
person in scope is computed from all it depends on and nothing else is computed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.pipeline import standardise as S
from jobs.pipeline.stage import Checkpoint, no_checkpoint
from jobs.pipeline.themes.profiles import ThemeInputs

# the bronze fields of each source that a person profile shows or decides by
QUOTED: Mapping[str, tuple[str, ...]] = {
    "gaj_hjrk": ("household_no", "relation_to_head"),
    "mzj_hydj": ("reg_type", "reg_date", "certificate_no"),
    "wjw_cszm": ("certificate_no", "birth_time", "newborn_sex", "issued_on"),
    "rsj_sbcb": (
        "insurance_type",
        "insurance_status",
        "employer_uscc",
        "enrolled_on",
        "receiving_benefits",
    ),
}
_RECORD = ["source_id", "_file", "_row_number"]


def _union(frames: list[DataFrame]) -> DataFrame:
    return reduce(DataFrame.unionByName, frames)


def _quoted_links(x: ThemeInputs) -> DataFrame:
    return x.links.filter(F.col("source_id").isin(*QUOTED)).select(*_RECORD, "role", "person_id")


def record_facts(x: ThemeInputs) -> DataFrame:
    """(person_id, fact): for each quoted record, each person it names, with a digest of the
    record's quoted fields and of its parties (role and person, linked or not)."""
    links = _quoted_links(x)
    content = []
    for source_id, columns in QUOTED.items():
        if source_id not in x.current:
            continue
        fields = [F.coalesce(F.col(c).cast("string"), F.lit("\u0000")) for c in columns]
        content.append(
            x.current[source_id].select(
                F.lit(source_id).alias("source_id"),
                "_file",
                "_row_number",
                F.xxhash64(*fields).alias("_content"),
            )
        )
    if not content:
        return links.select("person_id", F.lit(0).cast("long").alias("fact")).limit(0)
    # roles are unique within a record (the link key), so the xor of the parties is their set
    parties = links.groupBy(*_RECORD).agg(
        F.bit_xor(F.xxhash64("role", F.coalesce("person_id", F.lit("\u0000")))).alias("_parties")
    )
    facts = (
        _union(content)
        .join(parties, _RECORD)
        .select(*_RECORD, F.xxhash64("source_id", "_content", "_parties").alias("fact"))
    )
    return (
        links.filter(F.col("person_id").isNotNull())
        .join(facts, _RECORD)
        .select("person_id", "fact")
    )


def homes(x: ThemeInputs) -> DataFrame:
    """(person_id, household_no): each person's household by 人口库 and by each 户籍 record."""
    by_person = x.person.filter(F.col("household_no").isNotNull()).select(
        "person_id", "household_no"
    )
    if "gaj_hjrk" not in x.current:
        return by_person
    by_record = (
        x.current["gaj_hjrk"]
        .select("_file", "_row_number", S.clean_text(F.col("household_no")).alias("household_no"))
        .filter(F.col("household_no").isNotNull())
        .join(
            x.links.filter(
                (F.col("source_id") == "gaj_hjrk") & F.col("person_id").isNotNull()
            ).select("_file", "_row_number", "person_id"),
            ["_file", "_row_number"],
        )
        .select("person_id", "household_no")
    )
    return by_person.unionByName(by_record)


def co_parties(x: ThemeInputs) -> DataFrame:
    """(person_id, other_id): the persons named together on a marriage registration."""
    party = x.links.filter(
        (F.col("source_id") == "mzj_hydj") & F.col("person_id").isNotNull()
    ).select("_file", "_row_number", "person_id")
    other = party.select("_file", "_row_number", F.col("person_id").alias("other_id"))
    return (
        party.join(other, ["_file", "_row_number"])
        .filter(F.col("person_id") != F.col("other_id"))
        .select("person_id", "other_id")
    )


def _differ(old: DataFrame, new: DataFrame, cols: list[str], key: str) -> DataFrame:
    """(person_id) of ``key`` values whose multiset of ``cols`` rows differs between the two."""
    a = old.groupBy(*cols).agg(F.count("*").alias("_n"))
    b = new.groupBy(*cols).agg(F.count("*").alias("_n"))
    both = a.withColumn("_a", F.lit(True)).join(
        b.withColumn("_b", F.lit(True)), [*cols, "_n"], "full_outer"
    )
    return (
        both.filter(F.col("_a").isNull() | F.col("_b").isNull())
        .select(F.col(key).alias("person_id"))
        .filter(F.col("person_id").isNotNull())
    )


def _dated_between(x: ThemeInputs, lo, hi) -> DataFrame:
    """(person_id) of the parties of marriage registrations dated in (lo, hi]."""
    if "mzj_hydj" not in x.current:
        return x.person.select("person_id").limit(0)
    day = S.parse_date(F.col("reg_date"), ["%Y-%m-%d"])
    rows = x.current["mzj_hydj"].filter((day > F.lit(lo)) & (day <= F.lit(hi)))
    return (
        x.links.filter((F.col("source_id") == "mzj_hydj") & F.col("person_id").isNotNull())
        .join(rows.select("_file", "_row_number"), ["_file", "_row_number"])
        .select("person_id")
    )


def person_profile_scope(
    old: ThemeInputs, new: ThemeInputs, *, checkpoint: Checkpoint = no_checkpoint
) -> DataFrame:
    """(person_id) of every person whose profile may differ between a build from ``old`` and
    one from ``new`` (see the module): the seeds and their relatives on either date."""
    rows = ["person_id", "_row_hash"]
    changed = _differ(old.person.select(*rows), new.person.select(*rows), rows, "person_id")
    facts = _differ(record_facts(old), record_facts(new), ["person_id", "fact"], "person_id")
    lo, hi = sorted([old.as_of, new.as_of])
    dated = _dated_between(old, lo, hi).unionByName(_dated_between(new, lo, hi))
    seeds = checkpoint(_union([changed, facts, dated]).distinct(), "profile-seeds")

    households = checkpoint(homes(old).unionByName(homes(new)).distinct(), "profile-homes")
    touched = households.join(seeds, "person_id", "left_semi").select("household_no").distinct()
    members = households.join(touched, "household_no", "left_semi").select("person_id")
    spouses = (
        co_parties(old)
        .unionByName(co_parties(new))
        .join(seeds, "person_id", "left_semi")
        .select(F.col("other_id").alias("person_id"))
    )

    def holder(df: DataFrame) -> DataFrame:
        return df.filter(F.col("holder_kind") == "person").select("holder_code", "_row_hash")

    licences = _differ(
        holder(old.licence), holder(new.licence), ["holder_code", "_row_hash"], "holder_code"
    )

    def rep(df: DataFrame) -> DataFrame:
        return df.select("legal_rep_id", "_row_hash")

    represented = _differ(
        rep(old.legal_person), rep(new.legal_person), ["legal_rep_id", "_row_hash"], "legal_rep_id"
    )

    def found(df: DataFrame) -> DataFrame:
        return df.filter(F.col("entity_kind") == "person").select("entity_id", "_row_hash")

    findings = _differ(
        found(old.findings), found(new.findings), ["entity_id", "_row_hash"], "entity_id"
    )
    everyone = _union([seeds, members, spouses, licences, represented, findings])
    return everyone.filter(F.col("person_id").isNotNull()).distinct()


def restrict(x: ThemeInputs, scope: DataFrame) -> ThemeInputs:
    """``x`` narrowed to what the profiles of the persons in ``scope`` are built from: the
    persons of their households and marriages, the quoted records that name any of those, and
    their own licences, represented legal persons and findings."""
    households = x.checkpoint(homes(x), "profile-households")
    theirs = households.join(scope, "person_id", "left_semi").select("household_no").distinct()
    around = _union(
        [
            scope.select("person_id"),
            households.join(theirs, "household_no", "left_semi").select("person_id"),
            co_parties(x)
            .join(scope, "person_id", "left_semi")
            .select(F.col("other_id").alias("person_id")),
        ]
    ).distinct()
    around = x.checkpoint(around, "profile-neighbourhood")
    records = _quoted_links(x).join(around, "person_id", "left_semi").select(*_RECORD).distinct()
    records = x.checkpoint(records, "profile-records")
    return dataclasses.replace(
        x,
        person=x.person.join(around, "person_id", "left_semi"),
        links=x.links.join(records, _RECORD, "left_semi"),
        licence=x.licence.join(
            scope.select(F.col("person_id").alias("holder_code")), "holder_code", "left_semi"
        ),
        legal_person=x.legal_person.join(
            scope.select(F.col("person_id").alias("legal_rep_id")), "legal_rep_id", "left_semi"
        ),
        findings=x.findings.join(
            scope.select(F.col("person_id").alias("entity_id")), "entity_id", "left_semi"
        ),
    )
