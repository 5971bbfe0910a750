"""What calamine does not say about an XLSX delivery, read before it parses the workbook.

* **Zip bombs.** Every part of the package is inflated once through :mod:`zipfile`, which never
  yields more than a part's declared size and checks its CRC: a part whose ratio of inflated to
  compressed size is over the bound is ``zip_bomb``; parts that add up to more than the bound,
  or too many parts, are ``xlsx_too_large``. Only then does calamine read the same bytes.
* **Formula and error cells.** calamine gives a formula's cached value, and an empty string for
  a formula never calculated (a workbook written by a program) or for an error such as ``#N/A``:
  a value the department never had would become a silent null. The first sheet's XML is
  searched for formulas (``<f>``) and error cells (``t="e"``); only when it has any is it parsed
  (streaming) to find where they are.
"""

from __future__ import annotations

import io
import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field

from jobs.pipeline.ingest.records import FileRejected
from jobs.platform.config import IngestLimits

_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
# a formula element (<f>, <f t="shared" .../>, <x:f>) or an error cell (t="e"); a false alarm
# (<filterColumn>) only costs a streaming parse of the sheet
_MARKERS = ((b"<f", b"> /"), (b":f", b"> "))  # a prefix, and the bytes that may follow it
_ERROR_CELL = b't="e"'
_CELL_REF = re.compile(r"^([A-Z]+)(\d+)$")
_CHUNK = 1 << 20


def _marked(window: bytes) -> bool:
    """Whether the XML holds a formula element or an error cell: three fast searches, each
    prefix's rare hits checked by the byte after it (six searches took twice as long)."""
    for prefix, after in _MARKERS:
        i = window.find(prefix)
        while i != -1:
            if i + 2 < len(window) and window[i + 2] in after:
                return True
            i = window.find(prefix, i + 2)
    return _ERROR_CELL in window


@dataclass
class SheetFacts:
    """Cells of the first sheet that calamine reads as something else, by (row, col), 0-based."""

    formulas: dict[tuple[int, int], tuple[str, str | None]] = field(default_factory=dict)
    errors: dict[tuple[int, int], str] = field(default_factory=dict)


def inspect_xlsx(data: bytes, limits: IngestLimits) -> SheetFacts:
    """Check the package's bounds and find the first sheet's formula and error cells."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise FileRejected("unreadable_file", f"not a readable XLSX workbook: {e}") from None
    if len(infos) > limits.max_xlsx_parts:
        raise FileRejected(
            "xlsx_too_large", f"{len(infos):,} parts, over the bound of {limits.max_xlsx_parts:,}"
        )
    sheet = _first_sheet(zf)
    total, marked = 0, False
    for info in infos:
        budget = limits.max_xlsx_uncompressed_bytes - total
        size, found = _inflate(zf, info, limits, budget=budget, search=info.filename == sheet)
        total += size
        marked = marked or found
    if not marked:
        return SheetFacts()
    with zf.open(sheet) as f:
        return _sheet_facts(f)


def _inflate(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: IngestLimits, *, budget: int, search: bool
) -> tuple[int, bool]:
    """Inflate one part, counting; returns its size and whether (when ``search``) it holds
    formula or error markers."""
    ratio = limits.max_xlsx_compression_ratio
    if info.file_size > budget:
        raise FileRejected(
            "xlsx_too_large",
            f"its parts inflate to more than {limits.max_xlsx_uncompressed_bytes:,} bytes",
        )
    if info.file_size > ratio * max(info.compress_size, 1) and info.file_size > _CHUNK:
        raise FileRejected(
            "zip_bomb",
            f"part {info.filename!r} inflates {info.file_size:,} bytes from "
            f"{info.compress_size:,} (more than {ratio}x)",
        )
    size, found, tail = 0, False, b""
    try:
        with zf.open(info) as f:
            while chunk := f.read(_CHUNK):
                size += len(chunk)
                if search and not found:
                    window = tail + chunk
                    found = _marked(window)
                tail = chunk[-16:]
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        raise FileRejected(
            "unreadable_file", f"part {info.filename!r} cannot be read: {e}"
        ) from None
    if size != info.file_size:
        raise FileRejected(
            "zip_bomb", f"part {info.filename!r} inflates to another size than declared"
        )
    return size, found


def _first_sheet(zf: zipfile.ZipFile) -> str | None:
    """The part name of the workbook's first sheet (the one calamine reads as index 0)."""
    try:
        book = ET.fromstring(zf.read("xl/workbook.xml"))
        rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ET.ParseError, zipfile.BadZipFile):
        return None
    first = book.find(f"{_NS}sheets/{_NS}sheet")
    if first is None:
        return None
    rid = first.get(f"{_REL_NS}id")
    for rel in rels.iter(f"{_PKG_REL_NS}Relationship"):
        if rel.get("Id") == rid:
            target = rel.get("Target", "")
            return (
                target.lstrip("/")
                if target.startswith("/")
                else posixpath.normpath(posixpath.join("xl", target))
            )
    return None


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def _sheet_facts(f) -> SheetFacts:
    """Stream the sheet XML: where formulas (with their cached value) and errors are."""
    facts = SheetFacts()
    row, col = -1, -1
    try:
        for event, el in ET.iterparse(f, events=("start", "end")):
            if event == "start":
                if el.tag == f"{_NS}row":
                    r = el.get("r")
                    row, col = (int(r) - 1 if r and r.isdigit() else row + 1), -1
                continue
            if el.tag != f"{_NS}c":
                if el.tag == f"{_NS}row":
                    el.clear()
                continue
            ref = _CELL_REF.match(el.get("r") or "")
            col = _column_index(ref.group(1)) if ref else col + 1
            if ref:
                row = int(ref.group(2)) - 1
            formula, value = el.find(f"{_NS}f"), el.find(f"{_NS}v")
            cached = value.text if value is not None and value.text else None
            if el.get("t") == "e":
                facts.errors[(row, col)] = cached or "#ERROR"
            elif formula is not None:
                facts.formulas[(row, col)] = ("=" + (formula.text or ""), cached)
            el.clear()
    except ET.ParseError as e:
        raise FileRejected(
            "unreadable_file", f"the first sheet is not well-formed XML: {e}"
        ) from None
    return facts


def cell_name(row: int, col: int) -> str:
    """A0-style name of a 0-based cell position (B3 for row 2, col 1)."""
    letters, n = "", col + 1
    while n:
        n, r = divmod(n - 1, 26)
        letters = chr(65 + r) + letters
    return f"{letters}{row + 1}"
