"""Helpers of the legal-person rules: an enterprise's registration status at 市场监管."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.pipeline import standardise as S
from jobs.pipeline.quality.rules.common import RuleInputs


def registration_status(x: RuleInputs) -> DataFrame:
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
