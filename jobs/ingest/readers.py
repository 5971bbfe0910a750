"""Readers for every delivered format (spec/extracts.md): CSV (RFC 4180), pipe-separated text,
JSON Lines, one JSON document, XLSX.

A reader turns one data file into a :class:`ParsedFile`: the delivered header (or key set) and
a stream of :class:`Record` — each with its 1-based record number, its values by delivered
header, the row as delivered (``raw``) and, when the row cannot be parsed, a reason. Problems
with the whole file raise :class:`FileRejected`. Values are kept as delivered text: judging them
is for later stages.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from jobs.config import ExtractSchema

csv.field_size_limit(16 * 1024 * 1024)


class FileRejected(Exception):
    """The whole file cannot be accepted: ``reason_code`` and a human reason."""

    def __init__(self, reason_code: str, reason: str):
        super().__init__(f"{reason_code}: {reason}")
        self.reason_code = reason_code
        self.reason = reason


@dataclass(slots=True)
class Record:
    row_number: int
    values: list | dict | None  # list aligned with the header, or a JSON object
    raw: str
    reason_code: str | None = None
    reason: str | None = None


@dataclass
class ParsedFile:
    header: list[str]
    records: Iterator[Record]
    declared_count: int | None = None  # a JSON document's own "count"
    notes: list[str] = field(default_factory=list)


def _encoding(schema: ExtractSchema) -> str:
    return schema.encoding.lower().replace("_", "-")


def _raw_text(text: str, encoding: str) -> str:
    """The row as delivered, with undecodable bytes shown as \\xNN escapes."""
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    return text.encode(codec, "surrogateescape").decode(codec, "backslashreplace")


def _has_undecodable(text: str) -> bool:
    try:
        text.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def read_delimited(path: Path, schema: ExtractSchema) -> ParsedFile:
    """CSV (RFC 4180 quoting, records may span lines) or unquoted delimited text."""
    data = path.read_bytes()
    if not data.strip():
        raise FileRejected("empty_file", "the file is empty (no header, no records)")
    enc = _encoding(schema)
    if enc == "utf-8-sig" and not data.startswith(b"\xef\xbb\xbf"):
        enc = "utf-8"  # a BOM is expected but its absence is harmless
    text = data.decode(enc, "surrogateescape")
    quoting = csv.QUOTE_NONE if schema.format == "text" else csv.QUOTE_MINIMAL
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            consumed.append(line)
            yield line

    reader = csv.reader(lines(), delimiter=schema.delimiter, quoting=quoting, strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as e:
        raise FileRejected("bad_header", f"the header row cannot be read: {e}") from e
    if _has_undecodable("".join(consumed)):
        raise FileRejected("encoding_error", f"the header is not valid {schema.encoding}")
    header = [h.strip().lstrip("\ufeff") for h in header]
    consumed.clear()
    return ParsedFile(header, _delimited_records(reader, consumed, len(header), enc))


def _delimited_records(reader, consumed: list[str], width: int, enc: str) -> Iterator[Record]:
    n = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as e:  # e.g. a quoted field left open by a truncated last line
            n += 1
            raw = "".join(consumed)
            consumed.clear()
            yield Record(
                n, None, _raw_text(raw, enc), "malformed_record", f"record cannot be parsed: {e}"
            )
            return  # the reader cannot resume after an unterminated quote at end of data
        raw = "".join(consumed)
        consumed.clear()
        if not values or values == [""] and not raw.strip():
            continue  # a blank line is no record
        n += 1
        if _has_undecodable(raw):
            yield Record(
                n,
                None,
                _raw_text(raw, enc),
                "encoding_error",
                f"bytes not valid in the declared encoding {enc}",
            )
        elif len(values) != width:
            what = "too few" if len(values) < width else "too many"
            yield Record(
                n,
                None,
                _raw_text(raw, enc).rstrip("\r\n"),
                "field_count_mismatch",
                f"{what} fields: expected {width}, found {len(values)}",
            )
        else:
            yield Record(n, values, raw)


def read_jsonl(path: Path, schema: ExtractSchema) -> ParsedFile:
    """JSON Lines: one object per line; a line that is not an object is quarantined."""
    data = path.read_bytes()
    if not data.strip():
        raise FileRejected("empty_file", "the file is empty (no records)")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return ParsedFile([], _jsonl_records(data))


def _jsonl_records(data: bytes) -> Iterator[Record]:
    n = 0
    for line in data.split(b"\n"):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        n += 1
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            yield Record(
                n,
                None,
                line.decode("utf-8", "backslashreplace"),
                "encoding_error",
                f"bytes not valid UTF-8 at offset {e.start}",
            )
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            yield Record(
                n, None, text, "malformed_record", f"not valid JSON: {e.msg} at column {e.colno}"
            )
            continue
        if not isinstance(obj, dict):
            yield Record(n, None, text, "malformed_record", "a JSON Lines record must be an object")
            continue
        yield Record(n, obj, text)


def read_json_document(path: Path, schema: ExtractSchema) -> ParsedFile:
    """One JSON document whose ``records_key`` holds the records (e.g. mzj_shzz)."""
    data = path.read_bytes()
    if not data.strip():
        raise FileRejected("empty_file", "the file is empty (no document)")
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise FileRejected("encoding_error", f"not valid UTF-8 at byte {e.start}") from e
    except json.JSONDecodeError as e:
        raise FileRejected(
            "malformed_document",
            f"not a valid JSON document: {e.msg} at line {e.lineno} column {e.colno}",
        ) from e
    if not isinstance(doc, dict) or not isinstance(doc.get(schema.records_key), list):
        raise FileRejected("malformed_document", f"no list under key {schema.records_key!r}")
    declared = doc.get(schema.count_key) if schema.count_key else None
    return ParsedFile(
        [],
        _document_records(doc[schema.records_key]),
        declared_count=declared if isinstance(declared, int) else None,
    )


def _document_records(items: list) -> Iterator[Record]:
    for n, obj in enumerate(items, 1):
        raw = json.dumps(obj, ensure_ascii=False)
        if isinstance(obj, dict):
            yield Record(n, obj, raw)
        else:
            yield Record(n, None, raw, "malformed_record", "a record must be a JSON object")


def _cell(v) -> str | None:
    if v is None or v == "":
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def read_xlsx(path: Path, schema: ExtractSchema) -> ParsedFile:
    """XLSX: the first sheet, header in the first row (read with calamine, streaming)."""
    from python_calamine import CalamineError, CalamineWorkbook

    if path.stat().st_size == 0:
        raise FileRejected("empty_file", "the file is empty")
    try:
        wb = CalamineWorkbook.from_path(str(path))
        sheet = wb.get_sheet_by_index(0)
        rows = sheet.iter_rows()
        header = next(rows, None)
    except (CalamineError, OSError, ValueError) as e:
        raise FileRejected("unreadable_file", f"not a readable XLSX workbook: {e}") from e
    if header is None:
        raise FileRejected("empty_file", "the first sheet is empty")
    header = [_cell(h) or "" for h in header]
    while header and header[-1] == "":
        header.pop()
    return ParsedFile([h.strip() for h in header], _xlsx_records(rows, len(header)))


def _xlsx_records(rows, width: int) -> Iterator[Record]:
    n = 0
    for row in rows:
        cells = [_cell(v) for v in row]
        while cells and cells[-1] is None:
            cells.pop()
        if not cells:
            continue  # an empty sheet row is no record
        n += 1
        raw = json.dumps(cells, ensure_ascii=False)
        if len(cells) > width:
            yield Record(
                n,
                None,
                raw,
                "field_count_mismatch",
                f"too many fields: expected {width}, found {len(cells)}",
            )
        else:
            yield Record(n, cells + [None] * (width - len(cells)), raw)


READERS: dict[str, Callable[[Path, ExtractSchema], ParsedFile]] = {
    "csv": read_delimited,
    "text": read_delimited,
    "jsonl": read_jsonl,
    "json": read_json_document,
    "xlsx": read_xlsx,
}


def read_file(path: Path, schema: ExtractSchema) -> ParsedFile:
    return READERS[schema.format](path, schema)
