"""Hand-made deliveries for the file-level rules of spec/extracts.md "Landing layout"."""

from __future__ import annotations

import datetime as dt
import shutil

import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from jobs.pipeline.ingest.bronze import ingest_source
from jobs.pipeline.ingest.entries import record_landing, summary
from jobs.pipeline.ingest.run import ingest_date
from jobs.platform import config
from jobs.platform.config import PACKAGE_ROOT

from .landing_kit import deliver, swdj

D = dt.date(2026, 11, 2)
ROW_A = "91130902MA0ABCDE6M|甲公司|张三|130902199001011230|03|20200101|税务局|地址|0317-1"
ROW_B = "91130902MA0ABCDF4K|乙公司|李四|130902199001011230|07|20200101|税务局|地址|0317-2"


def bronze_files(lake, source="swj_swdj"):
    return sorted({r["_file"] for r in lake.read(f"bronze.{source}").select("_file").collect()})


def test_a_file_waits_for_its_manifest(lake, tmp_path):
    landing = tmp_path / "landing"
    data = deliver(landing, "swj_swdj", D, 1, "txt", swdj(ROW_A), 1, ok=False)
    r = ingest_source(lake, landing, source_id="swj_swdj", business_date=D)
    assert [(f.status, f.reason_code) for f in r.files] == [("rejected", "manifest_missing")]
    assert [x["reason_code"] for x in lake.read("quarantine.files").collect()] == [
        "manifest_missing"
    ]
    deliver(landing, "swj_swdj", D, 1, "txt", data.read_bytes(), 1)  # the .ok arrives
    r = ingest_source(lake, landing, source_id="swj_swdj", business_date=D)
    assert [f.status for f in r.files] == ["accepted"]
    assert lake.read("quarantine.files").count() == 0 and bronze_files(lake) == [data.name]


def test_the_latest_delivery_of_a_date_replaces_earlier_ones(lake, tmp_path):
    landing = tmp_path / "landing"
    deliver(landing, "swj_swdj", D, 1, "txt", swdj(ROW_A, ROW_B), 2, delivery="D1", hour=2)
    ingest_source(lake, landing, source_id="swj_swdj", business_date=D)
    fixed = ROW_B.replace("|07|", "|03|")
    deliver(landing, "swj_swdj", D, 2, "txt", swdj(fixed), 1, delivery="D2", hour=9)
    r = ingest_source(lake, landing, source_id="swj_swdj", business_date=D)
    assert {f.file: f.status for f in r.files} == {
        "swj_swdj_20261102_01.txt": "superseded",
        "swj_swdj_20261102_02.txt": "accepted",
    }
    rows = lake.read("bronze.swj_swdj").collect()
    assert [(x["name"], x["tax_status"], x["_batch_id"]) for x in rows] == [
        ("乙公司", "03", "swj_swdj_20261102_D2")
    ]


def test_a_missing_part_makes_a_full_snapshot_incomplete(lake, tmp_path):
    landing = tmp_path / "landing"
    deliver(landing, "swj_swdj", D, 1, "txt", swdj(ROW_A), 1, parts=2)
    r = ingest_source(lake, landing, source_id="swj_swdj", business_date=D)
    assert r.snapshot_complete is False
    assert any("2 parts but 1 arrived" in p for p in r.problems)
    assert "parts_missing" in {x["reason_code"] for x in lake.read("quarantine.files").collect()}
    audit = lake.read("audit.deliveries").collect()
    assert [a["snapshot_complete"] for a in audit] == [False]


def test_a_file_with_a_bad_name_is_rejected(lake, tmp_path):
    landing = tmp_path / "landing"
    f = deliver(landing, "swj_swdj", D, 1, "txt", swdj(ROW_A), 1)
    f.rename(f.with_name("taxes.txt"))
    (f.parent / f"{f.name}.ok").rename(f.parent / "taxes.txt.ok")
    r = ingest_source(lake, landing, source_id="swj_swdj", business_date=D)
    assert [f.reason_code for f in r.files] == [
        "manifest_invalid"
    ]  # the manifest names another file


def test_an_onboarded_source_with_nothing_delivered_is_reported(lake, tmp_path):
    landing = tmp_path / "landing"
    deliver(landing, "swj_swdj", D, 1, "txt", swdj(ROW_A), 1)
    report = ingest_date(lake, landing, business_date=D, sources=["swj_swdj", "wjw_swzm"])
    assert "wjw_swzm: no delivery for 2026-11-02" in report.problems
    assert lake.read("bronze.wjw_swzm").count() == 0  # the table exists, empty, for later stages


def test_a_tenth_source_is_onboarded_from_files_alone(lake, tmp_path, monkeypatch):
    """Adding a source needs a schema file and a catalogue entry, no code."""
    project = tmp_path / "project"
    shutil.copytree(PACKAGE_ROOT / "schemas", project / "schemas")
    shutil.copytree(PACKAGE_ROOT / "conf", project / "conf")
    (project / "schemas" / "extracts" / "zjj_bzf.yaml").write_text(
        "# 保障性住房信息 — 市住房和城乡建设局\n"
        "source_id: zjj_bzf\nformat: csv\nencoding: gb18030\nmode: full\nentity_keys: [id_number]\n"
        "columns:\n"
        "  - {header: 身份证号, column: id_number, parser: id_number, required: true, sensitivity: L3}\n"
        "  - {header: 姓名, column: name, parser: name, required: true, sensitivity: L2}\n"
        "  - {header: 房源编号, column: housing_no, sensitivity: L1}\n",
        encoding="utf-8",
    )
    (project / "conf" / "catalog" / "zjj_bzf.yaml").write_text(
        "source_id: zjj_bzf\nprovider: 市住房和城乡建设局\ndepartment_id: zjj\ndepartment: 住建\n"
        "resource_code: 130900-ZJJ-0010\nresource_name: 保障性住房信息\nshare_type: 有条件共享\n"
        "open_type: 不予开放\nclassification: L3\nsystem: 住房保障管理系统\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("GOVLAKE_PROJECT_DIR", str(project))
    landing = tmp_path / "landing"
    body = (
        "姓名,身份证号,房源编号\r\n王五,130902198001011234,BZF-001\r\n赵六,130902198502021234\r\n"
    )
    deliver(landing, "zjj_bzf", D, 1, "csv", body.encode("gb18030"), 2)
    report = ingest_date(lake, landing, business_date=D, sources=["zjj_bzf"])
    assert not [p for p in report.problems if "rejected" in p]
    rows = lake.read("bronze.zjj_bzf").collect()
    assert [(r["name"], r["housing_no"], r["_row_number"]) for r in rows] == [
        ("王五", "BZF-001", 1)
    ]
    assert [r["reason_code"] for r in lake.read("quarantine.rows").collect()] == [
        "field_count_mismatch"
    ]
    assert "zjj_bzf" in config.catalog()


def test_unknown_source_directories_are_reported_not_ingested(lake, tmp_path):
    landing = tmp_path / "landing"
    deliver(landing, "xyz_unknown", D, 1, "csv", b"a\n1\n", 1)
    deliver(landing, "swj_swdj", D, 1, "txt", swdj(ROW_A), 1)
    scan = record_landing(lake, landing)
    assert scan.sources_on(D) == ["swj_swdj"]
    entries = lake.read("quarantine.entries").collect()
    assert [(e["path"], e["reason_code"]) for e in entries] == [("xyz_unknown/", "unknown_source")]
    assert any("xyz_unknown/" in line for line in summary(scan))


@pytest.mark.parametrize(
    "name,rows,over,reason",
    [
        ("md5", 1, {"md5": "0" * 32}, "md5_mismatch"),
        ("count", 2, {}, "row_count_mismatch"),
    ],
)
def test_manifest_mismatches_reject_the_file(lake, tmp_path, name, rows, over, reason):
    landing = tmp_path / "landing"
    deliver(landing, "swj_swdj", D, 1, "txt", swdj(ROW_A), rows, **over)
    r = ingest_source(lake, landing, source_id="swj_swdj", business_date=D)
    assert [f.reason_code for f in r.files] == [reason]
    assert lake.read("bronze.swj_swdj").filter(F.col("_business_date") == D).count() == 0


def test_a_file_name_with_glob_characters_discards_only_what_it_staged(lake, tmp_path):
    """A delivered name is the department's: a rejected or duplicate file whose name is also a
    glob pattern (``_0?.txt`` matches ``_01.txt``) must not take another file's staged rows."""
    import hashlib
    import json

    landing = tmp_path / "landing"
    deliver(landing, "swj_swdj", D, 1, "txt", swdj(ROW_A, ROW_B), 2, parts=2)
    data = swdj(ROW_A, ROW_B)
    name = "swj_swdj_20261102_0?.txt"  # sorts after _01: the duplicate, staged then discarded
    folder = landing / "swj_swdj" / D.isoformat()
    (folder / name).write_bytes(data)
    manifest = json.loads((folder / "swj_swdj_20261102_01.txt.ok").read_text())
    manifest.update(file=name, md5=hashlib.md5(data).hexdigest())
    (folder / f"{name}.ok").write_text(json.dumps(manifest))
    r = ingest_source(lake, landing, source_id="swj_swdj", business_date=D)
    assert {f.file: (f.status, f.reason_code) for f in r.files} == {
        "swj_swdj_20261102_01.txt": ("accepted", None),
        name: ("rejected", "duplicate_file"),
    }
    assert r.failures == []
    assert lake.read("bronze.swj_swdj").count() == 2


def test_discarding_a_file_s_staged_parts_leaves_every_other_name_s(tmp_path):
    """The department chooses the names: neither glob characters nor a name that begins
    another may reach another file's staged parts."""
    from jobs.pipeline.ingest.bronze import _Stager

    schema = config.extract_schema("swj_swdj")
    names = [
        "swj_swdj_20261102_01.txt",
        "swj_swdj_20261102_0?.txt",
        "swj_swdj_20261102_01.txt.0000.parquet.txt",
    ]
    stagers = {}
    for name in names:
        stagers[name] = _Stager(schema, tmp_path, name)
        stagers[name].add([name] * len(schema.column_names), 1, extra=None)
        stagers[name].flush()
    for gone in (names[1], names[0]):
        stagers[gone].discard()
        names.remove(gone)
        left = pq.read_table(tmp_path).column("_file").to_pylist()
        assert sorted(left) == sorted(names)


def test_a_duplicate_names_its_original_printably(lake, tmp_path):
    """The reason is stored and shown: the original's name in it is escaped like every name."""
    import hashlib
    import json

    landing = tmp_path / "landing"
    data = swdj(ROW_A)
    deliver(landing, "swj_swdj", D, 1, "txt", data, 1, parts=2)
    folder = landing / "swj_swdj" / D.isoformat()
    name = "swj_swdj_20261102_01\x1b[2J.txt"  # sorts first: the original
    (folder / name).write_bytes(data)
    manifest = json.loads((folder / "swj_swdj_20261102_01.txt.ok").read_text())
    (folder / f"{name}.ok").write_text(
        json.dumps({**manifest, "file": name, "md5": hashlib.md5(data).hexdigest()})
    )
    r = ingest_source(lake, landing, source_id="swj_swdj", business_date=D)
    dup = next(f for f in r.files if f.reason_code == "duplicate_file")
    assert "\x1b" not in dup.reason and "\\x1b" in dup.reason, dup.reason
