"""What every cross-source rule shares: its settings, its inputs and the shape of its checks.

A rule is a pure function ``evaluate(inputs, settings) -> DataFrame`` of *checks*: one row per
item it evaluated, with ``CHECK_COLUMNS`` (the source held responsible, 谁提供谁负责; the
entity; the attribute; the observed and the expected value; the authoritative source; and
``failed``). It reads only its inputs, never the lake, so it is tested on a handful of inline
rows (golden cases beside each rule) and run by the quality stage on the base libraries as of
the business date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from pydantic import Field
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.pipeline import standardise as S
from jobs.platform.config import Frozen

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

# the dimensions of GB/T 36344 that govlake scores (quality.scores), in the report's order
DIMENSIONS = [
    "conformity",
    "completeness",
    "accuracy",
    "consistency",
    "timeliness",
    "accessibility",
    "uniqueness",
]
Dimension = Literal[tuple(DIMENSIONS)]


class RuleSettings(Frozen):
    """A rule's section of conf/quality.yaml. A rule with parameters subclasses it."""

    dimension: Dimension
    entity_kind: Literal["person", "legal_person", "licence"]
    responsible: str  # the source held responsible, or how the rule decides it
    table: str  # the table its results count against
    description: str
    enabled: bool = True
    weight: float = Field(1.0, gt=0)  # its weight within its dimension's score
    # how urgent its findings are: sets their due date (conf/quality.yaml due_days)
    severity: Literal["high", "medium", "low"] = "medium"


class GraceSettings(RuleSettings):
    """A rule that leaves departments ``grace_days`` to catch up with an event."""

    grace_days: int = Field(30, ge=0)


def _no_checkpoint(df: DataFrame, _name: str) -> DataFrame:
    return df


@dataclass(frozen=True)
class RuleInputs:
    """The base libraries and each source's current records as of one business date.

    ``current`` maps a source to its current bronze rows (the stage passes a mapping that reads
    on first use); ``checkpoint`` materialises a frame a rule uses twice (the identity in tests).
    """

    as_of: dt.date
    person: DataFrame
    links: DataFrame
    legal_person: DataFrame
    legal_person_link: DataFrame
    licence: DataFrame
    current: Mapping[str, DataFrame]
    checkpoint: Callable[[DataFrame, str], DataFrame] = field(default=_no_checkpoint)

    def rows(self, source_id: str) -> DataFrame:
        """The source's current bronze rows."""
        return self.current[source_id]

    def days_ago(self, c: Column, days: int) -> Column:
        """``c`` lies at least ``days`` before the business date."""
        return c <= F.date_sub(F.lit(self.as_of), int(days))

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
        return self.checkpoint(rec, "legal-records")


def checks(df: DataFrame, kind: str, **cols: Column | str) -> DataFrame:
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


def none() -> Column:
    """An empty string value (a check with no expected value)."""
    return F.lit(None).cast("string")


@dataclass(frozen=True)
class Rule:
    """One rule: its id (spec/curated.md), its settings model and its evaluation."""

    rule_id: str
    settings: type[RuleSettings]
    evaluate: Callable[[RuleInputs, RuleSettings], DataFrame]
    doc: str  # its paragraph for officers (the module's docstring)
    # each distinct observed value is a finding of its own (two wrong numbers delivered for
    # one person are two problems to fix); otherwise one finding per entity, attribute, source
    per_value: bool = False
