"""silver.licence (电子证照库): one row per licence.

The e-licence platform is the authority for issuance: each identifier's latest delivered record
gives type, number, holder, issuer, dates and status (``expired`` when 有效 but past its
valid-to date on the business date). Departmental records imply licences the platform should
hold: a marriage registration two 结婚证 (or 离婚证), a birth certificate the 出生医学证明 (holder:
the mother), an enterprise its 营业执照. When the platform has no licence of that type and number
for that holder, the implied one is listed with ``licence_uid`` empty, ``issued_by_platform``
false and ``licence_source`` naming the department's source. ``licence_key`` is the identifier,
or ``implied:<type>:<number>:<holder>`` for an implied licence. ``holder_known`` says whether the
holder is a person of silver.person or a legal person of silver.legal_person.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.pipeline import standardise as S
from jobs.pipeline.stage import Checkpoint, no_checkpoint

STATUS = F.create_map(
    F.lit("1"), F.lit("valid"), F.lit("2"), F.lit("cancelled"), F.lit("3"), F.lit("revoked")
)


def _platform(current: Mapping[str, DataFrame], as_of: dt.date, links: DataFrame) -> DataFrame:
    rows = current["zwfw_dzzz"]
    latest = Window.partitionBy("_uid").orderBy(
        F.col("_business_date").desc(), F.col("_file").desc(), F.col("_row_number").desc()
    )
    rows = rows.withColumn("_uid", S.clean_name(F.col("licence_uid"))).filter(
        F.col("_uid").isNotNull()
    )
    rows = rows.withColumn("_n", F.row_number().over(latest)).filter(F.col("_n") == 1)
    holder = links.filter((F.col("source_id") == "zwfw_dzzz") & (F.col("role") == "holder")).select(
        "_file", "_row_number", F.col("person_id").alias("_holder_person")
    )
    rows = rows.join(holder, ["_file", "_row_number"], "left")
    kind = S.map_code(F.col("holder_code_type"), "holder_code_type")
    valid_to = S.parse_date(F.col("valid_to"), ["%Y-%m-%d"])
    status = STATUS[S.clean_text(F.col("status"))]
    return rows.select(
        F.col("_uid").alias("licence_uid"),
        S.clean_text(F.col("licence_name")).alias("licence_type"),
        S.clean_name(F.col("licence_no")).alias("licence_no"),
        F.when(kind == "person", F.coalesce("_holder_person", S.id_normalise(F.col("holder_code"))))
        .otherwise(S.uscc_normalise(F.col("holder_code")))
        .alias("holder_code"),
        kind.alias("holder_kind"),
        S.clean_name(F.col("holder_name")).alias("holder_name"),
        S.uscc_normalise(F.col("issuer_code")).alias("issuer_code"),
        S.parse_date(F.col("issued_on"), ["%Y-%m-%d"]).alias("issued_on"),
        valid_to.alias("valid_to"),
        F.when((status == "valid") & (valid_to < F.lit(as_of)), "expired")
        .otherwise(status)
        .alias("status"),
        F.lit(True).alias("issued_by_platform"),
        F.lit("zwfw_dzzz").alias("licence_source"),
    )


def _implied(current: Mapping[str, DataFrame], links: DataFrame, legal: DataFrame) -> DataFrame:
    """Licences that departmental records imply (see the module docstring)."""
    hydj = current["mzj_hydj"]
    party = links.filter(F.col("source_id") == "mzj_hydj").select(
        "_file",
        "_row_number",
        F.col("person_id").alias("holder_code"),
        F.col("name").alias("holder_name"),
    )
    kind = S.map_code(F.col("reg_type"), "marriage_reg_type")
    marriages = hydj.join(party, ["_file", "_row_number"]).select(
        F.when(kind.isin("IA", "ICA"), "结婚证").otherwise("离婚证").alias("licence_type"),
        S.clean_name(F.col("certificate_no")).alias("licence_no"),
        "holder_code",
        "holder_name",
        S.parse_date(F.col("reg_date"), ["%Y-%m-%d"]).alias("issued_on"),
        F.lit("mzj_hydj").alias("licence_source"),
    )
    mothers = links.filter((F.col("source_id") == "wjw_cszm") & (F.col("role") == "mother")).select(
        "_file",
        "_row_number",
        F.col("person_id").alias("holder_code"),
        F.col("name").alias("holder_name"),
    )
    births = (
        current["wjw_cszm"]
        .join(mothers, ["_file", "_row_number"])
        .select(
            F.lit("出生医学证明").alias("licence_type"),
            S.clean_name(F.col("certificate_no")).alias("licence_no"),
            "holder_code",
            "holder_name",
            S.parse_date(F.col("issued_on"), ["%Y-%m-%d"]).alias("issued_on"),
            F.lit("wjw_cszm").alias("licence_source"),
        )
    )
    firms = legal.filter((F.col("org_kind") == "enterprise") & F.col("uscc").isNotNull()).select(
        F.lit("营业执照").alias("licence_type"),
        F.col("uscc").alias("licence_no"),
        F.col("uscc").alias("holder_code"),
        F.col("name").alias("holder_name"),
        F.col("founded_on").alias("issued_on"),
        F.lit("scjgj_qydj").alias("licence_source"),
    )
    return (
        marriages.unionByName(births)
        .unionByName(firms)
        .filter(F.col("holder_code").isNotNull())
        .dropDuplicates(["licence_type", "licence_no", "holder_code"])
    )


def build_licence(
    *,
    links: DataFrame,
    person: DataFrame,
    legal: DataFrame,
    current: Mapping[str, DataFrame],
    as_of: dt.date,
    checkpoint: Checkpoint = no_checkpoint,
) -> DataFrame:
    """silver.licence for ``as_of``: the platform's licences, and those the registries imply
    (marriages, births, business licences) that the platform has not issued."""
    platform = checkpoint(_platform(current, as_of, links), "licence-platform")
    implied = _implied(current, links, legal).join(
        platform.select("licence_type", "licence_no", "holder_code"),
        ["licence_type", "licence_no", "holder_code"],
        "left_anti",
    )
    implied = implied.select(
        F.lit(None).cast("string").alias("licence_uid"),
        "licence_type",
        "licence_no",
        "holder_code",
        F.when(F.col("licence_type") == "营业执照", "legal_person")
        .otherwise("person")
        .alias("holder_kind"),
        "holder_name",
        F.lit(None).cast("string").alias("issuer_code"),
        "issued_on",
        F.lit(None).cast("date").alias("valid_to"),
        F.lit("valid").alias("status"),
        F.lit(False).alias("issued_by_platform"),
        "licence_source",
    )
    everything = platform.unionByName(implied)
    holders = (
        person.select(F.col("person_id").alias("_h"))
        .unionByName(legal.filter(F.col("uscc").isNotNull()).select(F.col("uscc").alias("_h")))
        .distinct()
    )
    key = F.coalesce(
        F.col("licence_uid"),
        F.concat_ws(":", F.lit("implied"), "licence_type", "licence_no", "holder_code"),
    )
    return (
        everything.join(
            holders.withColumn("holder_known", F.lit(True)),
            F.col("holder_code") == F.col("_h"),
            "left",
        )
        .drop("_h")
        .withColumn("holder_known", F.coalesce("holder_known", F.lit(False)))
        .withColumn("licence_key", key)
    )
