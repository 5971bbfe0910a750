"""The DAG folder as the DAG processor sees it: imports cleanly and cheaply, one ingestion DAG
per catalogue entry (a new source's yaml adds one), and every DAG follows the house rules."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from jobs.platform.config import catalog
from tests.dags.airflow_home import REPO

BUILDS = {
    "govlake_base": None,  # every source's bronze asset
    "govlake_quality": ["govlake.base"],
    "govlake_themes": ["govlake.quality"],
    "govlake_scores": ["govlake.themes"],
    "govlake_catalog": ["govlake.scores"],
}
CRON = {"daily": "0 0 * * *", "weekly": "0 0 * * 1", "monthly": "0 0 1 * *"}


def _facts(home, env=None) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.dags.bag_facts", str(home)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("FACTS ")), None)
    assert proc.returncode == 0 and line, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(line[6:])


@pytest.fixture(scope="module")
def facts(tmp_path_factory) -> dict:
    return _facts(tmp_path_factory.mktemp("bag"))


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory) -> dict:
    """The DAG folder read with a project that onboards one more source (weekly), from files."""
    project = tmp_path_factory.mktemp("project")
    for folder in ("conf", "schemas"):
        shutil.copytree(REPO / folder, project / folder)
    entry = yaml.safe_load((REPO / "conf/catalog/gaj_hjrk.yaml").read_text(encoding="utf-8"))
    entry.update(source_id="gaj_ldrk", resource_code="130900-GAJ-0009", update_cycle="weekly")
    (project / "conf/catalog/gaj_ldrk.yaml").write_text(yaml.safe_dump(entry, allow_unicode=True))
    schema = yaml.safe_load((REPO / "schemas/extracts/gaj_hjrk.yaml").read_text(encoding="utf-8"))
    schema["source_id"] = "gaj_ldrk"
    (project / "schemas/extracts/gaj_ldrk.yaml").write_text(
        yaml.safe_dump(schema, allow_unicode=True)
    )
    env = {**os.environ, "GOVLAKE_PROJECT_DIR": str(project)}
    return _facts(tmp_path_factory.mktemp("bag2"), env)


def test_the_dags_import_without_errors_or_warnings(facts):
    assert facts["import_errors"] == {}
    assert facts["warnings"] == {}


def test_parsing_the_dags_loads_no_engine_or_dataframe_library(facts):
    assert facts["heavy_modules"] == []


def test_one_ingestion_dag_per_catalogue_entry_scheduled_by_its_cycle(facts):
    dags = facts["dags"]
    ingest = {d for d in dags if d.startswith("govlake_ingest_")}
    assert ingest == {f"govlake_ingest_{s}" for s in catalog()}
    for source_id, entry in catalog().items():
        dag = dags[f"govlake_ingest_{source_id}"]
        assert dag["timetable"] == "CronDataIntervalTimetable"  # classic data intervals
        assert dag["cron"] == CRON[entry.update_cycle]
        assert "28800" in dag["timezone"]  # business dates are Beijing dates
        assert {"govlake", "ingest", entry.department_id} <= set(dag["tags"])
        tasks = dag["tasks"]
        assert list(tasks) == ["wait_for_delivery", "ingest", "confirm_delivery"]
        wait = tasks["wait_for_delivery"]
        assert wait["type"] == "DeliverySensor" and wait["deferrable"] is True
        assert tasks["ingest"]["outlets"] == [f"bronze.{source_id}"]
        assert tasks["ingest"]["upstream"] == ["wait_for_delivery"]


def test_builds_are_triggered_by_the_assets_of_the_stage_before(facts):
    dags = facts["dags"]
    bronze = sorted(f"bronze.{s}" for s in catalog())
    emitted = {a for d in dags.values() for t in d["tasks"].values() for a in t["outlets"]}
    for dag_id, upstream in BUILDS.items():
        dag = dags[dag_id]
        assert dag["timetable"] == "AssetTriggeredTimetable"
        assert dag["schedule_assets"] == (upstream or bronze)
        assert set(dag["schedule_assets"]) <= emitted  # nothing waits on an asset never emitted
        (task,) = dag["tasks"].values()
        assert task["outlets"] == [f"govlake.{dag_id.removeprefix('govlake_')}"]
    ingest = {f"govlake_ingest_{s}" for s in catalog()}
    assert set(dags) == set(BUILDS) | ingest | {"govlake_maintain"}


def test_the_lake_is_maintained_on_its_schedule_between_builds(facts):
    """conf/maintenance.yaml's cron, in Beijing time, in the lake's one-slot pool (a build and
    maintenance never run side by side; the writer lease is the second guard)."""
    from jobs.platform import settings

    dag = facts["dags"]["govlake_maintain"]
    assert dag["timetable"] == "CronTriggerTimetable"  # a time, not a business date
    assert dag["cron"] == settings.maintenance().schedule
    assert "28800" in dag["timezone"]
    (task,) = dag["tasks"].values()
    assert task["pool"] == "govlake_lake"
    assert task["callable"] == "jobs.orchestration.tasks.maintain"


def test_every_dag_follows_the_house_rules(facts):
    for dag_id, dag in facts["dags"].items():
        assert dag["max_active_runs"] == 1, dag_id  # one date at a time per DAG, 2 cores
        assert dag["catchup"] is False, dag_id  # history is loaded by backfill, on purpose
        assert "govlake" in dag["tags"], dag_id
        for task_id, task in dag["tasks"].items():
            where = f"{dag_id}.{task_id}"
            assert task["owner"] == "govlake", where
            if task_id != "confirm_delivery":  # retrying cannot make a delivery arrive
                assert task["retries"] >= 1 and task["retry_exponential_backoff"] > 0, where
            if task["outlets"]:  # writes the lake: one writer at a time
                assert task["pool"] == "govlake_lake", where
            if task["callable"]:
                assert task["callable"].startswith("jobs.orchestration.tasks."), where


def test_dag_files_hold_wiring_only():
    """DAG files import only Airflow's SDK and jobs.orchestration, and define no task logic."""
    for path in sorted((REPO / "dags").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                assert node.module in (
                    "airflow.sdk",
                    "jobs.orchestration",
                ) or node.module.startswith("jobs.orchestration."), (
                    f"{path.name} imports {node.module}"
                )
            assert not isinstance(node, ast.Import), f"{path.name}: import {ast.dump(node)}"
        functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
        assert all(name.endswith("_dag") for name in functions), f"{path.name}: {functions}"


def test_a_source_onboarded_by_files_gets_its_dag_and_feeds_the_base_build(onboarded):
    dags = onboarded["dags"]
    assert onboarded["import_errors"] == {}
    dag = dags["govlake_ingest_gaj_ldrk"]
    assert dag["cron"] == CRON["weekly"] and "weekly" in dag["tags"]
    assert "bronze.gaj_ldrk" in dags["govlake_base"]["schedule_assets"]
