"""The DAGs run end to end with ``dag.test()`` over two business dates of a small generated
city, in an order a scheduler may well choose, give the lake ``govlake run`` gives: every
delivery ingested first, then the base libraries and quality for both dates, then a source's
first date ingested again (a correction) and everything rebuilt from it, as the asset events
would chain it. A delivery missing past its SLA is recorded, scored and said plainly."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys

import pytest

from jobs.platform.config import catalog
from jobs.platform.delta import read_rows
from samplecity.main import generate
from tests.dags.airflow_home import REPO
from tests.dags.lake_compare import differences
from tests.shared_city import CITY_OPTIONS

pytestmark = pytest.mark.slow

DATES = ["2026-11-02", "2026-11-03"]
MISSING = ("wjw_swzm", "2026-11-03")  # this delivery never comes
# the shared test city's fault rates, smaller and over two days
OPTIONS = dataclasses.replace(CITY_OPTIONS, persons=300, days=2, seed=5)


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory):
    """(reference lake from govlake run, Airflow's lake, Airflow's output, {dag run summaries})."""
    from jobs.pipeline.runner import run_pipeline

    root = tmp_path_factory.mktemp("airflow-city")
    landing = root / "landing"
    generate(landing, OPTIONS, log=lambda m: None)
    shutil.rmtree(landing / MISSING[0] / MISSING[1])
    steps = [["ingest", s, d] for d in DATES for s in sorted(catalog())]
    steps += [["build", "base", DATES], ["build", "quality", "upstream"]]
    steps += [["ingest", "gaj_hjrk", DATES[0]], ["build", "base", [DATES[0]]]]
    steps += [["build", stage, "upstream"] for stage in ("quality", "themes", "scores", "catalog")]
    steps += [["maintain", "", ""]]  # the weekly upkeep: the same lake, in fewer files
    # Airflow in its own process while govlake run makes the reference here: both are mostly
    # single-threaded Python, and the two cores are better shared than taken in turn
    log = root / "chain.log"  # the task logs, for whoever reads a failure (a file: a pipe
    with log.open("w") as out:  # would fill and stall Airflow until it was read)
        chain = subprocess.Popen(
            [sys.executable, "-m", "tests.dags.chain", str(root / "home"), str(root / "lake")]
            + [str(landing), json.dumps(steps)],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            run_pipeline(landing, root / "reference", echo=lambda m: None)
            chain.wait(timeout=900)
        finally:
            chain.kill()
    output = log.read_text()
    assert chain.returncode == 0, output[-3000:]
    summaries = [json.loads(line[6:]) for line in output.splitlines() if line.startswith("CHAIN ")]
    assert len(summaries) == len(steps), output[-3000:]
    return root / "reference", root / "lake", output, list(zip(steps, summaries, strict=True))


def test_the_dags_build_the_lake_govlake_run_builds(runs):
    reference, lake, _, _ = runs
    assert differences(reference, lake) == []


def test_the_maintenance_dag_compacts_the_lake_and_changes_no_row(runs):
    """It ran last: the lake compared equal above, and it is in fewer files."""
    *_, done = runs
    ((_, run),) = [(step, r) for step, r in done if step[0] == "maintain"]
    assert run["state"] == "success", run
    compacted = run["tasks"]["maintain"]["value"]["compacted"]
    assert compacted.get("lineage.runs", 0) > 1 and compacted.get("audit.deliveries", 0) > 1


def test_each_ingestion_run_is_for_its_data_interval_date(runs):
    *_, done = runs
    for (_, source, date), run in (x for x in done if x[0][0] == "ingest"):
        ingested = run["tasks"]["ingest"]["value"]
        assert (ingested["source_id"], ingested["business_date"]) == (source, date)
        assert run["tasks"]["wait_for_delivery"]["state"] == "success"
        if (source, date) != MISSING:
            assert run["state"] == "success", run
            assert ingested["delivery"]["status"] in ("delivered", "incomplete")


def test_a_delivery_missing_past_its_sla_is_recorded_and_said(runs):
    _, lake, output, done = runs
    run = next(r for (kind, s, d), r in done if kind == "ingest" and (s, d) == MISSING)
    tasks = run["tasks"]
    assert run["state"] == "failed"
    assert tasks["wait_for_delivery"]["value"]["status"] == "missing"
    assert tasks["ingest"]["state"] == "success"  # the gap is recorded ...
    assert tasks["confirm_delivery"]["state"] == "failed"  # ... and the run says so
    assert (
        "wjw_swzm: the delivery for business date 2026-11-03 is missing past its SLA "
        "(due 2026-11-04T06:00:00+08:00" in output
    )
    late = [
        r
        for r in read_rows(lake / "quality" / "results")
        if r["rule_id"] == "delivery_on_time" and r["source_id"] == MISSING[0]
    ]
    assert {str(r["_business_date"]): r["failed"] for r in late} == {DATES[0]: 0, DATES[1]: 1}
    # the rerun of the first date rebuilt every later date, at each stage
    built = [(s, r["tasks"][s]["value"]["built"]) for (k, s, _), r in done if k == "build"]
    assert built == [
        (s, DATES) for s in ("base", "quality", "base", "quality", "themes", "scores", "catalog")
    ]


def _events(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_openlineage_task_events_name_the_datasets_govlake_names(runs):
    """The provider's event for each task lists the datasets its govlake runs read and wrote,
    under the same names, and govlake's own run events name that task run as their parent."""
    _, lake, _, done = runs
    # (a rerun under dag.test has the first run's OpenLineage run id: its try number is 1 again)
    tasks = [
        e
        for e in _events(lake / "_openlineage" / "airflow.jsonl")
        if e["eventType"] == "COMPLETE"
        and e["job"]["name"].partition(".")[2]
        in ("ingest", "base", "quality", "themes", "scores", "catalog")
    ]
    assert len(tasks) == sum(1 for (kind, _, _), _ in done if kind != "maintain")
    children: dict[str, list[dict]] = {}
    for e in _events(lake / "_openlineage" / "events.jsonl"):
        parent = e["run"]["facets"].get("parent")
        if e["eventType"] == "COMPLETE" and parent:
            children.setdefault(parent["run"]["runId"], []).append(e)

    def names(datasets):
        return {(d["namespace"], d["name"]) for d in datasets}

    for task in tasks:
        runs_of_task = children.get(task["run"]["runId"])
        assert runs_of_task, f"no govlake run names {task['job']['name']} as its parent"
        wrote = set().union(*(names(r["outputs"]) for r in runs_of_task))
        read = set().union(*(names(r["inputs"]) for r in runs_of_task)) - wrote
        assert names(task["outputs"]) == wrote and names(task["inputs"]) == read
        assert {n for _, n in wrote} and all(
            ns == f"file://{lake.resolve()}" for ns, _ in wrote | read
        )
