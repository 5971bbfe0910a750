"""People's actions and the pipeline: an upheld dispute stops counting in the scores the
scores stage writes (the same scores the workbench shows), and findings keep their lifecycle
when the dates are rebuilt."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from jobs.pipeline.quality import actions
from jobs.platform.lake import Lake
from jobs.serving.workbench.state import WorkbenchData


def _copy(city_lake_path, tmp_path):
    root = tmp_path / "lake"
    shutil.copytree(city_lake_path, root, ignore=shutil.ignore_patterns("_staging", "_gx"))
    return root


def _act(wb: WorkbenchData, fid: str, action: str, role: str) -> None:
    row = wb.status_of(fid)
    t = actions.check(
        action, role=role, department=row["department_id"] if role != "quality_officer" else None,
        finding_department=row["department_id"], status=row["state"],
    )  # fmt: skip
    actions.append(
        wb.root,
        [
            {
                "finding_id": fid, "rule_id": row["rule_id"], "source_id": row["source_id"],
                "department_id": row["department_id"], "action": action,
                "from_status": row["state"], "to_status": t.to_status, "note": "test",
                "evidence": None, "actor": role, "actor_role": role,
                "actor_department": None, "effective_date": wb.as_of, "client": "test",
            }
        ],
    )  # fmt: skip
    wb.refresh()


def _dismiss_one(root, rule: str = "employer_unknown") -> tuple[WorkbenchData, dict]:
    wb = WorkbenchData(root)
    wb.refresh()
    page = wb.findings_page(
        filters={"rule": rule, "status": "open"}, department=None, entity_in_clear=True
    )
    row = page.rows[0]
    _act(wb, row["finding_id"], "dispute", "department_liaison")
    _act(wb, row["finding_id"], "uphold", "quality_officer")
    assert wb.status_of(row["finding_id"])["state"] == "dismissed"
    return wb, row


def test_the_scores_stage_and_the_workbench_take_out_the_same_findings(
    spark, city_lake_path, tmp_path
):
    root = _copy(city_lake_path, tmp_path)
    wb, row = _dismiss_one(root)
    try:
        lake = Lake(root, spark)
        day = wb.as_of
        counted = actions.dismissed_counts(lake, day)
        assert counted == wb.dismissed_counts(day) == {(row["rule_id"], row["source_id"]): 1}
        from jobs.pipeline.quality.run import write_scores

        stored = write_scores(lake, day)
        live = wb.scores(day)
        key = ["scope", "scope_id", "dimension"]
        merged = stored.merge(live, on=key, suffixes=("_stage", "_web"))
        assert len(merged) == len(stored) == len(live)
        assert (merged["failed_stage"] == merged["failed_web"]).all()
        assert (merged["score_stage"] - merged["score_web"]).abs().max() < 1e-9
    finally:
        wb.close()


@pytest.mark.slow
def test_findings_keep_their_lifecycle_across_a_rebuild(city, city_lake_path, tmp_path):
    root = _copy(city_lake_path, tmp_path)
    wb, row = _dismiss_one(root)
    day = wb.as_of
    before = wb.scores(day)
    wb.close()
    run = subprocess.run(
        [sys.executable, "-m", "jobs.serving.cli", "run", "--landing", str(city), "--lake",
         str(root), "--from", str(day)],
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    wb = WorkbenchData(root)
    try:
        wb.refresh()
        assert wb.status_of(row["finding_id"])["state"] == "dismissed"
        assert [a["action"] for a in wb.actions_of(row["finding_id"])] == ["dispute", "uphold"]
        from deltalake import DeltaTable

        # the rebuilt date's scores, as the scores stage wrote them
        scores = DeltaTable(str(root / "quality/scores")).to_pandas()
        scores = scores[scores["_business_date"] == day]
        key = ["scope", "scope_id", "dimension"]
        merged = scores.merge(before, on=key, suffixes=("_stage", "_web"))
        assert len(merged) == len(before)
        assert (merged["failed_stage"] == merged["failed_web"]).all()
    finally:
        wb.close()
