"""Readers for every delivered format (spec/extracts.md): CSV (RFC 4180), pipe-separated text,
JSON Lines, one JSON document, XLSX.

A reader turns one data file's bytes into a :class:`ParsedFile`: the delivered header (or key
set) and a stream of :class:`Record` — each with its 1-based record number, its values by
delivered header, the row as delivered (``raw``) and, when the row cannot be accepted, a reason.
Problems with the whole file raise :class:`FileRejected`. Values are kept as delivered text:
judging them is for later stages.

Every reader is bounded (conf/ingest.yaml, docs/security.md): record length, field length,
columns, JSON nesting, and an XLSX's inflated size, each with its own reason code. Values are
never silently altered or nulled: a NUL or other control character, a repeated JSON key, an
XLSX formula never calculated, an error cell (``#N/A``) or a number Excel could not hold
exactly quarantines its record with a reason; a formula's cached value, a date cell and a merged
cell are accepted with a note in ``audit.deliveries``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Iterator

from jobs.pipeline.ingest.columnar import Units, classify, line_array
from jobs.pipeline.ingest.records import Block, FileRejected, Notes, ParsedFile, Record
from jobs.pipeline.ingest.xlsx import SheetFacts, cell_name, inspect_xlsx
from jobs.platform.config import ExtractSchema, IngestLimits, ingest_limits

__all__ = ["FileRejected", "ParsedFile", "Record", "read_file"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, LF and CR are text
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")
_RAW_KEPT = 4096  # characters of an over-long record kept in quarantine.rows.raw
_EXACT_FLOAT = 1e15  # Excel keeps 15 significant digits


def _encoding(schema: ExtractSchema) -> str:
    return schema.encoding.lower().replace("_", "-")


def escape_controls(text: str) -> str:
    """Control characters shown as ``\\xNN`` (for quarantine.rows.raw and messages)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _raw_text(text: str, encoding: str) -> str:
    """The row as delivered, with undecodable bytes and control characters as \\xNN escapes."""
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    shown = text.encode(codec, "surrogateescape").decode(codec, "backslashreplace")
    return escape_controls(shown)


def _has_undecodable(text: str) -> bool:
    try:
        text.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _too_long(n: int, raw: str, limits: IngestLimits) -> Record:
    return Record(
        n,
        None,
        escape_controls(raw[:_RAW_KEPT]) + f"…[{len(raw):,} characters in all]",
        "record_too_long",
        f"the record has {len(raw):,} characters, over the bound of {limits.max_record_chars:,}",
    )


def value_problem(values, names, *, limits: IngestLimits) -> tuple[str, str] | None:
    """A reason to quarantine a record for one of its text values: control characters (a NUL
    among them) or a field over the length bound. ``names`` label the values."""
    texts = [v for v in values if isinstance(v, str)]
    joined = "\n".join(texts)  # one search for the whole record: LF is allowed text
    if not _CONTROL.search(joined) and len(joined) <= limits.max_field_chars:
        return None
    for name, v in zip(names, values, strict=False):
        if not isinstance(v, str):
            continue
        if len(v) > limits.max_field_chars:
            return (
                "field_too_long",
                f"field {name} has {len(v):,} characters, over the bound of "
                f"{limits.max_field_chars:,}",
            )
        m = _CONTROL.search(v)
        if m:
            return (
                "control_character",
                f"field {name} holds the control character U+{ord(m.group()):04X} at position "
                f"{m.start() + 1}",
            )
    return None


# ------------------------------------------------------------------------------ CSV and text
def read_delimited(
    data: bytes, schema: ExtractSchema, *, limits: IngestLimits, columnar: bool = True
) -> ParsedFile:
    """CSV (RFC 4180 quoting, records may span lines) or unquoted delimited text. A record
    ends at LF, CRLF or CR alike (mixed line endings). Plain lines are parsed column-wise
    (columnar.py) unless ``columnar`` is false; the records are the same either way."""
    if not data.strip():
        raise FileRejected("empty_file", "the file is empty (no header, no records)")
    enc = _encoding(schema)
    if enc == "utf-8-sig" and not data.startswith(b"\xef\xbb\xbf"):
        enc = "utf-8"  # a BOM is expected but its absence is harmless
    text = data.decode(enc, "surrogateescape")
    quoting = csv.QUOTE_NONE if schema.format == "text" else csv.QUOTE_MINIMAL
    cursor = _Lines(io.StringIO(text, newline="").readlines())
    csv.field_size_limit(limits.max_record_chars + 1)
    reader = csv.reader(cursor, delimiter=schema.delimiter, quoting=quoting, strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as e:
        raise FileRejected("bad_header", f"the header row cannot be read: {e}") from e
    if _has_undecodable("".join(cursor.consumed)):
        raise FileRejected("encoding_error", f"the header is not valid {schema.encoding}")
    header = [h.strip().lstrip("\ufeff") for h in header]
    _check_header(header, limits)
    cursor.consumed.clear()
    rest = len(cursor.lines) - cursor.pos
    lines = line_array(text) if columnar else None
    plain = (
        Units.none(rest)
        if lines is None or len(lines) != len(cursor.lines)
        else classify(
            lines.slice(cursor.pos),
            delimiter=schema.delimiter,
            width=len(header),
            quoted=quoting != csv.QUOTE_NONE,
            max_line=min(limits.max_record_chars, limits.max_field_chars),
        )
    )
    return ParsedFile(header, _delimited_items(reader, cursor, plain, header, enc, limits))


class _Lines:
    """A file's lines as an iterator the csv reader pulls from, with a position that can be
    moved past lines parsed column-wise, and the lines pulled for the current record."""

    def __init__(self, lines: list[str]):
        self.lines, self.pos, self.consumed = lines, 0, []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.pos >= len(self.lines):
            raise StopIteration
        line = self.lines[self.pos]
        self.pos += 1
        self.consumed.append(line)
        return line


def _check_header(header: list[str], limits: IngestLimits) -> None:
    if len(header) > limits.max_columns:
        raise FileRejected(
            "too_many_columns",
            f"the header has {len(header):,} columns, over the bound of {limits.max_columns:,}",
        )
    problem = value_problem(header, [f"#{i + 1}" for i in range(len(header))], limits=limits)
    if problem:
        raise FileRejected("bad_header", f"header column {problem[1].removeprefix('field ')}")


_BLANK, _END = object(), object()


def _delimited_items(
    reader, cursor: _Lines, plain: Units, header: list[str], enc: str, limits: IngestLimits
) -> Iterator[Record | Block]:
    """Runs of plain units as Blocks; every other record read and judged one by one, until the
    reader has passed the run of other units at a record boundary (columnar.py)."""
    start, n = cursor.pos, 0
    while (i := cursor.pos - start) < plain.lines:
        fast = plain.fast_run(i, first_row=n + 1)
        if fast is not None:
            block, after = fast
            if block is not None:
                n += len(block)
                yield block
            cursor.pos = start + after
            continue
        stop = start + plain.slow_until(i)
        while cursor.pos < stop:
            rec = _next_record(reader, cursor.consumed, n + 1, header, enc, limits)
            if rec is _END:
                return
            if rec is not _BLANK:
                n += 1
                yield rec


def _next_record(reader, consumed: list[str], n: int, header, enc: str, limits):
    """The next record (numbered ``n``) from the csv reader, or _BLANK for a blank line, or
    _END at the end of the file."""
    try:
        values = next(reader)
    except StopIteration:
        return _END
    except csv.Error as e:  # a quoted field left open by a truncated last line, a huge field
        raw = "".join(consumed)
        consumed.clear()
        if len(raw) > limits.max_record_chars:
            return _too_long(n, raw, limits)
        return Record(
            n, None, _raw_text(raw, enc), "malformed_record", f"record cannot be parsed: {e}"
        )
    raw = "".join(consumed)
    consumed.clear()
    if not values or values == [""] and not raw.strip():
        return _BLANK  # a blank line is no record
    return _delimited_record(n, values, raw, header, len(header), enc, limits)


def _delimited_record(
    n: int, values: list[str], raw: str, header: list[str], width: int, enc: str, limits
) -> Record:
    if len(raw) > limits.max_record_chars:
        return _too_long(n, raw, limits)
    if _has_undecodable(raw):
        return Record(
            n, None, _raw_text(raw, enc), "encoding_error",
            f"bytes not valid in the declared encoding {enc}",
        )  # fmt: skip
    if len(values) != width:
        what = "too few" if len(values) < width else "too many"
        return Record(
            n,
            None,
            _raw_text(raw, enc).rstrip("\r\n"),
            "field_count_mismatch",
            f"{what} fields: expected {width}, found {len(values)}",
        )
    if _CONTROL.search(raw) or len(raw) > limits.max_field_chars:
        problem = value_problem(values, header, limits=limits)
        if problem:
            return Record(n, None, _raw_text(raw, enc).rstrip("\r\n"), *problem)
    return Record(n, values, raw)


# ------------------------------------------------------------------------------ JSON
class _RepeatedKeys(dict):
    """A JSON object in which a key was given more than once (json keeps only the last)."""

    repeated: list[str]


def _object(pairs: list[tuple[str, object]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        keys = [k for k, _ in pairs]
        obj = _RepeatedKeys(obj)
        obj.repeated = sorted({k for k in keys if keys.count(k) > 1})
    return obj


def _too_deep(text: str, limit: int) -> bool:
    """Whether arrays and objects nest deeper than ``limit`` (strings are skipped)."""
    if text.count("{") + text.count("[") <= limit:
        return False
    depth = 0
    for m in _BRACKET.finditer(_JSON_STRING.sub("", text)):
        if m.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _json_record(n: int, obj, raw: str, limits: IngestLimits, *, checked: bool = False) -> Record:
    """A decoded JSON record, or the reason it is quarantined. ``checked``: the raw text has
    no escaped control character (JSON cannot hold a raw one), so only lengths need a look."""
    if not isinstance(obj, dict):
        return Record(n, None, raw, "malformed_record", "a record must be a JSON object")
    if isinstance(obj, _RepeatedKeys):
        return Record(
            n, None, raw, "duplicate_key",
            f"key(s) given more than once (only one value could be kept): {obj.repeated}",
        )  # fmt: skip
    if len(obj) > limits.max_columns:
        return Record(
            n, None, raw, "too_many_columns",
            f"the record has {len(obj):,} keys, over the bound of {limits.max_columns:,}",
        )  # fmt: skip
    if not checked or len(raw) > limits.max_field_chars:
        problem = value_problem(
            [*obj.values(), *obj], [*obj, *(f"key {k!r}" for k in obj)], limits=limits
        )
        if problem:
            return Record(n, None, escape_controls(raw), *problem)
    return Record(n, obj, raw)


def read_jsonl(data: bytes, schema: ExtractSchema, *, limits: IngestLimits) -> ParsedFile:
    """JSON Lines: one object per line (LF, CRLF or CR); a line that is not an object is
    quarantined."""
    if not data.strip():
        raise FileRejected("empty_file", "the file is empty (no records)")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return ParsedFile([], _jsonl_records(data, limits))


_ESCAPED_CONTROL = re.compile(r"\\(?:u00[01][0-9a-fA-F]|u007[fF]|[bf])")


def _jsonl_records(data: bytes, limits: IngestLimits) -> Iterator[Record]:
    n = 0
    for line in data.splitlines():  # bytes split at \n, \r\n and \r only
        if not line.strip():
            continue
        n += 1
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            shown = escape_controls(line.decode("utf-8", "backslashreplace"))
            yield Record(
                n, None, shown, "encoding_error", f"bytes not valid UTF-8 at offset {e.start}"
            )
            continue
        yield _jsonl_record(n, text, limits)


def _jsonl_record(n: int, text: str, limits: IngestLimits) -> Record:
    if len(text) > limits.max_record_chars:
        return _too_long(n, text, limits)
    if _too_deep(text, limits.max_json_depth):
        why = f"arrays and objects nest deeper than {limits.max_json_depth}"
        return Record(n, None, text, "nesting_too_deep", why)
    try:
        obj = json.loads(text)
        # a key given twice: json keeps the last in silence, so where the text has more
        # "key": pairs than the object has keys (or nested objects), look again, counting
        if isinstance(obj, dict) and text.count('":') > len(obj):
            obj = json.loads(text, object_pairs_hook=_object)
    except (json.JSONDecodeError, RecursionError) as e:
        why = f"{e.msg} at column {e.colno}" if isinstance(e, json.JSONDecodeError) else e
        return Record(n, None, escape_controls(text), "malformed_record", f"not valid JSON: {why}")
    return _json_record(n, obj, text, limits, checked=not _ESCAPED_CONTROL.search(text))


def read_json_document(data: bytes, schema: ExtractSchema, *, limits: IngestLimits) -> ParsedFile:
    """One JSON document whose ``records_key`` holds the records (e.g. mzj_shzz)."""
    if not data.strip():
        raise FileRejected("empty_file", "the file is empty (no document)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FileRejected("encoding_error", f"not valid UTF-8 at byte {e.start}") from e
    if _too_deep(text, limits.max_json_depth + 2):  # the document and its list of records
        raise FileRejected(
            "nesting_too_deep",
            f"arrays and objects nest deeper than {limits.max_json_depth} within a record",
        )
    try:
        doc = json.loads(text, object_pairs_hook=_object)
    except json.JSONDecodeError as e:
        raise FileRejected(
            "malformed_document",
            f"not a valid JSON document: {e.msg} at line {e.lineno} column {e.colno}",
        ) from e
    if isinstance(doc, _RepeatedKeys):
        raise FileRejected("malformed_document", f"key(s) given more than once: {doc.repeated}")
    if not isinstance(doc, dict) or not isinstance(doc.get(schema.records_key), list):
        raise FileRejected("malformed_document", f"no list under key {schema.records_key!r}")
    parsed = ParsedFile([], _document_records(doc[schema.records_key], limits))
    declared = doc.get(schema.count_key) if schema.count_key else None
    if type(declared) is int:  # never a boolean
        parsed.declared_count = declared
    elif declared is not None:
        parsed.notes.add(f"{schema.count_key} is not an integer, not used", 0)
    return parsed


def _document_records(items: list, limits: IngestLimits) -> Iterator[Record]:
    for n, obj in enumerate(items, 1):
        yield _json_record(n, obj, json.dumps(obj, ensure_ascii=False), limits)


# ------------------------------------------------------------------------------ XLSX
def read_xlsx(data: bytes, schema: ExtractSchema, *, limits: IngestLimits) -> ParsedFile:
    """XLSX: the first sheet, header in the first row (read with calamine, after
    :func:`jobs.pipeline.ingest.xlsx.inspect_xlsx` has checked the package and found its formulas)."""
    from python_calamine import CalamineError, CalamineWorkbook

    if not data:
        raise FileRejected("empty_file", "the file is empty")
    facts = inspect_xlsx(data, limits)
    try:
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
        origin = sheet.start or (0, 0)
        merged = sheet.merged_cell_ranges or []
        rows = sheet.iter_rows()
        first = next(rows, None)
    except (CalamineError, OSError, ValueError) as e:
        raise FileRejected("unreadable_file", f"not a readable XLSX workbook: {e}") from e
    if first is None:
        raise FileRejected("empty_file", "the first sheet is empty")
    sheet_cells = _SheetCells(facts, origin, merged, schema)
    header = sheet_cells.header(first)
    _check_header(header, limits)
    parsed = ParsedFile(header, iter(()))
    parsed.items = _xlsx_records(rows, header, sheet_cells, parsed.notes, limits)
    return parsed


class _SheetCells:
    """Turns calamine's cells into delivered text: formula and error cells from the sheet's
    XML, merged cells filled from their first cell, dates in their field's format."""

    def __init__(self, facts: SheetFacts, origin, merged, schema: ExtractSchema):
        self.facts, self.r0, self.c0 = facts, origin[0], origin[1]
        self.fill: dict[tuple[int, int], tuple[int, int]] = {}
        for (top, left), (bottom, right) in merged:
            for r in range(top, bottom + 1):
                for c in range(left, right + 1):
                    if (r, c) != (top, left):
                        self.fill[(r, c)] = (top, left)
        self.top_values = {pos: None for pos in self.fill.values()}
        self.special = bool(facts.formulas or facts.errors or self.fill)
        self.parsers = {h: c.parser for c in schema.columns for h in (c.header, *c.aliases)}
        self.formats: list[str] = []

    def header(self, cells: list) -> list[str]:
        for c in range(len(cells)):
            pos = (self.r0, self.c0 + c)
            if pos in self.facts.errors or pos in self.facts.formulas:
                raise FileRejected("bad_header", f"header cell {cell_name(*pos)} is a formula")
        header = [_number_text(v) if isinstance(v, float) else str(v or "") for v in cells]
        header = [h.strip() for h in header]
        while header and header[-1] == "":
            header.pop()
        self.formats = [self.parsers.get(h, "text") for h in header]
        return header

    def row(self, i: int, cells: list, notes: Notes, n: int):
        """The row's values as text, the cells as delivered (for ``raw``), and the reason the
        record is quarantined (None when it is not)."""
        kinds: list = []
        r = self.r0 + i
        values, shown, problem = [], [], None
        if not self.special:  # no formula, error or merged cell in the sheet: the fast path
            for j, v in enumerate(cells):
                if v.__class__ is str:
                    values.append(v or None)
                    continue
                text, why = self.cell((r, self.c0 + j), v, j, kinds)
                values.append(text)
                problem = problem or why
            return values, values, problem or self._noted(kinds, notes, n)
        for j, v in enumerate(cells):
            pos = (r, self.c0 + j)
            if pos in self.top_values:
                self.top_values[pos] = v
            if pos in self.fill and (v is None or v == ""):
                v = self.top_values.get(self.fill[pos])
                if v not in (None, ""):
                    kinds.append("merged cell filled with the value of its first cell")
            text, why = self.cell(pos, v, j, kinds)
            values.append(text)
            shown.append(self._as_delivered(pos, text))
            problem = problem or why
        return values, shown, problem or self._noted(kinds, notes, n)

    @staticmethod
    def _noted(kinds: list, notes: Notes, n: int) -> None:
        for kind in dict.fromkeys(k for k in kinds if isinstance(k, str)):
            notes.add(kind, n)

    def _as_delivered(self, pos, text):
        if pos in self.facts.errors:
            return self.facts.errors[pos]
        if pos in self.facts.formulas:
            return self.facts.formulas[pos][0]
        return text

    def cell(self, pos, v, j: int, kinds: list) -> tuple[str | None, tuple | None]:
        """One cell as text, or the reason its record is quarantined (also added to
        ``kinds``, with the notes of what was done to accept it)."""
        if pos in self.facts.errors:
            why = ("error_cell", f"cell {cell_name(*pos)} holds the error {self.facts.errors[pos]}")
            return None, _also(kinds, why)
        if pos in self.facts.formulas:
            formula, cached = self.facts.formulas[pos]
            if cached is None:
                shown = escape_controls(formula[:200])
                why = (
                    "formula_cell",
                    f"cell {cell_name(*pos)} holds a formula never calculated: {shown}",
                )
                return None, _also(kinds, why)
            kinds.append("formula cell taken at its calculated value")
        if isinstance(v, str):
            return (v or None), None
        if isinstance(v, float):
            if v.is_integer() and abs(v) >= _EXACT_FLOAT:
                why = (
                    "number_precision_lost",
                    f"cell {cell_name(*pos)} holds {v:.15g}, a number of 16 or more digits: Excel "
                    "keeps 15, so the value was altered before delivery (identifiers belong in "
                    "text cells)",
                )
                return None, _also(kinds, why)
            return _number_text(v), None
        if isinstance(v, bool):
            return ("TRUE" if v else "FALSE"), None
        if isinstance(v, dt.date | dt.time | dt.timedelta):
            kinds.append("date cell written in its field's format")
            return _date_text(v, self.formats[j] if j < len(self.formats) else "text"), None
        return (None if v is None else str(v)), None


def _also(kinds: list, why: tuple[str, str]) -> tuple[str, str]:
    kinds.append(why)
    return why


def _number_text(v: float) -> str:
    return str(int(v)) if v.is_integer() else repr(v)


def _date_text(v, parser: str) -> str:
    """A date cell as its field's first format says (``date:%Y%m%d`` → 20261102)."""
    kind, _, formats = parser.partition(":")
    fmt = formats.split("|")[0] if kind in ("date", "timestamp") and formats else None
    if fmt and isinstance(v, dt.date):
        return v.strftime(fmt)
    return v.isoformat() if isinstance(v, dt.date | dt.time) else str(v)


def _xlsx_records(
    rows, header: list[str], cells: _SheetCells, notes: Notes, limits: IngestLimits
) -> Iterator[Record]:
    n, width = 0, len(header)
    for i, row in enumerate(rows, 1):
        if all(v is None or v == "" for v in row):
            continue  # an empty sheet row is no record
        n += 1
        values, shown, problem = cells.row(i, row, notes, n)
        while values and values[-1] is None:
            values.pop()
        if problem is None and len(values) > width:
            problem = (
                "field_count_mismatch",
                f"too many fields: expected {width}, found {len(values)}",
            )
        if problem is None:
            problem = value_problem(values, header, limits=limits)
        if problem is None:  # accepted: its cells as JSON are for quarantine only (not kept)
            yield Record(n, values + [None] * (width - len(values)), "")
            continue
        while shown and shown[-1] is None:
            shown.pop()
        yield Record(n, None, escape_controls(json.dumps(shown, ensure_ascii=False)), *problem)


READERS: dict[str, Callable[..., ParsedFile]] = {  # (data, schema, *, limits)
    "csv": read_delimited,
    "text": read_delimited,
    "jsonl": read_jsonl,
    "json": read_json_document,
    "xlsx": read_xlsx,
}


def read_file(
    data: bytes, schema: ExtractSchema, *, limits: IngestLimits | None = None
) -> ParsedFile:
    """Parse one delivered file's bytes as its schema's format says, within ``limits``
    (conf/ingest.yaml by default)."""
    return READERS[schema.format](data, schema, limits=limits or ingest_limits())
