"""The GX project under the lake is reused from date to date: its data source, assets, batch
definitions, suites and validation definitions are stored again only when a suite changed."""

from __future__ import annotations

import pytest

from jobs.pipeline.quality import suites


@pytest.fixture
def project(tmp_path, spark):  # the Spark source checks its session when added
    return tmp_path / "_gx"


def _definition(root, name: str, change=None):
    ctx, source = suites._gx_project(root)
    suite = suites.load_suite(name)
    if change:
        change(suite)
    return ctx, suites._validation_definition(ctx, suites._whole_frame(source, name), suite)


def _stored_files(root) -> dict[str, int]:
    return {
        str(p.relative_to(root)): p.stat().st_mtime_ns
        for p in (root / "gx").rglob("*")
        if p.is_file() and "uncommitted" not in p.parts
    }


def test_a_second_date_stores_nothing_again(project):
    name = "silver.person"
    _definition(project, name)
    before = _stored_files(project)
    assert any("validation_definitions" in f for f in before)
    _, vd = _definition(project, name)
    assert _stored_files(project) == before  # no file written, the configuration included
    assert vd.name == name and vd.data.data_asset.name == name
    assert suites._same_suite(vd.suite, suites.load_suite(name))


def test_a_changed_suite_is_stored_anew(project):
    name = "silver.person"
    _definition(project, name)

    def stricter(suite):
        suite.expectations[0].meta = {**(suite.expectations[0].meta or {}), "dimension": "x"}

    _, vd = _definition(project, name, stricter)
    changed = suites.load_suite(name)
    stricter(changed)
    assert suites._same_suite(vd.suite, changed)
    assert not suites._same_suite(vd.suite, suites.load_suite(name))
    # and the next date, with the file's suite again, stores that back
    _, vd = _definition(project, name)
    assert suites._same_suite(vd.suite, suites.load_suite(name))


def test_two_tables_share_the_source(project):
    _definition(project, "silver.person")
    ctx, vd = _definition(project, "silver.licence")
    names = sorted(a.name for a in ctx.data_sources.get(suites.SOURCE).assets)
    assert names == ["silver.licence", "silver.person"]
    assert vd.data.data_asset.name == "silver.licence"
