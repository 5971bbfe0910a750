"""CSV and XLSX that a person can open in Excel, WPS or LibreOffice without running anything.

Every spreadsheet govlake writes (the 整改清单 sent to departments, ``govlake sql --format
csv``) goes through here (docs/security.md):

* **Formula triggers are made inert** (OWASP, CSV injection): text starting with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return, or their full-width forms (``＝＋－＠``, which WPS
  and Excel's IME input also accept), is written with a leading apostrophe ``'``, so a
  spreadsheet shows it as text. A plain number such as ``-5`` or ``+3.2`` cannot be a formula
  and is left alone. Officers are told in docs/quality.md: a value shown with a leading ``'``
  was delivered without it.
* **XLSX cells are typed values**: text cells are strings (never formulas, whatever they start
  with), numbers numbers, dates dates.
* **Control characters**, which XLSX cannot hold (a file holding one does not open), are shown
  as ``\\xNN``; so are they in CSV, so both lists read the same.
* CSV cells are all quoted, and the file starts with a UTF-8 BOM so that Excel reads Chinese.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from jobs.pipeline.ingest.readers import escape_controls

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def inert(text: str) -> str:
    """Text a spreadsheet will show as text: control characters escaped, and an apostrophe
    before a leading formula trigger (not before a plain number)."""
    text = escape_controls(text)
    if text.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from pandas
        return ""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, str):
        return inert(value)
    if isinstance(value, bytes):
        return value.hex()
    return inert(str(value))


def write_csv(
    rows: Iterable[Sequence[Any]], header: Sequence[str], *, out: IO[str], newline: str = "\r\n"
) -> None:
    """Rows as CSV (every cell quoted and inert) to an open text stream."""
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator=newline)
    writer.writerow([_text(h) for h in header])
    for row in rows:
        writer.writerow([_text(v) for v in row])


def save_csv(path: Path, rows: Iterable[Sequence[Any]], *, header: Sequence[str]) -> Path:
    """:func:`write_csv` to a file, UTF-8 with a BOM (Excel then reads Chinese)."""
    with Path(path).open("w", encoding="utf-8-sig", newline="") as f:
        write_csv(rows, header, out=f)
    return Path(path)


def _cell(ws, value: Any):
    from openpyxl.cell import WriteOnlyCell

    if value is None or (isinstance(value, float) and value != value):
        return WriteOnlyCell(ws, value=None)
    if isinstance(value, bool | int | float | decimal.Decimal):
        return WriteOnlyCell(ws, value=value)
    if isinstance(value, dt.datetime | dt.date):
        cell = WriteOnlyCell(
            ws, value=value.replace(tzinfo=None) if isinstance(value, dt.datetime) else value
        )
        cell.number_format = (
            "yyyy-mm-dd hh:mm:ss" if isinstance(value, dt.datetime) else "yyyy-mm-dd"
        )
        return cell
    cell = WriteOnlyCell(ws, value=_text(value))
    cell.data_type = "s"  # openpyxl would make text starting with "=" a formula
    return cell


def save_xlsx(
    path: Path, rows: Iterable[Sequence[Any]], *, header: Sequence[str], sheet: str = "Sheet1"
) -> Path:
    """Rows as an XLSX workbook of one sheet: typed cells, text inert, never a formula."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(inert(sheet)[:31])
    ws.append([_cell(ws, h) for h in header])
    for row in rows:
        ws.append([_cell(ws, v) for v in row])
    wb.save(path)
    return Path(path)
