"""Cross-source rules (多源校核): each compares what departments deliver with the authority or
with each other and yields one *check* per item it evaluated.

A rule is a function ``(inputs) -> DataFrame`` registered with ``@rule("<rule_id>")``; its
parameters, dimension and description are in conf/quality.yaml (the rule ids of spec/curated.md).
Each check row has ``CHECK_COLUMNS``: the source held responsible (谁提供谁负责), the entity, the
attribute, the observed and the expected value, the authoritative source and ``failed``. The
stage counts checks into quality.results and keeps failed checks as findings.

Every rule reads the base libraries *as of* the business date (time travel through
lineage.runs), so a rerun or a backfill of an old date sees that date's state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.pipeline import standardise as S
from jobs.pipeline.base.person import MARITAL_CATEGORY, birth_certificate_homes, subject_rows
from jobs.pipeline.base.state import authority_conf, current_rows
from jobs.platform.config import conf_file
from jobs.platform.history import read_as_of
from jobs.platform.lake import Lake

CHECK_COLUMNS = [
    "source_id",
    "entity_kind",
    "entity_id",
    "attribute",
    "observed",
    "expected",
    "authoritative_source",
    "failed",
]

RULES: dict[str, Callable[[RuleInputs], DataFrame]] = {}


def rule(rule_id: str):
    def register(fn):
        RULES[rule_id] = fn
        return fn

    return register


def quality_conf() -> dict:
    return conf_file("quality.yaml")


def rule_conf(rule_id: str) -> dict:
    return quality_conf()["rules"][rule_id]


def enabled_rules() -> list[str]:
    conf = quality_conf()["rules"]
    unknown = sorted(set(conf) - set(RULES))
    if unknown:
        raise ValueError(f"conf/quality.yaml: rules without code: {', '.join(unknown)}")
    return [r for r in RULES if conf.get(r, {}).get("enabled", True) and r in conf]


@dataclass
class RuleInputs:
    """The base libraries and current records as of one business date, read once per stage."""

    lake: Lake
    as_of: dt.date
    _cache: dict = field(default_factory=dict)

    def silver(self, table: str) -> DataFrame:
        if table not in self._cache:
            self._cache[table] = read_as_of(self.lake, table, self.as_of)
        return self._cache[table]

    @property
    def links(self) -> DataFrame:
        return self.silver("silver.person_link")

    @property
    def person(self) -> DataFrame:
        return self.silver("silver.person")

    @property
    def legal_person(self) -> DataFrame:
        return self.silver("silver.legal_person")

    @property
    def licence(self) -> DataFrame:
        return self.silver("silver.licence")

    @property
    def legal_person_link(self) -> DataFrame:
        return self.silver("silver.legal_person_link")

    @cached_property
    def legal_records(self) -> DataFrame:
        """The current records of 市场监管 and 税务 with the credit code the base stage resolved
        for each (silver.legal_person_link) and the person linked as legal representative."""
        subjects = self.legal_person_link.filter(F.col("role") == "subject").select(
            "source_id", "_file", "_row_number", "uscc"
        )
        reps = self.links.filter(F.col("role") == "legal_rep").select(
            "source_id", "_file", "_row_number", F.col("person_id").alias("rep_person_id")
        )
        frames = []
        for source_id, status in (("scjgj_qydj", "reg_status"), ("swj_swdj", "tax_status")):
            rows = self.rows(source_id).select(
                F.lit(source_id).alias("source_id"),
                "_file",
                "_row_number",
                S.delivered(source_id, status).alias("status"),
                S.clean_name(F.col("legal_rep_name")).alias("legal_rep_name"),
            )
            frames.append(
                rows.select(
                    "*",
                    F.when(F.lit(status == "reg_status"), F.col("status")).alias("reg_status"),
                    F.when(F.lit(status == "tax_status"), F.col("status")).alias("tax_status"),
                ).drop("status")
            )
        rec = frames[0].unionByName(frames[1])
        keys = ["source_id", "_file", "_row_number"]
        rec = rec.join(subjects, keys, "left").join(reps, keys, "left")
        return self.lake.checkpoint(rec, "legal-records")

    def rows(self, source_id: str) -> DataFrame:
        return current_rows(self.lake, source_id, self.as_of)

    def days_ago(self, c: Column, days: int) -> Column:
        """``c`` lies at least ``days`` before the business date."""
        return c <= F.date_sub(F.lit(self.as_of), int(days))


def _checks(df: DataFrame, kind: str, **cols: Column | str) -> DataFrame:
    """Select CHECK_COLUMNS from ``df`` (columns given by name or expression)."""
    out = []
    for c in CHECK_COLUMNS:
        if c == "entity_kind":
            out.append(F.lit(kind).alias(c))
            continue
        v = cols[c]
        v = F.col(v) if isinstance(v, str) else v
        out.append((v if c == "failed" else v.cast("string")).alias(c))
    return df.select(*out)


def _none() -> Column:
    return F.lit(None).cast("string")


# ------------------------------------------------------------------------------ persons
@rule("id_checksum_invalid")
def id_checksum_invalid(x: RuleInputs) -> DataFrame:
    """Every 18-character number delivered (after trimming, half-width and upper-casing ``x``)
    is checked; a wrong check character is a finding against the delivering source. ``expected``
    is the number of the person the reference was linked to when linking could repair it."""
    refs = x.links.filter(F.col("id_delivered").rlike("^[0-9]{17}[0-9X]$"))
    refs = refs.withColumn("_check", S.id_check_char(F.substring("id_delivered", 1, 17)))
    refs = refs.withColumn("_bad", F.substring("id_delivered", 18, 1) != F.col("_check"))
    repaired = F.col("match_method").isin("repaired_id", "probabilistic")
    return _checks(
        refs,
        "person",
        source_id="source_id",
        entity_id=F.when(F.col("_bad"), F.coalesce("person_id", "id_delivered")).otherwise(
            F.col("id_delivered")
        ),
        attribute=F.lit("id_number"),
        observed="id_delivered",
        expected=F.when(F.col("_bad") & repaired, F.col("person_id")),
        authoritative_source=_none(),
        failed="_bad",
    )


def _stated_vs_authority(x: RuleInputs, attribute: str, stated: Column, expected: Column):
    """Links with a stated value, beside the person's authoritative value and its source."""
    p = x.person.select(
        "person_id",
        F.col(attribute).alias("_auth"),
        F.col(f"{attribute}_source").alias("_auth_source"),
    )
    links = x.links.filter(F.col("person_id").isNotNull()).withColumn("_stated", stated)
    links = links.filter(F.col("_stated").isNotNull()).join(p, "person_id")
    links = links.withColumn("_expected", expected)
    return links.filter(F.col("_expected").isNotNull()).withColumn(
        "_failed", F.col("_stated") != F.col("_expected")
    )


@rule("person_name_mismatch")
def person_name_mismatch(x: RuleInputs) -> DataFrame:
    """Each source's name for a linked person against the authority's (户籍, the first source of
    conf/authority.yaml). Where the authority has no record of the person, against the name most
    sources agree on (ties: the better-ranked source), so that one department's odd name is held
    against that department rather than against every other.

    Only a valid name (:func:`jobs.pipeline.standardise.valid_name`: no markup, formula triggers or
    control characters) can be expected: an invalid one is never chosen, by authority or by
    vote, and is itself a finding against the source that delivered it (expected left empty
    when no source has a valid name)."""
    order = authority_conf()["person"]["name"]
    rank = F.create_map(*[v for i, s in enumerate(order) for v in (F.lit(s), F.lit(i))])
    per = (
        x.links.filter(F.col("person_id").isNotNull() & F.col("name").isNotNull())
        .groupBy("person_id", "source_id")
        .agg(F.min("name").alias("name"))
        .withColumn("_rank", F.coalesce(rank[F.col("source_id")], F.lit(len(order))))
        .withColumn("_valid", S.valid_name(F.col("name")))
    )
    per = x.lake.checkpoint(per, "names-per-source")
    votes = (
        per.filter(F.col("_valid"))
        .groupBy("person_id", "name")
        .agg(
            F.count("*").alias("_n"),
            F.min("_rank").alias("_best"),
            F.min(F.struct("_rank", "source_id")).alias("_top"),
        )
    )
    w = Window.partitionBy("person_id").orderBy(
        F.col("_best") > 0, F.col("_n").desc(), F.col("_best")
    )
    expected = (
        votes.withColumn("_i", F.row_number().over(w))
        .filter(F.col("_i") == 1)
        .select(
            "person_id",
            F.col("name").alias("_expected"),
            F.col("_top.source_id").alias("_auth_source"),
        )
    )
    df = per.join(expected, "person_id", "left").filter(
        ~F.col("source_id").eqNullSafe(F.col("_auth_source"))
    )
    return _checks(
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


def _against_authority(x: RuleInputs, attribute: str, stated: Column, from_id, fmt=None):
    """Checks of each source's stated ``attribute`` against the person's authoritative value;
    the authority's own statement against what the ID number says (``from_id``)."""
    fmt = fmt or (lambda c: c)
    other = F.col("source_id") != F.col("_auth_source")
    df = _stated_vs_authority(
        x,
        attribute,
        fmt(stated),
        fmt(F.when(other, F.col("_auth")).otherwise(from_id(F.col("person_id")))),
    )
    return _checks(
        df,
        "person",
        source_id="source_id",
        entity_id="person_id",
        attribute=F.lit(attribute),
        observed="_stated",
        expected="_expected",
        authoritative_source=F.when(other, F.col("_auth_source")).otherwise(F.lit("id_number")),
        failed="_failed",
    )


@rule("person_sex_mismatch")
def person_sex_mismatch(x: RuleInputs) -> DataFrame:
    """A source's sex against the authority's; the authority's own against the ID number."""
    stated = F.when(~F.col("sex").isin("0", "9"), F.col("sex"))  # 未知 / 未说明 state nothing
    return _against_authority(x, "sex", stated, S.id_sex)


@rule("person_birth_mismatch")
def person_birth_mismatch(x: RuleInputs) -> DataFrame:
    """A source's birth date (or month, for sources delivering a month) against the authority's;
    the authority's own against the ID number."""
    month = F.coalesce(F.col("birth_precision"), F.lit("day")) == "month"

    def fmt(c: Column) -> Column:
        return F.when(month, F.date_format(c, "yyyy-MM")).otherwise(F.date_format(c, "yyyy-MM-dd"))

    return _against_authority(x, "birth_date", F.col("birth_date"), S.id_birth_date, fmt)


def _certified_deaths(x: RuleInputs, grace_days: int) -> DataFrame:
    """Persons whose death 卫健 certified at least ``grace_days`` before the business date."""
    return x.person.filter(
        F.col("is_deceased")
        & (F.col("is_deceased_source") == "wjw_swzm")
        & x.days_ago(F.col("death_date"), grace_days)
    )


@rule("death_not_deregistered")
def death_not_deregistered(x: RuleInputs) -> DataFrame:
    """Certified deaths against the 户籍 status of the person's own 户籍 record(s)."""
    grace = rule_conf("death_not_deregistered").get("grace_days", 30)
    dead = _certified_deaths(x, grace).select("person_id")
    hjrk = x.rows("gaj_hjrk").select(
        "_file", "_row_number", S.delivered("gaj_hjrk", "reg_status").alias("st")
    )
    status = (
        subject_rows(hjrk, x.links, "gaj_hjrk")
        .join(dead, "person_id")
        .groupBy("person_id")
        .agg(F.max(F.col("st") == "active").alias("_active"))
    )
    return _checks(
        status,
        "person",
        source_id=F.lit("gaj_hjrk"),
        entity_id="person_id",
        attribute=F.lit("reg_status"),
        observed=F.when(F.col("_active"), "active").otherwise("deregistered"),
        expected=F.lit("deceased"),
        authoritative_source=F.lit("wjw_swzm"),
        failed="_active",
    )


@rule("benefit_after_death")
def benefit_after_death(x: RuleInputs) -> DataFrame:
    """参保 enrolments of persons with a certified death: still receiving benefits?"""
    grace = rule_conf("benefit_after_death").get("grace_days", 30)
    dead = _certified_deaths(x, grace).select("person_id")
    rows = x.rows("rsj_sbcb").select(
        "_file",
        "_row_number",
        S.delivered("rsj_sbcb", "receiving_benefits").alias("benefits"),
    )
    per = (
        subject_rows(rows, x.links, "rsj_sbcb")
        .join(dead, "person_id")
        .groupBy("person_id")
        .agg(F.max(F.col("benefits") == "true").alias("_receiving"))
    )
    per = per.withColumn("_receiving", F.coalesce("_receiving", F.lit(False)))
    return _checks(
        per,
        "person",
        source_id=F.lit("rsj_sbcb"),
        entity_id="person_id",
        attribute=F.lit("receiving_benefits"),
        observed=F.when(F.col("_receiving"), "1").otherwise("0"),
        expected=F.lit("0"),
        authoritative_source=F.lit("wjw_swzm"),
        failed="_receiving",
    )


def _category(c: Column) -> Column:
    pairs = [x for k, v in MARITAL_CATEGORY.items() for x in (F.lit(k), F.lit(v))]
    return F.create_map(*pairs)[c]


@rule("marital_status_mismatch")
def marital_status_mismatch(x: RuleInputs) -> DataFrame:
    """户籍 marital status category against the latest IA/IB registration of the person."""
    from jobs.pipeline.base.person import latest_marriage_events

    grace = rule_conf("marital_status_mismatch").get("grace_days", 30)
    events = latest_marriage_events(x.rows("mzj_hydj"), x.links, x.as_of)
    spouse = x.person.select(
        F.col("person_id").alias("spouse_id"), F.col("death_date").alias("spouse_death")
    )
    events = events.join(spouse, "spouse_id", "left")
    widowed = F.col("spouse_death").isNotNull()
    implied = (
        F.when((F.col("event") == "IA") & widowed, "widowed")
        .when(F.col("event") == "IA", "married")
        .when(F.col("event") == "IB", "divorced")
    )
    # 户籍 records a marriage, a divorce or a spouse's death within the grace period
    recent = ~x.days_ago(F.col("event_date"), grace) | (
        widowed & ~x.days_ago(F.col("spouse_death"), grace)
    )
    events = events.select("person_id", implied.alias("implied"), recent.alias("_recent"))
    hjrk = x.rows("gaj_hjrk").select(
        "_file",
        "_row_number",
        S.delivered("gaj_hjrk", "marital_status").alias("code"),
    )
    rows = subject_rows(hjrk, x.links, "gaj_hjrk").filter(F.col("code").isNotNull())
    rows = rows.groupBy("person_id").agg(F.min("code").alias("code"))
    df = rows.join(events, "person_id").filter(F.col("implied").isNotNull() & ~F.col("_recent"))
    df = df.withColumn("_cat", _category(F.col("code")))
    return _checks(
        df,
        "person",
        source_id=F.lit("gaj_hjrk"),
        entity_id="person_id",
        attribute=F.lit("marital_status"),
        observed="code",
        expected="implied",
        authoritative_source=F.lit("mzj_hydj"),
        failed=F.col("_cat") != F.col("implied"),
    )


@rule("birth_not_registered")
def birth_not_registered(x: RuleInputs) -> DataFrame:
    """Births certified ``lag_days`` ago or more: is a child of that birth date and sex in the
    mother's household or the father's?"""
    lag = rule_conf("birth_not_registered").get("lag_days", 60)
    homes = birth_certificate_homes(x.rows("wjw_cszm"), x.links, x.person).filter(
        F.col("cert").isNotNull()
        & F.col("birth_date").isNotNull()
        & F.col("sex").isNotNull()
        & x.days_ago(F.col("issued_on"), lag)
    )
    kids = (
        x.person.filter(F.col("household_no").isNotNull())
        .select("household_no", "birth_date", "sex")
        .distinct()
        .withColumn("_in", F.lit(True))
    )
    kids = x.lake.checkpoint(kids, "household-children")
    df = (
        homes.join(kids, ["household_no", "birth_date", "sex"], "left")
        .groupBy("cert")
        .agg(F.max(F.col("_in").isNotNull()).alias("_registered"))
    )
    return _checks(
        df,
        "person",
        source_id=F.lit("gaj_hjrk"),
        entity_id="cert",
        attribute=F.lit("registration"),
        observed=F.when(F.col("_registered"), "registered"),
        expected=F.lit("registered"),
        authoritative_source=F.lit("wjw_cszm"),
        failed=~F.col("_registered"),
    )


# ------------------------------------------------------------------------------ legal persons
def _registration_status(x: RuleInputs) -> DataFrame:
    """(uscc, reg_status, since) of each enterprise at 市场监管: ``since`` is the date of its
    cancellation, or of the latest approval (a revocation has no date of its own)."""
    dates = x.rows("scjgj_qydj").select(
        "_file",
        "_row_number",
        F.coalesce(
            S.delivered("scjgj_qydj", "cancelled_on"), S.delivered("scjgj_qydj", "approved_on")
        ).alias("since"),
    )
    return (
        x.legal_records.filter(F.col("uscc").isNotNull() & (F.col("source_id") == "scjgj_qydj"))
        .join(dates, ["_file", "_row_number"], "left")
        .groupBy("uscc")
        .agg(F.max("reg_status").alias("reg_status"), F.max("since").alias("since"))
    )


@rule("enterprise_status_conflict")
def enterprise_status_conflict(x: RuleInputs) -> DataFrame:
    """市场监管 registration status against 税务 taxpayer status, per credit code."""
    grace = rule_conf("enterprise_status_conflict").get("grace_days", 30)
    rec = x.legal_records.filter(F.col("uscc").isNotNull())
    reg = _registration_status(x)
    tax = (
        rec.filter((F.col("source_id") == "swj_swdj") & F.col("tax_status").isNotNull())
        .groupBy("uscc")
        .agg(F.max("tax_status").alias("tax_status"))
    )
    df = reg.join(tax, "uscc").filter(F.col("reg_status").isNotNull())
    closed = F.col("reg_status").isin("cancelled", "revoked")
    settled = F.col("since").isNull() | x.days_ago(F.col("since"), grace)
    failed = (closed & settled & (F.col("tax_status") != "cancelled")) | (
        (F.col("reg_status") == "active") & (F.col("tax_status") == "cancelled")
    )
    expected = F.when(closed, "cancelled").otherwise("not cancelled")
    return _checks(
        df.filter(~closed | settled),
        "legal_person",
        source_id=F.lit("swj_swdj"),
        entity_id="uscc",
        attribute=F.lit("tax_status"),
        observed="tax_status",
        expected=expected,
        authoritative_source=F.lit("scjgj_qydj"),
        failed=failed,
    )


@rule("legal_rep_mismatch")
def legal_rep_mismatch(x: RuleInputs) -> DataFrame:
    """The legal representative at 税务 against 市场监管's: the same person (by linked ID number
    where both are linked, else by name)."""
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
    return _checks(
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


@rule("employer_unknown")
def employer_unknown(x: RuleInputs) -> DataFrame:
    """Employer codes in 参保 against the legal persons the base libraries know."""
    refs = x.legal_person_link.filter(
        (F.col("source_id") == "rsj_sbcb") & (F.col("role") == "employer")
    )
    per = refs.groupBy("code_delivered").agg(F.max(F.col("uscc").isNotNull()).alias("_known"))
    return _checks(
        per,
        "legal_person",
        source_id=F.lit("rsj_sbcb"),
        entity_id="code_delivered",
        attribute=F.lit("employer_uscc"),
        observed="code_delivered",
        expected=_none(),
        authoritative_source=F.lit("scjgj_qydj"),
        failed=~F.col("_known"),
    )


# ------------------------------------------------------------------------------ licences
@rule("licence_holder_unknown")
def licence_holder_unknown(x: RuleInputs) -> DataFrame:
    lic = x.licence.filter(F.col("issued_by_platform") & F.col("licence_uid").isNotNull())
    return _checks(
        lic,
        "licence",
        source_id=F.lit("zwfw_dzzz"),
        entity_id="licence_uid",
        attribute=F.lit("holder_code"),
        observed="holder_code",
        expected=_none(),
        authoritative_source=F.when(F.col("holder_kind") == "legal_person", "scjgj_qydj").otherwise(
            "gaj_hjrk"
        ),
        failed=~F.coalesce(F.col("holder_known"), F.lit(False)),
    )


@rule("licence_status_conflict")
def licence_status_conflict(x: RuleInputs) -> DataFrame:
    """Valid platform licences against the holder's life: deceased, cancelled or revoked."""
    types = rule_conf("licence_status_conflict").get("licence_types")
    lic = x.licence.filter(
        F.col("issued_by_platform")
        & F.col("licence_uid").isNotNull()
        & (F.col("licence_type").isin(*types) if types else F.lit(True))
        # 有效 on the platform (silver calls it expired once past its valid-to date)
        & F.col("status").isin("valid", "expired")
        & F.coalesce(F.col("holder_known"), F.lit(False))
    )
    grace = rule_conf("licence_status_conflict").get("grace_days", 30)
    dead = x.person.filter(
        F.col("is_deceased") & F.coalesce(x.days_ago(F.col("death_date"), grace), F.lit(True))
    ).select(F.col("person_id").alias("holder_code"), F.lit("deceased").alias("_p"))
    closed = x.legal_person.filter(
        F.col("reg_status").isin("cancelled", "revoked") & F.col("uscc").isNotNull()
    ).select(F.col("uscc").alias("holder_code"), F.col("reg_status").alias("_l"))
    # an enterprise closed at 市场监管 within the grace period: the platform follows within days
    recent = _registration_status(x).filter(
        ~F.coalesce(x.days_ago(F.col("since"), grace), F.lit(True))
    )
    closed = closed.join(
        recent.select(F.col("uscc").alias("holder_code")), "holder_code", "left_anti"
    )
    df = lic.join(dead, "holder_code", "left").join(closed, "holder_code", "left")
    df = df.withColumn("_life", F.coalesce("_p", "_l"))
    return _checks(
        df,
        "licence",
        source_id=F.lit("zwfw_dzzz"),
        entity_id="licence_uid",
        attribute=F.lit("status"),
        observed="status",
        expected=F.when(F.col("_life").isNotNull(), "cancelled").otherwise("valid"),
        authoritative_source=F.when(F.col("_p").isNotNull(), "wjw_swzm").otherwise("scjgj_qydj"),
        failed=F.col("_life").isNotNull(),
    )
