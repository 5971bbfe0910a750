"""The stage registry: the one list of stages, in order, that ``govlake run`` walks for each
business date and from which the Airflow build DAGs are made (jobs/orchestration/schedule.py).

Each stage is a function ``(ctx, business_date) -> StageReport`` whose run is imported only
when it runs, so reading the registry costs nothing.
"""

from __future__ import annotations

import datetime as dt

from jobs.pipeline.stage import RunContext, Stage, StageReport


def _bronze(ctx: RunContext, business_date: dt.date) -> StageReport:
    from jobs.pipeline.ingest.run import ingest_date

    return ingest_date(
        ctx.lake, ctx.landing, business_date=business_date, echo=ctx.echo, progress=ctx.progress
    )


def _base(ctx: RunContext, business_date: dt.date) -> StageReport:
    from jobs.pipeline.base.run import build_base

    return build_base(ctx.lake, business_date, echo=ctx.echo)


def _quality(ctx: RunContext, business_date: dt.date) -> StageReport:
    from jobs.pipeline.quality.run import build_quality

    return build_quality(ctx.lake, business_date, echo=ctx.echo, full=ctx.full)


def _themes(ctx: RunContext, business_date: dt.date) -> StageReport:
    from jobs.pipeline.themes.run import build_themes

    return build_themes(ctx.lake, business_date, echo=ctx.echo, full=ctx.full)


def _scores(ctx: RunContext, business_date: dt.date) -> StageReport:
    from jobs.pipeline.quality.scoring import score_date

    return score_date(ctx.lake, business_date, echo=ctx.echo)


def _catalog(ctx: RunContext, business_date: dt.date) -> StageReport:
    from jobs.pipeline.catalog.run import build_catalog

    return build_catalog(ctx.lake, business_date, echo=ctx.echo)


STAGES: list[Stage] = [
    Stage("bronze", "ingest every source's delivery into bronze, quarantine and audit", _bronze),
    Stage("base", "base libraries: person links, 人口库, 法人库, 电子证照库", _base),
    Stage("quality", "多源校核: expectations, cross-source rules and findings", _quality),
    Stage(
        "themes", "主题库: 一人一档 gold.person_profile, 一企一档 gold.enterprise_profile", _themes
    ),
    Stage("scores", "the themes' suites and the date's GB/T 36344 quality scores", _scores),
    Stage(
        "catalog", "政务数据目录: resources, fields, 重复采集 (from conf/ and schemas/)", _catalog
    ),
]


def stage_names() -> list[str]:
    """The stages' names, in the order they run."""
    return [s.name for s in STAGES]
