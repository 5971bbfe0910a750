"""Readers for every delivered format: records, row numbers, raw rows and reasons."""

from __future__ import annotations

import json

import pytest

from jobs.pipeline.ingest.readers import FileRejected, read_file
from jobs.platform.config import extract_schema


def records(path, source):
    parsed = read_file(path.read_bytes(), extract_schema(source))
    return parsed.header, list(parsed.records)


def test_gb18030_csv_is_decoded(tmp_path):
    f = tmp_path / "a.csv"
    f.write_bytes("公民身份号码,姓名\r\n130902199001011230,张三\r\n".encode("gb18030"))
    header, recs = records(f, "gaj_hjrk")
    assert header == ["公民身份号码", "姓名"]
    assert recs[0].values == ["130902199001011230", "张三"] and recs[0].row_number == 1


def test_utf8_bom_is_stripped_from_the_header(tmp_path):
    f = tmp_path / "a.csv"
    f.write_bytes("\ufeffCSZMBH,XSEXM\r\nN123456789,李四\r\n".encode())
    header, recs = records(f, "wjw_cszm")
    assert header[0] == "CSZMBH" and recs[0].values[1] == "李四"


def test_rfc4180_quoted_line_breaks_are_one_record(tmp_path):
    f = tmp_path / "a.csv"
    f.write_bytes(
        '企业名称,经营范围\r\n"A公司","销售，服务\r\n""互联网+"",技术"\r\nB公司,零售\r\n'.encode()
    )
    _, recs = records(f, "scjgj_qydj")
    assert [r.row_number for r in recs] == [1, 2]
    assert recs[0].values[1] == '销售，服务\r\n"互联网+",技术'


def test_wrong_field_count_is_quarantined_with_the_raw_row(tmp_path):
    f = tmp_path / "a.txt"
    f.write_bytes("NSRSBH|NSRMC\n91130902MA0ABCDE6M|甲公司\n91130902MA0ABCDE6M|乙|多余\n".encode())
    _, recs = records(f, "swj_swdj")
    assert recs[0].reason_code is None
    assert recs[1].reason_code == "field_count_mismatch" and "expected 2, found 3" in recs[1].reason
    assert recs[1].raw == "91130902MA0ABCDE6M|乙|多余"


def test_undecodable_bytes_are_quarantined_and_shown_escaped(tmp_path):
    f = tmp_path / "a.csv"
    f.write_bytes(
        "公民身份号码,姓名\r\n".encode("gb18030")
        + b"13\xff\xfe0902,x\r\n"
        + "1,张\r\n".encode("gb18030")
    )
    _, recs = records(f, "gaj_hjrk")
    assert recs[0].reason_code == "encoding_error" and "\\xff" in recs[0].raw
    assert recs[1].values == ["1", "张"] and recs[1].row_number == 2


def test_truncated_quoted_last_record_is_quarantined(tmp_path):
    f = tmp_path / "a.csv"
    f.write_bytes('企业名称,经营范围\r\nA,x\r\nB,"未结束的\r\n'.encode())
    _, recs = records(f, "scjgj_qydj")
    assert recs[0].reason_code is None
    assert recs[1].reason_code == "malformed_record" and recs[1].row_number == 2


def test_jsonl_bad_lines_are_quarantined_not_fatal(tmp_path):
    f = tmp_path / "a.jsonl"
    f.write_bytes(
        b'{"djlx": "IA"}\n{"djlx": "IB"\n[1, 2]\n{"djlx": "\xc3\x28"}\n\n{"djlx": "ICA"}\n'
    )
    _, recs = records(f, "mzj_hydj")
    assert [(r.row_number, r.reason_code) for r in recs] == [
        (1, None),
        (2, "malformed_record"),
        (3, "malformed_record"),
        (4, "encoding_error"),
        (5, None),
    ]


def test_json_document_records_and_declared_count(tmp_path):
    f = tmp_path / "a.json"
    f.write_text(
        json.dumps(
            {"exportTime": "x", "count": 2, "records": [{"zzmc": "协会"}, "bad"]},
            ensure_ascii=False,
        )
    )
    parsed = read_file(f.read_bytes(), extract_schema("mzj_shzz"))
    recs = list(parsed.records)
    assert parsed.declared_count == 2
    assert recs[0].values == {"zzmc": "协会"} and recs[1].reason_code == "malformed_record"


def test_broken_json_document_rejects_the_file(tmp_path):
    f = tmp_path / "a.json"
    f.write_text('{"records": [{"zzmc": "协会"}')
    with pytest.raises(FileRejected) as e:
        read_file(f.read_bytes(), extract_schema("mzj_shzz"))
    assert e.value.reason_code == "malformed_document"


def test_xlsx_first_sheet_with_text_cells(tmp_path):
    import xlsxwriter

    f = tmp_path / "a.xlsx"
    wb = xlsxwriter.Workbook(str(f))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["个人编号", "社会保障号码", "险种类型"])
    ws.write_row(1, 0, ["P1", "130902199001011230", "110"])
    ws.write_string(2, 0, "P2")
    ws.write_number(2, 2, 310)
    ws.write_row(3, 0, ["P3", "x", "110", "多余"])
    wb.close()
    header, recs = records(f, "rsj_sbcb")
    assert header == ["个人编号", "社会保障号码", "险种类型"]
    assert recs[0].values == ["P1", "130902199001011230", "110"]
    assert recs[1].values == ["P2", None, "310"]  # a numeric cell reads back as its integer text
    assert recs[2].reason_code == "field_count_mismatch"


def test_a_file_that_is_not_xlsx_is_rejected(tmp_path):
    f = tmp_path / "a.xlsx"
    f.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(FileRejected) as e:
        read_file(f.read_bytes(), extract_schema("rsj_sbcb"))
    assert e.value.reason_code == "unreadable_file"


def test_the_generators_xlsx_opens_in_openpyxl_and_calamine(tmp_path):
    """The sample city's fast XLSX writer produces workbooks other readers accept."""
    import openpyxl

    from samplecity.xlsx import write_xlsx

    f = tmp_path / "g.xlsx"
    f.write_bytes(
        write_xlsx(
            [["个人编号", "社会保障号码", "险种类型"], ["P1", " 13<&> ", "110"], ["P2", "", "310"]]
        )
    )
    ws = openpyxl.load_workbook(f, read_only=True).worksheets[0]
    assert [list(r) for r in ws.iter_rows(values_only=True)] == [
        ["个人编号", "社会保障号码", "险种类型"],
        ["P1", " 13<&> ", "110"],
        ["P2", None, "310"],
    ]
    _, recs = records(f, "rsj_sbcb")
    assert recs[0].values == ["P1", " 13<&> ", "110"] and recs[1].values == ["P2", None, "310"]


@pytest.mark.parametrize(
    ("xml", "marked"),
    [
        (b'<c r="A2"><f>SUM(B2:C2)</f><v>3</v></c>', True),
        (b'<c r="A2"><f t="shared" ref="A2:A9" si="0"/></c>', True),
        (b'<c r="A3"><f/></c>', True),
        (b'<x:c r="A2"><x:f>1+1</x:f></x:c>', True),
        (b'<x:c r="A2"><x:f t="shared" si="0"/></x:c>', True),
        (b'<c r="B2" t="e"><v>#N/A</v></c>', True),
        (b'<filterColumn colId="0"/><fill/><c r="A1" t="s"><v>0</v></c>', False),
        (b'<c r="A1" t="inlineStr"><is><t>a:fine value</t></is></c>', False),
        (b"<row><c><v>1</v></c></row><f", False),  # decided by the next window
    ],
)
def test_formula_and_error_markers(xml, marked):
    from jobs.pipeline.ingest.xlsx import _marked

    assert _marked(xml) is marked
