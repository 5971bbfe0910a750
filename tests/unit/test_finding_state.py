"""The status of a finding in the 数据异议 / 整改 loop, its due date and the departments'
performance, derived from a small lake written here (no engine): one case per status."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from jobs.pipeline.quality import actions
from jobs.platform import publication
from jobs.serving.workbench.state import WorkbenchData

D = dt.date
AS_OF = D(2026, 11, 20)
RULE = "person_name_mismatch"  # severity medium: 30 days
SOURCE = "rsj_sbcb"  # 人社 (rsj)

FINDINGS = pa.schema(
    [
        ("finding_id", pa.string()),
        ("rule_id", pa.string()),
        ("dimension", pa.string()),
        ("entity_kind", pa.string()),
        ("entity_id", pa.string()),
        ("attribute", pa.string()),
        ("source_id", pa.string()),
        ("department", pa.string()),
        ("observed", pa.string()),
        ("expected", pa.string()),
        ("authoritative_source", pa.string()),
        ("first_seen_batch", pa.string()),
        ("last_seen_batch", pa.string()),
        ("first_seen_on", pa.date32()),
        ("last_seen_on", pa.date32()),
        ("status", pa.string()),
    ]
)
HISTORY = pa.schema(
    [
        ("finding_id", pa.string()),
        ("rule_id", pa.string()),
        ("source_id", pa.string()),
        ("observed", pa.string()),
        ("expected", pa.string()),
        ("_batch_id", pa.string()),
        ("_business_date", pa.date32()),
    ]
)
RESULTS = pa.schema(
    [
        ("rule_id", pa.string()),
        ("dimension", pa.string()),
        ("table", pa.string()),
        ("source_id", pa.string()),
        ("evaluated", pa.int64()),
        ("failed", pa.int64()),
        ("_business_date", pa.date32()),
    ]
)

# finding: (first seen, last seen, status as the deliveries show it)
CASES = {
    "f1_open": (D(2026, 11, 1), AS_OF, "open"),
    "f2_overdue": (D(2026, 10, 1), AS_OF, "open"),
    "f3_resolved": (D(2026, 11, 1), D(2026, 11, 10), "resolved"),
    "f4_failed": (D(2026, 10, 1), AS_OF, "open"),
    "f5_submitted": (D(2026, 11, 1), AS_OF, "open"),
    "f6_disputed": (D(2026, 11, 1), AS_OF, "open"),
    "f7_dismissed": (D(2026, 11, 1), AS_OF, "open"),
    "f8_rejected": (D(2026, 11, 1), AS_OF, "open"),
}
EXPECTED = {
    "f1_open": "open",
    "f2_overdue": "open",
    "f3_resolved": "resolved",
    "f4_failed": "rectification_failed",
    "f5_submitted": "rectification_submitted",
    "f6_disputed": "disputed",
    "f7_dismissed": "dismissed",
    "f8_rejected": "open",
}


def _act(fid, action, on, *, role="department_liaison"):
    t = actions.TRANSITIONS[action]
    return {
        "finding_id": fid,
        "rule_id": RULE,
        "source_id": SOURCE,
        "department_id": "rsj",
        "action": action,
        "from_status": "x",
        "to_status": t.to_status,
        "note": f"{action} of {fid}",
        "evidence": None,
        "actor": "liaison" if role == "department_liaison" else "officer",
        "actor_role": role,
        "actor_department": "rsj" if role == "department_liaison" else None,
        "effective_date": on,
        "client": "test",
    }


@pytest.fixture
def wb(tmp_path):
    root = tmp_path / "lake"
    rows = []
    for fid, (first, last, status) in CASES.items():
        rows.append(
            {
                "finding_id": fid,
                "rule_id": RULE,
                "dimension": "accuracy",
                "entity_kind": "person",
                "entity_id": "110101199003070011",
                "attribute": "name",
                "source_id": SOURCE,
                "department": "人社",
                "observed": "张三",
                "expected": "张叁",
                "authoritative_source": "gaj_hjrk",
                "first_seen_batch": "b1",
                "last_seen_batch": "b2",
                "first_seen_on": first,
                "last_seen_on": last,
                "status": status,
            }
        )
    versions = {}
    write_deltalake(str(root / "quality/findings"), pa.Table.from_pylist(rows, FINDINGS))
    history = [
        {
            "finding_id": fid,
            "rule_id": RULE,
            "source_id": SOURCE,
            "observed": "张三",
            "expected": "张叁",
            "_batch_id": "b",
            "_business_date": day,
        }
        for fid, (first, last, _) in CASES.items()
        for day in (D(2026, 11, 10), D(2026, 11, 15), AS_OF)
        if first <= day <= last
    ]
    write_deltalake(str(root / "quality/finding_history"), pa.Table.from_pylist(history, HISTORY))
    results = [
        {
            "rule_id": RULE,
            "dimension": "accuracy",
            "table": "silver.person",
            "source_id": SOURCE,
            "evaluated": 100,
            "failed": sum(1 for h in history if h["_business_date"] == day),
            "_business_date": day,
        }
        for day in (D(2026, 11, 10), D(2026, 11, 15), AS_OF)
    ]
    write_deltalake(str(root / "quality/results"), pa.Table.from_pylist(results, RESULTS))
    for t in ("quality.findings", "quality.finding_history", "quality.results"):
        versions[t] = 0
    publication.publish_versions(root, AS_OF, versions=versions, run_id="r", code_version="t")
    actions.append(
        root,
        [
            _act("f4_failed", "submit_rectification", D(2026, 11, 10)),
            _act("f5_submitted", "submit_rectification", D(2026, 11, 18)),
            _act("f6_disputed", "dispute", D(2026, 11, 15)),
            _act("f7_dismissed", "dispute", D(2026, 11, 15)),
            _act("f8_rejected", "dispute", D(2026, 11, 15)),
        ],
    )
    actions.append(
        root,
        [
            _act("f7_dismissed", "uphold", D(2026, 11, 15), role="quality_officer"),
            _act("f8_rejected", "reject", D(2026, 11, 15), role="quality_officer"),
        ],
    )
    data = WorkbenchData(root)
    data.refresh()
    yield data
    data.close()


def test_each_status_is_derived_from_the_deliveries_and_the_actions(wb):
    got = {fid: wb.status_of(fid)["state"] for fid in CASES}
    assert got == EXPECTED
    f3 = wb.status_of("f3_resolved")
    assert f3["due_on"] == D(2026, 12, 1)  # first seen + 30 days (severity medium)
    assert f3["resolved_on"] == D(2026, 11, 15)  # the rule's next evaluation


def test_department_performance(wb):
    (rsj,) = [r for r in wb.counts_by_department() if r["department_id"] == "rsj"]
    assert rsj["overdue"] == 2  # f2 (open) and f4 (rectification failed), both due 10-31
    # answered: f3 fixed by a delivery, f4–f8 acted on; unanswered and past due: f2
    assert rsj["response_rate"] == pytest.approx(6 / 7)
    # fixed on time: f3; due or fixed: f3, and the overdue f2 and f4
    assert rsj["on_time_rate"] == pytest.approx(1 / 3)
    (rule,) = wb.rule_disputes()
    assert (rule["disputed"], rule["upheld"], rule["rejected"], rule["pending"]) == (3, 1, 1, 1)
    assert rule["upheld_share"] == pytest.approx(0.5)


def test_an_upheld_dispute_stops_counting_from_its_date(wb):
    assert wb.dismissed_counts(AS_OF) == {(RULE, SOURCE): 1}
    assert wb.dismissed_counts(D(2026, 11, 10)) == {}  # effective 11-15: earlier dates keep it
    today = wb.scores(AS_OF)
    before = wb.scores(D(2026, 11, 15))
    pick = lambda s: s[(s["scope"] == "source") & (s["dimension"] == "accuracy")].iloc[0]  # noqa: E731
    assert pick(today)["failed"] == 6  # seven seen, one dismissed
    assert pick(before)["failed"] == 6  # 11-15: seven seen, one dismissed (effective 11-15)


def test_filters_and_keyset_pages(wb):
    first = wb.findings_page(filters={}, department=None, entity_in_clear=True, page_size=3)
    assert first.total == len(CASES) and len(first.rows) == 3 and first.next_cursor
    seen = [r["finding_id"] for r in first.rows]
    cursor = first.next_cursor
    while cursor:
        page = wb.findings_page(
            filters={}, department=None, entity_in_clear=True, cursor=cursor, page_size=3
        )
        seen += [r["finding_id"] for r in page.rows]
        cursor = page.next_cursor
    assert sorted(seen) == sorted(CASES) and len(seen) == len(set(seen))
    only = wb.findings_page(
        filters={"status": "rectification_failed"}, department=None, entity_in_clear=True
    )
    assert [r["finding_id"] for r in only.rows] == ["f4_failed"]
    assert wb.findings_page(filters={}, department="gaj", entity_in_clear=True).total == 0
    with pytest.raises(ValueError, match="date_from"):
        wb.findings_page(filters={"date_from": "yesterday"}, department=None, entity_in_clear=True)


def test_transitions_name_their_role_department_and_status():
    ok = actions.check(
        "dispute", role="department_liaison", department="rsj", finding_department="rsj",
        status="open",
    )  # fmt: skip
    assert ok.to_status == "disputed"
    refusals = [
        ("dispute", "quality_officer", None, "rsj", "open", "is for the role"),
        ("dispute", "department_liaison", "gaj", "rsj", "open", "own department"),
        ("uphold", "department_liaison", "rsj", "rsj", "disputed", "is for the role"),
        ("uphold", "quality_officer", None, "rsj", "open", "needs a finding"),
        ("submit_rectification", "city_analyst", None, "rsj", "open", "is for the role"),
        ("submit_rectification", "department_liaison", "rsj", "rsj", "dismissed", "needs"),
        ("delete", "quality_officer", None, "rsj", "open", "unknown action"),
    ]
    for action, role, dep, fdep, status, why in refusals:
        with pytest.raises(actions.ActionRefused, match=why):
            actions.check(action, role=role, department=dep, finding_department=fdep, status=status)


def test_new_actions_update_their_findings_as_a_fresh_read_derives_them(wb):
    actions.append(wb.root, [_act("f1_open", "submit_rectification", AS_OF)])
    actions.append(wb.root, [_act("f2_overdue", "dispute", AS_OF)])
    wb.refresh()  # reads only the new actions
    assert wb.status_of("f1_open")["state"] == "rectification_submitted"
    assert wb.status_of("f2_overdue")["state"] == "disputed"
    fresh = WorkbenchData(wb.root)
    try:
        fresh.refresh()
        for fid in CASES:
            assert wb.status_of(fid) == fresh.status_of(fid), fid
        assert wb.findings_page(filters={}, department=None, entity_in_clear=True).total == len(
            CASES
        )
    finally:
        fresh.close()
