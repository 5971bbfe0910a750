"""The stage registry that ``govlake run`` walks for each business date, in order.

Each stage is a function ``(ctx, business_date) -> StageReport``. Later issues register the
base libraries, quality, themes and catalogue stages here; nothing else needs to change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jobs.lake import Lake

BASE_LAST_JOB = "base.licence"  # the base stage's last run of a date (lineage.runs)


@dataclass
class RunContext:
    lake: Lake
    landing: Path
    echo: Callable[[str], None] = print  # progress lines for the user, as work finishes


@dataclass
class StageReport:
    stage: str
    business_date: dt.date
    lines: list[str] = field(default_factory=list)  # the summary (already shown as progress)
    problems: list[str] = field(default_factory=list)  # warnings that do not fail the run
    failures: list[str] = field(default_factory=list)  # what failed (the run ends non-zero)
    details: object = None

    def say(self, lines: list[str], echo: Callable[[str], None]) -> None:
        """Show ``lines`` as the stage's progress and keep them as its summary."""
        for line in lines:
            echo("   " + line)
        self.lines += lines


@dataclass(frozen=True)
class Stage:
    name: str
    description: str
    run: Callable[[RunContext, dt.date], StageReport]


def _bronze(ctx: RunContext, business_date: dt.date) -> StageReport:
    from jobs.ingest.run import ingest_date

    return ingest_date(ctx.lake, ctx.landing, business_date, echo=ctx.echo)


def _base(ctx: RunContext, business_date: dt.date) -> StageReport:
    from jobs.base.run import build_base

    return build_base(ctx.lake, business_date, echo=ctx.echo)


def _quality(ctx: RunContext, business_date: dt.date) -> StageReport:
    from jobs.quality.run import build_quality

    return build_quality(ctx.lake, business_date, echo=ctx.echo)


def _themes(ctx: RunContext, business_date: dt.date) -> StageReport:
    from jobs.gold.run import build_themes

    return build_themes(ctx.lake, business_date, echo=ctx.echo)


def _catalog(ctx: RunContext, business_date: dt.date) -> StageReport:
    from jobs.catalog.run import build_catalog

    return build_catalog(ctx.lake, business_date, echo=ctx.echo)


STAGES: list[Stage] = [
    Stage("bronze", "ingest every source's delivery into bronze, quarantine and audit", _bronze),
    Stage("base", "base libraries: person links, 人口库, 法人库, 电子证照库", _base),
    Stage("quality", "多源校核: expectations, cross-source rules, findings and scores", _quality),
    Stage(
        "themes", "主题库: 一人一档 gold.person_profile, 一企一档 gold.enterprise_profile", _themes
    ),
    Stage(
        "catalog", "政务数据目录: resources, fields, 重复采集 (from conf/ and schemas/)", _catalog
    ),
]
