"""The hostile-landing corpus (docs/security.md): one case per class of attack on the landing
zone, each built by code from a clean sample city and each asserting what the lake holds."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from jobs.pipeline.ingest.bronze import ingest_source
from jobs.pipeline.ingest.entries import record_landing, summary
from jobs.pipeline.ingest.run import ingest_date
from jobs.pipeline.runner import RunFailed, run_pipeline
from jobs.platform import delta
from jobs.platform.config import PACKAGE_ROOT

from .hostile_kit import (
    SECRET,
    D,
    clean_city,
    consistent,
    copy_landing,
    day_dir,
    lake_bytes_hold,
    manifest,
    outside_secret,
    reasons,
    redeliver,
    slice_rows,
    the_file,
    write_ok,
)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    return clean_city(tmp_path_factory.mktemp("clean-city"))


@pytest.fixture
def landing(clean, tmp_path) -> Path:
    return copy_landing(clean, tmp_path / "landing")


def _bronze(lake, source):
    return slice_rows(lake, f"bronze.{source}", source)


# ------------------------------------------------------------------------------ containment
def test_a_linked_data_file_is_rejected_unread(lake, landing, tmp_path):
    secret = outside_secret(tmp_path)
    f = the_file(landing, "gaj_hjrk")
    doc = {**manifest(f), "rows": 4, "md5": hashlib.md5(secret.read_bytes()).hexdigest()}
    f.unlink()
    f.symlink_to(secret)
    write_ok(f.with_name(f.name + ".ok"), json.dumps(doc))
    report = ingest_date(lake, landing, business_date=D, sources=["gaj_hjrk"])
    assert reasons(lake, "quarantine.files", "gaj_hjrk") == {f.name: "symbolic_link"}
    assert _bronze(lake, "gaj_hjrk") == [] and slice_rows(lake, "quarantine.rows", "gaj_hjrk") == []
    audit = slice_rows(lake, "audit.deliveries", "gaj_hjrk")
    assert [(a["status"], a["reason_code"]) for a in audit] == [("rejected", "symbolic_link")]
    assert any(f"{f.name} rejected (symbolic_link)" in p for p in report.problems)
    size = str(secret.stat().st_size)
    for leak in (SECRET, hashlib.md5(secret.read_bytes()).hexdigest()):
        assert lake_bytes_hold(lake.root, leak) == []
        assert not any(leak in p for p in report.problems + report.lines)
    assert not any(re.search(rf"\b{size}\b", p) for p in report.problems)


def test_links_and_special_files_at_every_level_are_never_followed(lake, landing, tmp_path):
    secret = outside_secret(tmp_path)
    outside = tmp_path / "outside"
    # a source folder and a date folder replaced by links to copies kept outside
    for source, link in (
        ("scjgj_qydj", landing / "scjgj_qydj"),
        ("swj_swdj", day_dir(landing, "swj_swdj")),
    ):
        shutil.move(link, outside / source)
        link.symlink_to(outside / source)
    # a manifest that is a link, a hard link to an outside file, a FIFO, a linked folder
    cszm = the_file(landing, "wjw_cszm")
    ok = cszm.with_name(cszm.name + ".ok")
    shutil.move(ok, outside / ok.name)
    ok.symlink_to(outside / ok.name)
    hydj = the_file(landing, "mzj_hydj")
    hard = outside / "hard.jsonl"
    hard.write_bytes(hydj.read_bytes())
    hydj.unlink()
    os.link(hard, hydj)
    os.mkfifo(day_dir(landing, "gaj_hjrk") / "gaj_hjrk_20261102_02.csv")
    (day_dir(landing, "zwfw_dzzz") / "more").symlink_to(outside, target_is_directory=True)

    scan = record_landing(lake, landing)
    ingest_date(lake, landing, business_date=D)  # returns: the FIFO was not opened for reading
    entries = {e["path"]: e["reason_code"] for e in lake.read("quarantine.entries").collect()}
    assert entries["scjgj_qydj"] == "symbolic_link"
    assert entries["swj_swdj/2026-11-02"] == "symbolic_link"
    assert _bronze(lake, "scjgj_qydj") == [] and _bronze(lake, "swj_swdj") == []
    assert reasons(lake, "quarantine.files", "wjw_cszm") == {cszm.name: "symbolic_link"}
    assert reasons(lake, "quarantine.files", "mzj_hydj") == {hydj.name: "hard_link"}
    assert reasons(lake, "quarantine.files", "gaj_hjrk") == {
        "gaj_hjrk_20261102_02.csv": "special_file"
    }
    assert reasons(lake, "quarantine.files", "zwfw_dzzz") == {"more": "symbolic_link"}
    assert _bronze(lake, "gaj_hjrk") and _bronze(lake, "zwfw_dzzz")  # the rest is ingested
    assert any("scjgj_qydj" in line and "symbolic_link" in line for line in summary(scan))
    assert lake_bytes_hold(lake.root, SECRET) == [] and secret.exists()


# ------------------------------------------------------------------------------ accounting
def test_every_entry_that_is_not_a_delivery_is_recorded(lake, landing):
    delivered = manifest(the_file(landing, "rsj_sbcb"))["rows"]
    (landing / "readme.txt").write_text("hello")
    (landing / "gaj_hjrk" / "notes.txt").write_text("x")
    for bad in ("2026-13-45", "20261102", "2026-02-30"):
        (landing / "gaj_hjrk" / bad).mkdir()
    (landing / "xyz_new" / "2026-11-02").mkdir(parents=True)
    (landing / ".sync").mkdir()
    day = day_dir(landing, "rsj_sbcb")
    for name in ("rsj_sbcb_20261102_01.xlsx.tmp", "~$rsj_sbcb_20261102_01.xlsx", ".DS_Store"):
        (day / name).write_bytes(b"junk")
    (day / "readme.txt").write_text("for the platform")
    (day / "old").mkdir()
    scan = record_landing(lake, landing)
    ingest_date(lake, landing, business_date=D, sources=["rsj_sbcb", "gaj_hjrk"])
    entries = {e["path"]: e["reason_code"] for e in lake.read("quarantine.entries").collect()}
    assert entries == {
        ".sync/": "reserved_name",
        "gaj_hjrk/2026-02-30/": "bad_date_folder",
        "gaj_hjrk/2026-13-45/": "bad_date_folder",
        "gaj_hjrk/20261102/": "bad_date_folder",
        "gaj_hjrk/notes.txt": "stray_file",
        "readme.txt": "stray_file",
        "xyz_new/": "unknown_source",
    }
    assert reasons(lake, "quarantine.files", "rsj_sbcb") == {
        ".DS_Store": "temporary_file",
        "old": "nested_folder",
        "readme.txt": "stray_file",
        "rsj_sbcb_20261102_01.xlsx.tmp": "temporary_file",
        "~$rsj_sbcb_20261102_01.xlsx": "temporary_file",
    }
    audit = slice_rows(lake, "audit.deliveries", "rsj_sbcb")
    assert [a["snapshot_complete"] for a in audit if a["status"] == "accepted"] == [True]
    named = "\n".join(summary(scan))
    assert all(path in named for path in entries)
    assert consistent(lake, "rsj_sbcb") and len(_bronze(lake, "rsj_sbcb")) == delivered
    # the table is the zone's current state: fixing the zone empties it
    for p in (landing / "readme.txt", landing / "gaj_hjrk" / "notes.txt"):
        p.unlink()
    for p in ("gaj_hjrk/2026-13-45", "gaj_hjrk/20261102", "gaj_hjrk/2026-02-30", ".sync"):
        (landing / p).rmdir()
    shutil.rmtree(landing / "xyz_new")
    record_landing(lake, landing)
    assert lake.read("quarantine.entries").count() == 0


def test_names_with_control_characters_and_bad_bytes_are_recorded_printably(lake, landing):
    odd = os.fsencode(landing) + b"/gaj_hjrk/2026-11-02/\x1b[31mred\xff.csv"
    with open(odd, "wb") as f:
        f.write(b"x")
    ingest_date(lake, landing, business_date=D, sources=["gaj_hjrk"])
    files = reasons(lake, "quarantine.files", "gaj_hjrk")
    assert files == {"\\x1b[31mred\\xff.csv": "stray_file"}


# ------------------------------------------------------------------------------ isolation
def test_deep_json_is_quarantined_or_rejected_not_a_crash(lake, landing):
    hydj = the_file(landing, "mzj_hydj")
    lines = hydj.read_bytes().splitlines(keepends=True)
    deep = b'{"djlx": "IA", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}\n"
    redeliver(hydj, b"".join([*lines[:3], deep, *lines[3:]]), rows=len(lines) + 1)
    shzz = the_file(landing, "mzj_shzz")
    doc = json.loads(shzz.read_text())
    doc["records"][0]["zs"] = json.loads("[" * 200 + "]" * 200)
    redeliver(shzz, json.dumps(doc, ensure_ascii=False).encode())
    report = ingest_date(lake, landing, business_date=D, sources=["mzj_hydj", "mzj_shzz"])
    assert reasons(lake, "quarantine.rows", "mzj_hydj") == {4: "nesting_too_deep"}
    assert len(_bronze(lake, "mzj_hydj")) == len(lines)
    assert reasons(lake, "quarantine.files", "mzj_shzz") == {shzz.name: "nesting_too_deep"}
    assert not report.failures and consistent(lake, "mzj_hydj") and consistent(lake, "mzj_shzz")


def test_an_unexpected_error_in_one_file_stops_nothing_else(lake, landing, monkeypatch):
    from jobs.pipeline.ingest import readers

    real = readers.READERS["text"]

    def broken(data, schema, limits):
        if schema.source_id == "swj_swdj":
            raise MemoryError("parser blew up")
        return real(data, schema, limits)

    monkeypatch.setitem(readers.READERS, "text", broken)
    with pytest.raises(RunFailed) as e:
        run_pipeline(landing, lake.root, echo=lambda m: None)
    name = the_file(landing, "swj_swdj").name
    assert f"2026-11-02 bronze swj_swdj {name}: unexpected error" in str(e.value)
    assert "MemoryError" in str(e.value)
    assert reasons(lake, "quarantine.files", "swj_swdj") == {name: "ingest_error"}
    for source in ("gaj_hjrk", "rsj_sbcb", "zwfw_dzzz"):  # every other source was ingested
        assert _bronze(lake, source) and consistent(lake, source)
    assert not lake.exists("silver.person")  # the date waits: its base needs every source


def test_a_failed_write_leaves_the_previous_slice_whole(lake, landing, monkeypatch):
    from jobs.platform.lake import Lake

    ingest_source(lake, landing, source_id="gaj_hjrk", business_date=D)
    before = {
        t: lake.version(t) for t in ("bronze.gaj_hjrk", "quarantine.rows", "audit.deliveries")
    }
    f = the_file(landing, "gaj_hjrk")
    text = f.read_bytes().decode("gb18030").splitlines(keepends=True)
    redeliver(f, "".join(text[:-5]).encode("gb18030"), rows=len(text) - 6)  # a new delivery
    real = Lake.replace_slice

    def fail_on_audit(self, df, table, **kw):
        if table == "audit.deliveries":
            raise OSError("disk full")
        return real(self, df, table, **kw)

    monkeypatch.setattr(Lake, "replace_slice", fail_on_audit)
    report = ingest_date(lake, landing, business_date=D, sources=["gaj_hjrk"])
    assert report.failures and "rolled back" in report.failures[0]
    assert "disk full" in report.failures[0]
    monkeypatch.undo()
    assert len(_bronze(lake, "gaj_hjrk")) == len(text) - 1  # the first delivery, whole
    assert consistent(lake, "gaj_hjrk")
    assert lake.history("bronze.gaj_hjrk", 1)[0]["operation"] == "RESTORE"
    for table, version in before.items():  # each table holds what it held before
        now, then = (delta.read_table(lake.path(table), v) for v in (None, version))
        assert sorted(map(str, now.to_pylist())) == sorted(map(str, then.to_pylist()))


# ------------------------------------------------------------------------------ bounds
def _xlsx_with_parts(n: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(n):
            z.writestr(f"xl/extra{i}.xml", "<x/>")
    return buf.getvalue()


def _zip_bomb(real: bytes) -> bytes:
    """The delivered workbook plus a part that inflates 64 MiB from a few KiB."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(real)) as src, zipfile.ZipFile(buf, "w") as z:
        for info in src.infolist():
            z.writestr(info, src.read(info))
        z.writestr("xl/media/bomb.xml", b"0" * (64 << 20), compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


@pytest.fixture
def tight(tmp_path, monkeypatch):
    """A project whose conf/ingest.yaml sets the bounds small (each bound is a setting)."""
    project = tmp_path / "project"
    shutil.copytree(PACKAGE_ROOT / "schemas", project / "schemas")
    shutil.copytree(PACKAGE_ROOT / "conf", project / "conf")
    (project / "conf" / "ingest.yaml").write_text(
        "limits:\n  max_field_chars: 60\n  max_record_chars: 500\n  max_columns: 20\n"
        "  max_json_depth: 4\n  max_xlsx_parts: 12\n  max_file_bytes: 3000000\n"
        "  max_xlsx_uncompressed_bytes: 200000000\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("GOVLAKE_PROJECT_DIR", str(project))


def _append_line(f: Path, line: str, encoding: str) -> None:
    data = f.read_bytes() + line.encode(encoding)
    redeliver(f, data, rows=manifest(f)["rows"] + 1)


@pytest.mark.parametrize(
    "case,source,table,reason",
    [
        ("long field", "gaj_hjrk", "quarantine.rows", "field_too_long"),
        ("long record", "swj_swdj", "quarantine.rows", "record_too_long"),
        ("many keys", "mzj_hydj", "quarantine.rows", "too_many_columns"),
        ("deep", "zwfw_dzzz", "quarantine.rows", "nesting_too_deep"),
        ("many columns", "scjgj_qydj", "quarantine.files", "too_many_columns"),
        ("many parts", "rsj_sbcb", "quarantine.files", "xlsx_too_large"),
        ("zip bomb", "rsj_sbcb", "quarantine.files", "zip_bomb"),
        ("big file", "wjw_cszm", "quarantine.files", "file_too_large"),
    ],
)
def test_every_parser_is_bounded_by_a_setting(lake, landing, tight, case, source, table, reason):
    f = the_file(landing, source)
    if case == "long field":
        line = (
            "130926200112195673," + "长" * 80 + ",1,01,20011219,804838454,02,10,地址,130926,0,,\r\n"
        )
        _append_line(f, line, "gb18030")
    elif case == "long record":
        _append_line(f, "|".join(["x" * 58] * 9) + "\n", "utf-8")
    elif case == "many keys":
        _append_line(f, json.dumps({f"k{i}": i for i in range(30)}) + "\n", "utf-8")
    elif case == "deep":
        _append_line(f, '{"zzbs": ' + "[" * 6 + "]" * 6 + "}\n", "utf-8")
    elif case == "many columns":
        text = f.read_text(encoding="utf-8")
        head, rest = text.split("\n", 1)
        redeliver(f, (head + "".join(f",额外{i}" for i in range(10)) + "\n" + rest).encode())
    elif case == "many parts":
        redeliver(f, _xlsx_with_parts(13))
    elif case == "zip bomb":
        redeliver(f, _zip_bomb(f.read_bytes()))
    else:
        redeliver(f, f.read_bytes() + b"\n" * 3_000_000)
    ingest_source(lake, landing, source_id=source, business_date=D)
    found = reasons(lake, table, source)
    assert reason in found.values(), found
    assert consistent(lake, source)


# ------------------------------------------------------------------------------ manifests
@pytest.mark.parametrize(
    "change,needle",
    [
        ('"rows": true', "rows"),
        ('"rows": "263"', "rows"),
        ('"rows": 263.0', "rows"),
        ('"rows": -1', "rows"),
        ('"md5": "abc"', "md5"),
        ('"mode": "delta"', "mode"),
        ('"parts": true', "parts"),
        ('"rows": 1, "rows": 263', "more than once"),
    ],
)
def test_manifests_are_strict_types(lake, landing, change, needle):
    f = the_file(landing, "gaj_hjrk")
    doc = manifest(f)
    key = change.split(":")[0].strip('"')
    rest = {k: v for k, v in doc.items() if k != key}
    text = "{" + change + ", " + json.dumps(rest, ensure_ascii=False)[1:]
    write_ok(f.with_name(f.name + ".ok"), text)
    result = ingest_source(lake, landing, source_id="gaj_hjrk", business_date=D)
    rejected = {o.file: (o.reason_code, o.reason) for o in result.files}
    assert rejected[f.name][0] == "manifest_invalid" and needle in rejected[f.name][1]
    assert _bronze(lake, "gaj_hjrk") == [] and consistent(lake, "gaj_hjrk")
    assert [a["reason_code"] for a in slice_rows(lake, "audit.deliveries", "gaj_hjrk")] == [
        "manifest_invalid"
    ]


def test_unknown_manifest_keys_are_recorded(lake, landing):
    f = the_file(landing, "gaj_hjrk")
    write_ok(f.with_name(f.name + ".ok"), json.dumps({**manifest(f), "operator": "张三"}))
    ingest_source(lake, landing, source_id="gaj_hjrk", business_date=D)
    [audit] = slice_rows(lake, "audit.deliveries", "gaj_hjrk")
    assert audit["status"] == "accepted" and "['operator']" in audit["notes"]


# ------------------------------------------------------------------------------ cell fidelity
def _sheet_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read("xl/worksheets/sheet1.xml").decode()


def _with_sheet_xml(data: bytes, xml: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as z:
        for info in src.infolist():
            body = xml.encode() if info.filename == "xl/worksheets/sheet1.xml" else src.read(info)
            z.writestr(info, body, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def test_xlsx_cells_are_read_as_delivered_or_quarantined(lake, landing, tmp_path):
    import datetime as dt

    f = the_file(landing, "rsj_sbcb")
    rows = list(openpyxl.load_workbook(f).worksheets[0].iter_rows(values_only=True))
    header = list(rows[0])
    col = {h: i for i, h in enumerate(header)}
    body = [list(r) for r in rows[1:]]
    body[0][col["姓名"]] = '=HYPERLINK("http://evil.example/","点击")'  # formula, no value
    body[1][col["姓名"]] = "#N/A"  # made an error cell below
    body[2][col["社会保障号码"]] = 130926200112195673  # an ID number typed as a number
    body[3][col["参保日期"]] = dt.date(2019, 3, 1)  # a date cell
    body[4][col["个人编号"]] = "0012"  # a number stored as text
    body[6][col["单位名称"]] = None  # merged with the cell above (row 7 of the sheet)
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in [header, *body]:
        ws.append(r)
    ws.cell(row=3, column=col["姓名"] + 1).data_type = "e"
    ws.merge_cells(
        start_row=7, end_row=8, start_column=col["单位名称"] + 1, end_column=col["单位名称"] + 1
    )
    out = tmp_path / "x.xlsx"
    wb.save(out)
    # a formula Excel has calculated: the cached value is what the department saw
    name_col = openpyxl.utils.get_column_letter(col["姓名"] + 1)
    xml = re.sub(
        rf'<c r="{name_col}7"[^>]*>.*?</c>',
        f'<c r="{name_col}7" t="str"><f>CONCAT("王","五")</f><v>王五</v></c>',
        _sheet_xml(out.read_bytes()),
        count=1,
    )
    redeliver(f, _with_sheet_xml(out.read_bytes(), xml))
    ingest_source(lake, landing, source_id="rsj_sbcb", business_date=D)
    q = {r["_row_number"]: r for r in slice_rows(lake, "quarantine.rows", "rsj_sbcb")}
    assert {n: r["reason_code"] for n, r in q.items()} == {
        1: "formula_cell",
        2: "error_cell",
        3: "number_precision_lost",
    }
    assert "HYPERLINK" in q[1]["raw"] and "#N/A" in q[2]["raw"]
    bronze = {r["_row_number"]: r for r in _bronze(lake, "rsj_sbcb")}
    assert bronze[4]["enrolled_on"] == "20190301"  # the field's own format, %Y%m%d
    assert bronze[5]["insured_no"] == "0012"
    assert bronze[6]["name"] == "王五"
    assert bronze[7]["employer_name"] == body[5][col["单位名称"]] is not None
    assert len(bronze) + len(q) == len(body) and consistent(lake, "rsj_sbcb")
    [audit] = slice_rows(lake, "audit.deliveries", "rsj_sbcb")
    for note in ("date cell", "formula cell taken at its calculated value", "merged cell"):
        assert note in audit["notes"]


def test_control_characters_are_quarantined_never_stored(lake, landing):
    f = the_file(landing, "gaj_hjrk")
    lines = f.read_bytes().decode("gb18030").splitlines(keepends=True)
    lines[1] = lines[1].replace(",", ",\x00", 1).replace("\\x00", "\x00")
    lines[1] = lines[1].split(",", 2)[0] + ",杨\x00晨," + lines[1].split(",", 2)[2]
    lines[2] = lines[2].replace("河北省", "河北\x1b[2J省", 1)
    redeliver(f, "".join(lines).encode("gb18030"))
    hydj = the_file(landing, "mzj_hydj")
    jl = hydj.read_bytes().splitlines(keepends=True)
    jl[0] = jl[0].replace(b'"IA"', b'"I\\u0007A"'.replace(b"\\\\", b"\\"), 1)
    redeliver(hydj, b"".join(jl))
    ingest_date(lake, landing, business_date=D, sources=["gaj_hjrk", "mzj_hydj"])
    gaj = {r["_row_number"]: r for r in slice_rows(lake, "quarantine.rows", "gaj_hjrk")}
    assert {n: r["reason_code"] for n, r in gaj.items()} == {
        1: "control_character",
        2: "control_character",
    }
    assert "U+0000" in gaj[1]["reason"] and "\\x00" in gaj[1]["raw"] and "\x00" not in gaj[1]["raw"]
    assert "U+001B" in gaj[2]["reason"] and "\x1b" not in gaj[2]["raw"]
    assert reasons(lake, "quarantine.rows", "mzj_hydj") == {1: "control_character"}
    for source in ("gaj_hjrk", "mzj_hydj"):
        assert not any(
            "\x00" in str(v) or "\x1b" in str(v) or "\x07" in str(v)
            for r in _bronze(lake, source)
            for v in r.values()
        )
        assert consistent(lake, source)


def test_mixed_line_endings_are_each_a_record_end(lake, landing):
    endings = ["\r\n", "\n", "\r"]
    for source, encoding in (("gaj_hjrk", "gb18030"), ("swj_swdj", "utf-8"), ("mzj_hydj", "utf-8")):
        f = the_file(landing, source)
        lines = f.read_bytes().decode(encoding).splitlines()
        text = "".join(line + endings[i % 3] for i, line in enumerate(lines))
        redeliver(f, text.encode(encoding))
    report = ingest_date(
        lake, landing, business_date=D, sources=["gaj_hjrk", "swj_swdj", "mzj_hydj"]
    )
    for result in report.details:
        assert [o.status for o in result.files] == ["accepted"], result.files
        assert result.rows_quarantined == 0 and consistent(lake, result.source_id)


# ------------------------------------------------------------------------------ staging
def test_nothing_staged_outlives_its_run(lake, landing, tmp_path):
    ingest_date(lake, landing, business_date=D, sources=["gaj_hjrk", "rsj_sbcb"])
    assert not any((lake.root / "_staging").rglob("*.parquet"))
    # a writer killed with SIGKILL leaves its parsed rows behind ...
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal, sys; from jobs.platform.staging import Staging;"
            "d = Staging(sys.argv[1]).job('ingest-gaj_hjrk');"
            "(d / 'part.parquet').write_bytes(b'130926200112195673');"
            "os.kill(os.getpid(), signal.SIGKILL)",
            str(lake.root),
        ],
        cwd=PACKAGE_ROOT,
    )
    assert child.returncode == -signal.SIGKILL
    assert list((lake.root / "_staging").rglob("part.parquet"))
    # ... which the next run removes, while a live writer's folder stays
    from jobs.platform.staging import Staging

    live = Staging(tmp_path / "other")
    live.area = lake.root / "_staging"
    (live.job("quality") / "keep.parquet").write_bytes(b"x")
    run_pipeline(landing, lake.root, stages=["bronze"], echo=lambda m: None)
    assert not list((lake.root / "_staging").rglob("part.parquet"))
    assert list((lake.root / "_staging").rglob("keep.parquet"))
    live.close()
    lake.close()  # this process's own (empty) folder goes with it
    assert not (lake.root / "_staging").exists()


def test_a_name_swapped_for_a_link_after_listing_is_still_not_followed(tmp_path):
    """The listing said "file"; by the time it is opened it is a link (or a FIFO): the open
    itself refuses (O_NOFOLLOW, fstat), whatever the listing said."""
    from jobs.pipeline.ingest.landing import LandingZone
    from jobs.pipeline.ingest.records import FileRejected

    secret = outside_secret(tmp_path)
    day = tmp_path / "landing" / "gaj_hjrk" / "2026-11-02"
    day.mkdir(parents=True)
    (day / "a.csv").symlink_to(secret)
    os.mkfifo(day / "b.csv")
    os.link(secret, day / "c.csv")
    (tmp_path / "landing" / "swj_swdj").symlink_to(tmp_path / "outside")
    zone = LandingZone(tmp_path / "landing")
    with zone.day("gaj_hjrk", D) as folder:
        for name, code in (
            ("a.csv", "symbolic_link"),
            ("b.csv", "special_file"),
            ("c.csv", "hard_link"),
        ):
            with pytest.raises(FileRejected) as e:
                folder.read(name, max_bytes=1 << 20)
            assert e.value.reason_code == code
    with zone.open() as root, pytest.raises(FileRejected) as e:
        with root.folder("swj_swdj"):
            pass
    assert e.value.reason_code == "symbolic_link"


def test_a_json_key_given_twice_is_quarantined_not_silently_collapsed(lake, landing):
    hydj = the_file(landing, "mzj_hydj")
    lines = hydj.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'{"djlx": "IA"', b'{"djlx": "IB", "djlx": "IA"', 1)
    assert lines[2].count(b'"djlx"') == 2
    redeliver(hydj, b"".join(lines))
    ingest_source(lake, landing, source_id="mzj_hydj", business_date=D)
    q = slice_rows(lake, "quarantine.rows", "mzj_hydj")
    assert [(r["_row_number"], r["reason_code"]) for r in q] == [(3, "duplicate_key")]
    assert "djlx" in q[0]["reason"] and consistent(lake, "mzj_hydj")
