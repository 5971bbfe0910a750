"""Theme libraries (主题库): 一人一档 gold.person_profile and 一企一档 gold.enterprise_profile.

Built only from the base libraries (silver), their links and the quality findings, as of one
business date, with nested columns (structs and arrays) so that one row is the whole file:

    SELECT p.identity.name, p.marriage.spouse_id, len(p.children), c.person_id
    FROM person_profile p, unnest(p.children) AS t(c)           -- DuckDB

Relations:
* spouse: the other party of the person's latest marriage registration when it is a marriage
  (IA) and that spouse is alive; without any registration, the 配偶 (10) of the household head
  (02) in 户籍, and the other way round;
* children: persons whose birth certificate names the person as mother or father (the child is
  found in the parent's household by birth date and sex), and, in 户籍, the 子 (2x) and 女 (3x)
  of a household whose head or head's spouse the person is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.pipeline import standardise as S
from jobs.pipeline.base.person import birth_certificate_homes, latest_marriage_events, subject_rows
from jobs.pipeline.stage import Checkpoint, no_checkpoint


@dataclass(frozen=True)
class ThemeInputs:
    """What the profiles are built from, as of one business date: the base libraries, the open
    quality findings, and the current rows of the sources a profile quotes (户籍, marriages,
    births, insurance). ``checkpoint`` materialises frames used more than once."""

    as_of: dt.date
    person: DataFrame
    links: DataFrame
    legal_person: DataFrame
    licence: DataFrame
    findings: DataFrame  # quality.findings as the quality stage left them for the date
    current: Mapping[str, DataFrame]
    legal_person_link: DataFrame | None = None  # the enterprise profile's employers
    checkpoint: Checkpoint = no_checkpoint


def _hjrk_members(current: Mapping[str, DataFrame], links: DataFrame) -> DataFrame:
    """(person_id, household_no, relation) of every linked 户籍 record."""
    rows = current["gaj_hjrk"].select(
        "_file",
        "_row_number",
        S.clean_text(F.col("household_no")).alias("household_no"),
        S.delivered("gaj_hjrk", "relation_to_head").alias("relation"),
    )
    return subject_rows(rows, links, source_id="gaj_hjrk").select(
        "person_id", "household_no", "relation"
    )


def person_relations(x: ThemeInputs, person: DataFrame):
    """(spouse per person, parent→child pairs, household members) as of the date."""
    links = x.links
    members = x.checkpoint(_hjrk_members(x.current, links), "gold-members")
    alive = person.filter(~F.col("is_deceased")).select(F.col("person_id").alias("spouse_id"))
    events = latest_marriage_events(x.current["mzj_hydj"], links, as_of=x.as_of)
    registered = events.select("person_id").distinct()
    by_event = (
        events.filter(F.col("event") == "IA")
        .join(alive, "spouse_id")
        .select("person_id", "spouse_id", F.lit("mzj_hydj").alias("spouse_source"))
    )
    heads = members.filter(F.col("relation") == "02").select(
        F.col("person_id").alias("head"), "household_no"
    )
    partners = members.filter(F.col("relation").startswith("1")).select(
        F.col("person_id").alias("partner"), "household_no"
    )
    couples = heads.join(partners, "household_no")
    by_household = (
        couples.select(F.col("head").alias("person_id"), F.col("partner").alias("spouse_id"))
        .unionByName(
            couples.select(F.col("partner").alias("person_id"), F.col("head").alias("spouse_id"))
        )
        .join(alive, "spouse_id")
        .join(registered, "person_id", "left_anti")
        .select("person_id", "spouse_id", F.lit("gaj_hjrk").alias("spouse_source"))
    )
    spouses = x.checkpoint(by_event.unionByName(by_household), "gold-spouses")
    # one spouse per person, the same whatever else is built with it (a head with two partners
    # in 户籍: the smaller number; a person's rows come from one source only)
    spouses = spouses.groupBy("person_id").agg(
        F.min("spouse_id").alias("spouse_id"), F.min("spouse_source").alias("spouse_source")
    )

    # children by household relation: 子 (2x) and 女 (3x) of the head and of the head's spouse
    kids = members.filter(F.col("relation").rlike("^[23]")).select(
        F.col("person_id").alias("child_id"), "household_no"
    )
    parents = heads.select(F.col("head").alias("parent_id"), "household_no").unionByName(
        partners.select(F.col("partner").alias("parent_id"), "household_no")
    )
    by_hh = parents.join(kids, "household_no").select(
        "parent_id", "child_id", F.lit("gaj_hjrk").alias("via")
    )
    # children by birth certificate: the child of that birth date and sex in a parent's household
    born = person.filter(F.col("household_no").isNotNull()).select(
        F.col("person_id").alias("child_id"), "household_no", "birth_date", "sex"
    )
    by_cert = (
        birth_certificate_homes(x.current["wjw_cszm"], links, person=person)
        .join(born, ["household_no", "birth_date", "sex"])
        .select("parent_id", "child_id", F.lit("wjw_cszm").alias("via"))
    )
    children = x.checkpoint(
        by_cert.unionByName(by_hh).filter(F.col("parent_id") != F.col("child_id")),
        "gold-children",
    )
    children = children.groupBy("parent_id", "child_id").agg(
        F.sort_array(F.collect_set("via")).alias("via")
    )
    return spouses, children, members


def build_person_profile(x: ThemeInputs) -> DataFrame:
    """gold.person_profile (一人一档): one row per person of 人口库, each group of the profile
    (household, marriage, children, insurance, licences, enterprises represented, open findings)
    built by its own function and joined on the person."""
    person = x.checkpoint(x.person, "gold-person")
    spouses, children, members = person_relations(x, person)
    profile = (
        person.join(spouses, "person_id", "left")
        .join(marriage_history(x), "person_id", "left")
        .join(children_of(children, person), "person_id", "left")
        .join(insurance(x), "person_id", "left")
        .join(_licences(x.licence, "person", "person_id"), "person_id", "left")
        .join(represented(x.legal_person), "person_id", "left")
        .join(open_findings(x.findings, "person"), F.col("person_id") == F.col("_entity"), "left")
        .join(household_members(person, members), "household_no", "left")
    )
    return _person_columns(profile)


def household_members(person: DataFrame, members: DataFrame) -> DataFrame:
    """(household_no, members): everyone of each household, with their relation to the head
    where 户籍 gives one."""
    rel = members.select(F.col("person_id"), "relation")
    return (
        person.filter(F.col("household_no").isNotNull())
        .join(rel, "person_id", "left")
        .groupBy("household_no")
        .agg(
            F.sort_array(
                F.collect_list(F.struct("person_id", "name", "relation", "birth_date"))
            ).alias("members")
        )
    )


def marriage_history(x: ThemeInputs) -> DataFrame:
    """(person_id, marriage_history): each person's registrations at 民政, with the spouse."""
    links = x.links
    history = (
        links.filter((F.col("source_id") == "mzj_hydj") & F.col("person_id").isNotNull())
        .join(
            x.current["mzj_hydj"].select(
                "_file",
                "_row_number",
                S.delivered("mzj_hydj", "reg_type").alias("event"),
                S.delivered("mzj_hydj", "reg_date").alias("date"),
                S.clean_name(F.col("certificate_no")).alias("certificate_no"),
            ),
            ["_file", "_row_number"],
        )
        .select("person_id", "_file", "_row_number", "event", "date", "certificate_no")
    )
    other = links.filter(F.col("source_id") == "mzj_hydj").select(
        "_file", "_row_number", F.col("person_id").alias("spouse_id"), F.col("role").alias("_r")
    )
    return (
        history.join(other, ["_file", "_row_number"])
        .filter(F.col("spouse_id").isNull() | (F.col("spouse_id") != F.col("person_id")))
        .groupBy("person_id")
        .agg(
            F.sort_array(
                F.collect_list(F.struct("date", "event", "spouse_id", "certificate_no"))
            ).alias("marriage_history")
        )
    )


def children_of(children: DataFrame, person: DataFrame) -> DataFrame:
    """(person_id, children): each parent's children with their names and birth dates."""
    names = person.select(
        F.col("person_id").alias("child_id"),
        F.col("name").alias("child_name"),
        F.col("birth_date").alias("child_birth"),
    )
    child = F.struct(
        F.col("child_birth").alias("birth_date"),
        F.col("child_id").alias("person_id"),
        F.col("child_name").alias("name"),
        "via",
    )
    return (
        children.join(names, "child_id")
        .groupBy(F.col("parent_id").alias("person_id"))
        .agg(F.sort_array(F.collect_list(child)).alias("children"))
    )


def insurance(x: ThemeInputs) -> DataFrame:
    """(person_id, insurance): each person's 参保 enrolments."""
    rows = x.current["rsj_sbcb"].select(
        "_file",
        "_row_number",
        S.delivered("rsj_sbcb", "insurance_type").alias("insurance_type"),
        S.delivered("rsj_sbcb", "insurance_status").alias("status"),
        S.uscc_normalise(F.col("employer_uscc")).alias("employer_uscc"),
        S.delivered("rsj_sbcb", "enrolled_on").alias("enrolled_on"),
        S.delivered("rsj_sbcb", "receiving_benefits").alias("receiving_benefits"),
    )
    item = F.struct(
        "insurance_type", "status", "employer_uscc", "enrolled_on", "receiving_benefits"
    )
    # distinct rows, then a list: Sail's collect_set of structs is five times slower
    enrolments = (
        subject_rows(rows, x.links, source_id="rsj_sbcb").drop("_file", "_row_number").distinct()
    )
    return enrolments.groupBy("person_id").agg(
        F.sort_array(F.collect_list(item)).alias("insurance")
    )


def represented(legal: DataFrame) -> DataFrame:
    """(person_id, legal_representative_of): the legal persons each person represents."""
    item = F.struct("entity_id", "uscc", "name", "org_kind", "reg_status")
    return (
        legal.filter(F.col("legal_rep_id").isNotNull())
        .groupBy(F.col("legal_rep_id").alias("person_id"))
        .agg(F.sort_array(F.collect_list(item)).alias("legal_representative_of"))
    )


def _person_columns(profile: DataFrame) -> DataFrame:
    """The columns of gold.person_profile, empty lists for groups a person has none of."""
    empty = _empty_array(profile)
    return profile.select(
        "person_id",
        F.struct(
            "name",
            "sex",
            "birth_date",
            "ethnicity",
            "region_code",
            "address",
            "is_resident",
            "is_deceased",
            "death_date",
        ).alias("identity"),
        F.struct("household_no", empty("members").alias("members")).alias("household"),
        F.struct(
            "marital_status",
            "spouse_id",
            "spouse_source",
            empty("marriage_history").alias("history"),
        ).alias("marriage"),
        empty("children").alias("children"),
        empty("insurance").alias("insurance"),
        empty("licences").alias("licences"),
        empty("legal_representative_of").alias("legal_representative_of"),
        empty("open_findings").alias("open_findings"),
    )


def insured_employees(x: ThemeInputs) -> DataFrame:
    """(uscc, insured_employees, insured_ever): the people 参保 names with the employer, paying
    now and ever."""
    links = x.links
    employer_links = x.legal_person_link.filter(
        (F.col("source_id") == "rsj_sbcb")
        & (F.col("role") == "employer")
        & F.col("uscc").isNotNull()
    )
    insured_people = links.filter(
        (F.col("source_id") == "rsj_sbcb") & (F.col("role") == "subject")
    ).select("_file", "_row_number", "person_id")
    status = x.current["rsj_sbcb"].select(
        "_file",
        "_row_number",
        S.delivered("rsj_sbcb", "insurance_status").alias("status"),
    )
    employees = (
        employer_links.select("_file", "_row_number", "uscc")
        .join(insured_people, ["_file", "_row_number"])
        .join(status, ["_file", "_row_number"])
        .groupBy("uscc")
        .agg(
            F.countDistinct(F.when(F.col("status") == "paying", F.col("person_id"))).alias(
                "insured_employees"
            ),
            F.countDistinct("person_id").alias("insured_ever"),
        )
    )
    return employees


def related_by_representative(x: ThemeInputs, legal: DataFrame) -> DataFrame:
    """(entity_id, related): the other legal persons with the same legal representative."""
    reps = legal.filter(F.col("legal_rep_id").isNotNull()).select(
        F.col("entity_id").alias("_other"),
        F.col("uscc").alias("_other_uscc"),
        F.col("name").alias("_other_name"),
        F.col("legal_rep_id").alias("_rep"),
    )
    reps = x.checkpoint(reps, "gold-reps")
    related = (
        legal.select("entity_id", "legal_rep_id")
        .join(reps, F.col("legal_rep_id") == F.col("_rep"))
        .filter(F.col("_other") != F.col("entity_id"))
        .groupBy("entity_id")
        .agg(
            F.sort_array(
                F.collect_list(
                    F.struct(
                        F.col("_other").alias("entity_id"),
                        F.col("_other_uscc").alias("uscc"),
                        F.col("_other_name").alias("name"),
                    )
                )
            ).alias("related")
        )
    )
    return related


def _licences(licence: DataFrame, kind: str, key: str) -> DataFrame:
    """(key, licences): the licences each holder of ``kind`` holds, sorted."""
    item = F.struct(
        "licence_type", "licence_no", "licence_uid", "status", "issued_on", "issued_by_platform"
    )
    return (
        licence.filter(F.col("holder_kind") == kind)
        .groupBy(F.col("holder_code").alias(key))
        .agg(F.sort_array(F.collect_list(item)).alias("licences"))
    )


def _empty_array(df: DataFrame):
    """An array column with [] for null. when/otherwise, not coalesce: the result stays
    nullable, as Delta's readers expect of a field inside a struct (Sail's Parquet reader panics
    on a non-nullable struct field written by a MERGE)."""

    def empty(c: str) -> Column:
        return F.when(F.col(c).isNull(), F.array().cast(df.schema[c].dataType)).otherwise(F.col(c))

    return empty


def open_findings(findings: DataFrame, kind: str) -> DataFrame:
    """(_entity, open_findings): the open findings of each entity of ``kind``."""
    f = findings.filter((F.col("status") == "open") & (F.col("entity_kind") == kind))
    return f.groupBy(F.col("entity_id").alias("_entity")).agg(
        F.sort_array(
            F.collect_list(
                F.struct("rule_id", "attribute", "source_id", "observed", "expected", "finding_id")
            )
        ).alias("open_findings")
    )


def build_enterprise_profile(x: ThemeInputs) -> DataFrame:
    """One row per legal person: registration, tax status, legal representative, licences,
    insured employees, related legal persons (same representative) and open findings."""
    legal = x.checkpoint(x.legal_person, "gold-legal")
    licences = _licences(x.licence, "legal_person", "uscc")
    related = related_by_representative(x, legal)
    employees = insured_employees(x)
    rep_names = x.person.select(
        F.col("person_id").alias("legal_rep_id"), F.col("name").alias("_rep_person_name")
    )
    findings = open_findings(x.findings, "legal_person")
    profile = (
        legal.join(licences, "uscc", "left")
        .join(employees, "uscc", "left")
        .join(related, "entity_id", "left")
        .join(rep_names, "legal_rep_id", "left")
        .join(findings, F.col("entity_id") == F.col("_entity"), "left")
    )
    empty = _empty_array(profile)
    is_person = S.id_is_valid(F.col("legal_rep_id"))
    return profile.select(
        "entity_id",
        "uscc",
        F.struct("name", "org_kind", "reg_no", "founded_on", "reg_status", "region_code").alias(
            "registration"
        ),
        "tax_status",
        F.struct(
            F.when(is_person, F.col("legal_rep_id")).alias("person_id"),
            F.col("legal_rep_name").alias("name"),
            F.when(~is_person, F.col("legal_rep_id")).alias("id_delivered"),
        ).alias("legal_representative"),
        empty("licences").alias("licences"),
        F.coalesce(F.col("insured_employees"), F.lit(0)).cast("long").alias("insured_employees"),
        empty("related").alias("related_by_representative"),
        empty("open_findings").alias("open_findings"),
    )
