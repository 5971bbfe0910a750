"""silver.legal_person (法人库): enterprises from 市场监管, social organisations from 民政, tax
status from 税务; each attribute from its authority (conf/authority.yaml).

A legal person is identified by its unified social credit code. Records without a valid code
are mapped to one, in order:
1. a legacy registration number (注册号) that the market registry holds together with a code;
2. a legacy taxpayer number (old 税务登记号 = 6-digit division + 9-character organisation code)
   rebuilt as ``91`` + division + organisation code + its check character;
3. the exact (cleaned) name of a legal person whose code is known by 1 or 2, when exactly one
   has that name.
Records that still have no code are kept with their delivered number as ``entity_id`` and
``uscc`` empty: they stay visible for the quality stage (nothing is dropped).
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.pipeline import standardise as S
from jobs.pipeline.base.authority import CLAIM_COLUMNS, pick, wide
from jobs.pipeline.stage import Checkpoint, no_checkpoint
from jobs.platform import settings

ATTRIBUTES = [
    "name",
    "org_kind",
    "legal_rep_name",
    "legal_rep_id",
    "founded_on",
    "reg_status",
    "tax_status",
    "region_code",
]
WITH_SOURCE = ["name", "legal_rep_name", "reg_status", "tax_status"]


def _none() -> F.Column:
    return F.lit(None).cast("string")


# Each registry's record in one shape: the columns each source supplies (others are null).
RECORD_COLUMNS = [
    "code",
    "reg_no",
    "name",
    "org_kind",
    "legal_rep_name",
    "rep_delivered",
    "founded_on",
    "reg_status",
    "tax_status",
]
SOURCES = {
    "scjgj_qydj": lambda: {
        "code": S.uscc_normalise(F.col("uscc")),
        "reg_no": S.clean_name(F.col("reg_no")),
        "org_kind": F.lit("enterprise"),
        "founded_on": S.parse_date(F.col("founded_on"), ["%Y-%m-%d", "%Y年%m月%d日"]).cast(
            "string"
        ),
        "reg_status": S.map_code(F.col("reg_status"), "enterprise_status"),
    },
    "mzj_shzz": lambda: {
        "code": S.uscc_normalise(F.col("uscc")),
        "org_kind": F.lit("social_org"),
        "founded_on": S.parse_date(F.col("founded_on"), ["%Y-%m-%d"]).cast("string"),
        "reg_status": S.map_code(F.col("reg_status"), "social_org_status"),
    },
    "swj_swdj": lambda: {
        "code": S.uscc_normalise(F.col("taxpayer_id")),
        "tax_status": S.map_code(F.col("tax_status"), "tax_status"),
    },
}


def _records(current: Mapping[str, DataFrame], links: DataFrame) -> DataFrame:
    """Every current legal-person record of the three registries in one shape."""
    rep = links.filter(F.col("role") == "legal_rep").select(
        "source_id", "_file", "_row_number", F.col("person_id").alias("rep_person_id")
    )
    out = None
    for source_id, columns in SOURCES.items():
        given = {
            "name": S.clean_name(F.col("name")),
            "legal_rep_name": S.clean_name(F.col("legal_rep_name")),
            "rep_delivered": S.id_normalise(F.col("legal_rep_id")),
            **columns(),
        }
        frame = current[source_id].select(
            F.lit(source_id).alias("source_id"),
            "_business_date",
            "_file",
            "_row_number",
            *[given.get(c, _none()).alias(c) for c in RECORD_COLUMNS],
        )
        out = frame if out is None else out.unionByName(frame)
    return out.join(rep, ["source_id", "_file", "_row_number"], "left")


def _resolve_codes(rec: DataFrame, checkpoint, licence_names: DataFrame) -> DataFrame:
    """``uscc`` for each record by the rules of the module docstring.

    ``licence_names`` (name, code) from the e-licence platform's business licences add to the
    names a code can be found by: the platform is not the authority for legal persons, but the
    licence it issued names the holder's code.
    """
    rec = rec.withColumn("_valid", S.uscc_is_valid(F.col("code")))
    # a legacy taxpayer number is a division code and an organisation code: the credit code
    # of an enterprise (登记管理部门 9, 类别 1) follows from it with its check character
    body = F.concat(F.lit("91"), F.substring("code", 1, 6), F.substring("code", 7, 9))
    rec = rec.withColumn(
        "_body", F.when(F.col("code").rlike("^[0-9]{6}[0-9A-HJ-NPQRTUWXY]{9}$"), body)
    )
    rec = rec.withColumn("_rebuilt", F.concat(F.col("_body"), S.uscc_check_char(F.col("_body"))))
    both = (
        rec.filter(F.col("_valid") & F.col("reg_no").isNotNull())
        .select(F.col("reg_no").alias("k_reg_no"), F.col("code").alias("by_reg_no"))
        .distinct()
    )
    rec = rec.join(both, F.col("reg_no") == F.col("k_reg_no"), "left").withColumn(
        "_uscc",
        F.when(F.col("_valid"), F.col("code")).otherwise(F.coalesce("by_reg_no", "_rebuilt")),
    )
    rec = checkpoint(rec, "legal-person-codes")
    names = (
        rec.filter(F.col("_uscc").isNotNull() & F.col("name").isNotNull())
        .select(F.col("name").alias("k_name"), F.col("_uscc").alias("by_name"))
        .unionByName(licence_names)
        .distinct()
    )
    unique = (
        names.groupBy("k_name")
        .agg(F.count("*").alias("n"), F.min("by_name").alias("by_name"))
        .filter(F.col("n") == 1)
        .drop("n")
    )
    rec = rec.join(unique, F.col("name") == F.col("k_name"), "left")
    method = (
        F.when(F.col("_valid"), "exact_code")
        .when(F.col("by_reg_no").isNotNull(), "reg_no")
        .when(F.col("_rebuilt").isNotNull(), "taxpayer_no")
        .when(F.col("by_name").isNotNull(), "name")
        .otherwise("unresolved")
    )
    return rec.withColumn("uscc", F.coalesce("_uscc", "by_name")).withColumn("match_method", method)


def _licence_names(
    current: Mapping[str, DataFrame], checkpoint: Checkpoint = no_checkpoint
) -> DataFrame:
    """(k_name, by_name): each 营业执照 holder's name and credit code on the platform.

    The cleaned codes are materialised before they are checked: Sail pushes the check below
    the projection, evaluating the cleaning once per character the check reads, for every
    licence (5 s instead of 0.2 s at 100k persons).
    """
    lic = current["zwfw_dzzz"].filter(S.clean_text(F.col("licence_name")) == "营业执照")
    lic = lic.select(
        S.clean_name(F.col("holder_name")).alias("k_name"),
        S.uscc_normalise(F.col("holder_code")).alias("by_name"),
    )
    lic = checkpoint(lic, "licence-holder-codes")
    return lic.filter(S.uscc_is_valid(F.col("by_name")) & F.col("k_name").isNotNull())


def legal_person_records(
    *, links: DataFrame, current: Mapping[str, DataFrame], checkpoint: Checkpoint = no_checkpoint
) -> DataFrame:
    """Every current record of the three registries with its resolved code and how it was found."""
    # checkpoints: _resolve_codes joins the records with frames derived from themselves, a
    # self-join that Sail mis-resolves ("No field named #n") unless the records are materialised
    rec = checkpoint(_records(current, links), "legal-person-records")
    rec = _resolve_codes(rec, checkpoint, _licence_names(current, checkpoint))
    rec = rec.withColumn("entity_id", F.coalesce("uscc", "code", "reg_no"))
    rec = rec.withColumn("legal_rep_id", F.coalesce("rep_person_id", "rep_delivered"))
    return checkpoint(rec, "legal-person-names")


def build_legal_person(rec: DataFrame) -> DataFrame:
    """silver.legal_person from the resolved records (legal_person_records)."""
    claims = None
    for a in ATTRIBUTES:
        value = F.substring("entity_id", 3, 6) if a == "region_code" else F.col(a)
        df = rec.select(
            "entity_id",
            F.lit(a).alias("attribute"),
            "source_id",
            F.when(F.col("uscc").isNotNull() | (F.lit(a) != "region_code"), value).alias("value"),
            "_business_date",
        )
        claims = df if claims is None else claims.unionByName(df)
    order = settings.authority().order("legal_person")
    order["org_kind"] = ["mzj_shzz", "scjgj_qydj", "swj_swdj"]
    w = wide(pick(claims.select(*CLAIM_COLUMNS), order), ATTRIBUTES, with_source=WITH_SOURCE)
    ids = rec.groupBy("entity_id").agg(F.max("uscc").alias("uscc"), F.max("reg_no").alias("reg_no"))
    return ids.join(w, "entity_id").select(
        "uscc",
        "entity_id",
        "reg_no",
        "name",
        F.coalesce("org_kind", F.lit("enterprise")).alias("org_kind"),
        "legal_rep_name",
        "legal_rep_id",
        F.col("founded_on").cast("date").alias("founded_on"),
        "reg_status",
        "tax_status",
        "region_code",
        *[f"{a}_source" for a in WITH_SOURCE],
    )


def legal_person_links(
    *, records: DataFrame, known: DataFrame, current: Mapping[str, DataFrame]
) -> DataFrame:
    """silver.legal_person_link: every record and reference naming a legal person, resolved.

    The registries' own records (role ``subject``) with the method that found their code
    (``exact_code`` | ``reg_no`` | ``taxpayer_no`` | ``name`` | ``unresolved``), and the
    references other sources make: employers in 参保 (``employer``) and licence holders
    (``holder``), ``exact_code`` when the code names a known legal person, else ``unresolved``.
    """
    subjects = records.select(
        "source_id",
        "_business_date",
        "_file",
        "_row_number",
        F.lit("subject").alias("role"),
        F.col("code").alias("code_delivered"),
        "uscc",
        "match_method",
    )
    codes = known.filter(F.col("uscc").isNotNull()).select(F.col("uscc").alias("_known")).distinct()
    refs = []
    for source_id, column, role, when in (
        ("rsj_sbcb", "employer_uscc", "employer", None),
        ("zwfw_dzzz", "holder_code", "holder", ("holder_code_type", "001")),
    ):
        rows = current[source_id]
        if when:
            rows = rows.filter(S.clean_text(F.col(when[0])) == when[1])
        refs.append(
            rows.select(
                F.lit(source_id).alias("source_id"),
                "_business_date",
                "_file",
                "_row_number",
                F.lit(role).alias("role"),
                S.uscc_normalise(F.col(column)).alias("code_delivered"),
            ).filter(F.col("code_delivered").isNotNull())
        )
    others = (
        refs[0].unionByName(refs[1]).join(codes, F.col("code_delivered") == F.col("_known"), "left")
    )
    others = others.select(
        "source_id",
        "_business_date",
        "_file",
        "_row_number",
        "role",
        "code_delivered",
        F.col("_known").alias("uscc"),
        F.when(F.col("_known").isNotNull(), "exact_code")
        .otherwise("unresolved")
        .alias("match_method"),
    )
    return subjects.unionByName(others)
