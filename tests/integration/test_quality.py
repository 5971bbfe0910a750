"""The quality stage on the session's sample city: suites, results, findings, scores, report."""

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import functions as F

from jobs.pipeline.quality.rules import enabled_rules
from jobs.pipeline.quality.rules.common import DIMENSIONS
from jobs.pipeline.quality.suites import all_suites, load_suite, suite_files
from jobs.platform.config import project_dir

DAYS = [dt.date(2026, 11, 2), dt.date(2026, 11, 3), dt.date(2026, 11, 4)]

# How many expectations each suite holds: GX silently drops an expectation whose class is not
# registered, so a changed count here is either a deliberate edit or a lost expectation.
EXPECTED_COUNTS = {
    "bronze.gaj_hjrk": 14,
    "bronze.mzj_hydj": 10,
    "bronze.mzj_shzz": 9,
    "bronze.rsj_sbcb": 14,
    "bronze.scjgj_qydj": 11,
    "bronze.swj_swdj": 9,
    "bronze.wjw_cszm": 9,
    "bronze.wjw_swzm": 8,
    "bronze.zwfw_dzzz": 12,
    "silver.legal_person": 7,
    "silver.legal_person_link": 2,
    "silver.licence": 5,
    "silver.person": 9,
    "silver.person_link": 3,
    "gold.person_profile": 7,
    "gold.enterprise_profile": 5,
}


def test_every_suite_loads_with_all_its_expectations():
    files = suite_files()
    assert set(files) == set(EXPECTED_COUNTS)
    for name, path in files.items():
        data = json.loads(path.read_text(encoding="utf-8"))
        suite = load_suite(name)
        assert len(suite.expectations) == len(data["expectations"]) == EXPECTED_COUNTS[name]
        assert all((e.meta or {}).get("dimension") in DIMENSIONS for e in suite.expectations)


def test_suite_files_are_in_step_with_the_extract_schemas():
    for name, suite in all_suites().items():
        on_disk = json.loads((project_dir() / "expectations" / f"{name}.json").read_text("utf-8"))
        assert on_disk == json.loads(json.dumps(suite)), f"{name}: run `govlake suites --write`"


def test_a_suite_with_an_unknown_expectation_is_refused(tmp_path, monkeypatch):
    shutil.copytree(project_dir() / "expectations", tmp_path / "expectations")
    path = tmp_path / "expectations" / "silver.person.json"
    data = json.loads(path.read_text("utf-8"))
    data["expectations"].append(
        {"type": "expect_column_values_to_be_a_unicorn", "kwargs": {"column": "name"}}
    )
    path.write_text(json.dumps(data), "utf-8")
    monkeypatch.setattr("jobs.pipeline.quality.suites.suite_dir", lambda: tmp_path / "expectations")
    with pytest.raises(ValueError, match="dropped"):
        load_suite("silver.person")


def test_results_cover_every_rule_and_suite_on_every_date(city_lake):
    lake = city_lake
    res = lake.read("quality.results").toPandas()
    assert sorted(res["_business_date"].unique()) == DAYS
    for day in DAYS:
        r = res[res["_business_date"] == day]
        assert set(enabled_rules()) <= set(r["rule_id"])
        assert {"delivery_on_time", "files_accepted", "rows_accepted"} <= set(r["rule_id"])
        assert set(EXPECTED_COUNTS) <= set(r["table"])
        assert (r["failed"] <= r["evaluated"]).all()
        assert set(r["dimension"]) <= set(DIMENSIONS)
        assert r["run_id"].notna().all()
        assert (r["success"] == (r["failed"] == 0)).all()


def test_custom_expectations_find_the_injected_id_faults(city_lake, city):
    """The bronze ID-number expectation fails on exactly the rows whose number was corrupted
    beyond trimming (wrong check character, digit typo, transposition, legacy 15 digits...)."""
    lake = city_lake
    res = lake.read("quality.results").toPandas()
    rule = "expect_column_values_to_be_valid_cn_id_number:id_number"
    r = res[(res["rule_id"] == rule) & (res["table"] == "bronze.gaj_hjrk")]
    assert len(r) == len(DAYS)
    assert (r["failed"] > 0).all()  # the city has ID faults in 户籍 every day
    bronze = lake.read("bronze.gaj_hjrk").filter(F.col("_business_date") == DAYS[0]).count()
    assert r[r["_business_date"] == DAYS[0]]["evaluated"].iloc[0] == bronze


def test_findings_point_at_the_responsible_source_and_keep_their_life(city_lake, city):
    lake = city_lake
    f = lake.read("quality.findings").toPandas()
    assert f["finding_id"].is_unique
    assert set(f["status"]) <= {"open", "resolved"}
    assert (f["first_seen_on"] <= f["last_seen_on"]).all()
    assert all(b.startswith(s) for b, s in zip(f["first_seen_batch"], f["source_id"], strict=True))
    # rules with a fixed responsible source (谁提供谁负责)
    for rule, source in {
        "death_not_deregistered": "gaj_hjrk",
        "benefit_after_death": "rsj_sbcb",
        "enterprise_status_conflict": "swj_swdj",
        "licence_holder_unknown": "zwfw_dzzz",
    }.items():
        assert set(f.loc[f["rule_id"] == rule, "source_id"]) == {source}, (
            rule
        )  # found, and only there
    # a contradiction fixed by a later delivery: its finding is resolved, not deleted
    truth = pd.read_csv(city / "_truth" / "conflicts.csv", dtype=str, keep_default_na=False)
    fixed = truth[(truth["fixed_on"] != "") & (truth["fixed_on"] <= str(DAYS[-1]))]
    assert len(fixed) > 0
    merged = fixed.merge(f, on=["rule_id", "entity_id", "source_id"])
    assert len(merged) >= 0.9 * len(fixed)
    # the fix reaches the lake with the source's first accepted complete delivery on or after
    # the day it was made (a rejected delivery leaves the older snapshot, and the finding, open)
    files = pd.read_csv(city / "_truth" / "files.csv", dtype=str, keep_default_na=False)
    ok = files[files["expected_status"] == "accepted"]
    complete = (
        ok.groupby(["source_id", "business_date"])
        .size()
        .reset_index()[["source_id", "business_date"]]
    )
    bad = files[files["expected_status"] == "rejected"][["source_id", "business_date"]]
    complete = complete.merge(bad, how="left", indicator=True)
    complete = complete[complete["_merge"] == "left_only"]
    checked = 0
    for _, r in merged.iterrows():
        days = complete[
            (complete["source_id"] == r["source_id"])
            & (complete["business_date"] >= r["fixed_on"])
            & (complete["business_date"] <= str(DAYS[-1]))
        ]["business_date"]
        if days.empty:
            continue
        checked += 1
        assert r["status"] == "resolved", r.to_dict()
        assert str(r["last_seen_on"]) < days.min(), r.to_dict()
    assert checked > 0
    # and the others injected are still open
    live = truth[truth["fixed_on"] == ""].merge(f, on=["rule_id", "entity_id", "source_id"])
    assert (live["status"] == "open").mean() > 0.95


@pytest.mark.slow  # slow: CI runs it (make test-slow); the fast suite keeps a cheaper test of the same surface
def test_rerunning_the_quality_stage_changes_nothing(city_lake):
    from jobs.pipeline.quality.run import build_quality

    lake = city_lake
    before = lake.read("quality.findings").toPandas().sort_values("finding_id")
    scores = lake.read("quality.scores").toPandas()
    build_quality(lake, DAYS[-1])
    after = lake.read("quality.findings").toPandas().sort_values("finding_id")
    pd.testing.assert_frame_equal(
        before.reset_index(drop=True), after.reset_index(drop=True), check_like=True
    )
    again = lake.read("quality.scores").toPandas()
    key = ["scope", "scope_id", "dimension", "_business_date"]
    pd.testing.assert_frame_equal(
        scores.sort_values(key).reset_index(drop=True),
        again.sort_values(key).reset_index(drop=True),
        check_like=True,
    )


def test_scores_per_scope_and_date(city_lake):
    lake = city_lake
    s = lake.read("quality.scores").toPandas()
    assert set(s["scope"]) == {"source", "department", "table", "platform"}
    assert s["score"].between(0, 100).all()
    for day in DAYS:
        plat = s[(s["scope"] == "platform") & (s["_business_date"] == day)]
        assert {"overall", *DIMENSIONS} == set(plat["dimension"])
    depts = set(s.loc[s["scope"] == "department", "scope_id"])
    assert {"公安", "民政", "卫健", "人社", "市场监管", "税务"} <= depts


def test_report_lists_are_masked_by_default(city_lake, tmp_path):
    from jobs.platform.policy import grant
    from jobs.serving.report.report import build_report

    lake = city_lake
    files = build_report(lake, tmp_path / "report", reader=grant("city_analyst"), user="t")
    html = files.index.read_text("utf-8")
    assert "平台综合得分" in html and "<svg" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html
    assert files.lists, "no rectification list"
    persons = lake.read("silver.person").select("person_id").toPandas()["person_id"]
    ids = set(persons)
    for dep, paths in files.lists.items():
        text = paths["csv"].read_text("utf-8-sig")
        assert not any(i in text for i in list(ids)[:2000]), f"{dep}: an ID number in clear"
        xl = pd.read_excel(paths["xlsx"])
        assert len(xl) == len(pd.read_csv(paths["csv"], encoding="utf-8-sig"))


@pytest.mark.skipif(
    not shutil.which("chromium") and not os.environ.get("GOVLAKE_REQUIRE_BROWSER"),
    reason="Debian's chromium is not installed (CI installs it and sets GOVLAKE_REQUIRE_BROWSER)",
)
def test_report_renders_offline_in_headless_chromium(city_lake, tmp_path):
    from playwright.sync_api import sync_playwright

    from jobs.platform.policy import grant
    from jobs.serving.report.report import build_report

    lake = city_lake
    files = build_report(lake, tmp_path / "report", reader=grant("city_analyst"), user="t")
    failed, requested = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page()
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("request", lambda r: requested.append(r.url))
        page.goto(Path(files.index).resolve().as_uri())
        page.wait_for_load_state("load")
        score = page.inner_text("#platform-score .v")
        cells = page.locator("#department-scores td").count()
        collections = page.inner_text("#collections")  # 重复采集, from the catalogue
        # the Great Expectations Data Docs, built beside the report, also load nothing remote
        docs = Path(files.index).parent / "data-docs" / "index.html"
        assert docs.exists()
        page.goto(docs.resolve().as_uri())
        page.wait_for_load_state("load")
        docs_text = page.inner_text("body")
        browser.close()
    assert failed == []
    assert all(u.startswith(("file://", "data:")) for u in requested), requested
    assert float(score) > 0
    assert cells >= 6 * 8
    assert "person.name" in collections and "gaj_hjrk" in collections
    assert "bronze.gaj_hjrk" in docs_text


@pytest.mark.slow  # slow: CI runs it (make test-slow); the fast suite keeps a cheaper test of the same surface
def test_report_command_builds_data_docs_without_errors(city_lake, tmp_path):
    """A fresh process (as `govlake report` is) must know the custom expectations when GX
    renders the Data Docs, or their pages lose those expectations and log tracebacks."""
    import subprocess
    import sys

    lake = city_lake
    out = tmp_path / "report"
    cmd = [
        sys.executable,
        "-m",
        "jobs.serving.cli",
        "report",
        "--lake",
        str(lake.root),
        "--out",
        str(out),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "not found" not in done.stderr, done.stderr[-2000:]
    assert (out / "index.html").exists() and (out / "data-docs" / "index.html").exists()
