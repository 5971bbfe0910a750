"""Header drift and manifest validation."""

from __future__ import annotations

import json

import pytest

from jobs.pipeline.ingest.bronze import plan_header
from jobs.pipeline.ingest.manifest import parse_manifest
from jobs.pipeline.ingest.readers import FileRejected
from jobs.platform.config import extract_schema


def load_manifest(path, data_name):
    return parse_manifest(path.read_bytes(), path.name, data_name=data_name)


HJRK = extract_schema("gaj_hjrk")
HEADERS = [c.header for c in HJRK.columns]


def test_reordered_columns_are_mapped_by_name():
    plan = plan_header(list(reversed(HEADERS)), HJRK, file="f.csv")
    assert plan.positions["id_number"] == len(HEADERS) - 1
    assert any("different order" in n for n in plan.notes)


def test_extra_columns_are_kept_and_reported():
    plan = plan_header(HEADERS + ["备注"], HJRK, file="f.csv")
    assert plan.extras == [(len(HEADERS), "备注")]
    assert any("备注" in n for n in plan.notes)


def test_a_known_alias_is_accepted():
    plan = plan_header(["身份证号"] + HEADERS[1:], HJRK, file="f.csv")
    assert plan.positions["id_number"] == 0 and any("alias" in n for n in plan.notes)


def test_missing_required_column_rejects_with_its_name():
    with pytest.raises(FileRejected) as e:
        plan_header(HEADERS[1:], HJRK, file="f.csv")
    assert e.value.reason_code == "missing_required_column" and "公民身份号码" in e.value.reason


def test_missing_optional_column_is_null_and_reported():
    plan = plan_header([h for h in HEADERS if h != "民族"], HJRK, file="f.csv")
    assert plan.missing == ["ethnicity"]


def test_duplicate_header_rejects():
    with pytest.raises(FileRejected, match="duplicate_column"):
        plan_header(HEADERS + ["姓名"], HJRK, file="f.csv")


def _ok(tmp_path, **over):
    doc = {
        "file": "x.csv",
        "rows": 3,
        "md5": "0" * 32,
        "mode": "full",
        "delivery": "D1",
        "parts": 1,
        "delivered_at": "2026-11-03T02:00:00+08:00",
        **over,
    }
    p = tmp_path / "x.csv.ok"
    p.write_text(json.dumps(doc))
    return p


def test_valid_manifest_loads(tmp_path):
    m = load_manifest(_ok(tmp_path), "x.csv")
    assert m.rows == 3 and m.delivered_at.utcoffset().total_seconds() == 8 * 3600


@pytest.mark.parametrize(
    "over,needle",
    [
        ({"rows": -1}, "rows"),
        ({"md5": "xyz"}, "md5"),
        ({"mode": "delta"}, "mode"),
        ({"file": "y.csv"}, "file"),
        ({"delivered_at": "2026-11-03T02:00:00"}, "timezone"),
        ({"parts": 0}, "parts"),
    ],
)
def test_invalid_manifest_says_why(tmp_path, over, needle):
    with pytest.raises(FileRejected) as e:
        load_manifest(_ok(tmp_path, **over), "x.csv")
    assert e.value.reason_code == "manifest_invalid" and needle in e.value.reason


def test_manifest_that_is_not_json(tmp_path):
    p = tmp_path / "x.csv.ok"
    p.write_text("rows=3")
    with pytest.raises(FileRejected, match="manifest_invalid"):
        load_manifest(p, "x.csv")
