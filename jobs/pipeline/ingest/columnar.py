"""Column-wise parsing of the well-formed lines of a delimited file (CSV or text), with Arrow.

A delimited file is read as lines (a line ends at LF, CRLF or CR, as the row-by-row reader
reads it). A line is *plain* when it is a whole, well-formed record that needs no judgement:
not blank, within the length bounds, free of control characters and undecodable bytes, with
exactly the header's number of delimiters, and (CSV only) without a quote character. A plain
line's fields are the text between its delimiters, which is what the RFC 4180 reader would
make of it too, so plain lines are split all at once with Arrow's string kernels. Every other
line goes to the row-by-row reader, which judges it (and takes the lines a quoted field spans).

The reader alternates: a run of plain (and blank) lines becomes one :class:`Block`; at the
first other line the row-by-row reader takes over until it has passed that run of other
lines at a record boundary. The records, their numbers and their reasons are the same as the
row-by-row reader gives for the whole file; only the speed differs.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from jobs.pipeline.ingest.records import Block

_CONTROL_RE2 = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"  # as readers._CONTROL, in RE2 syntax
_SURROGATE = re.compile("[\udc80-\udcff]")  # an undecodable byte, kept by surrogateescape

PLAIN, BLANK, OTHER = 0, 1, 2
RE2_MAX_REPEAT = 1000  # RE2 refuses a counted repetition above this (the quoted-record match)


@dataclass
class Units:
    """The records-to-be of a file after its header: each *unit* is one line, or for CSV the
    lines a quoted field spans (a line ending inside an open quote continues the unit), with
    its kind and, when plain, its fields."""

    starts: np.ndarray  # per unit, the index of its first line
    kinds: np.ndarray  # per unit: PLAIN, BLANK or OTHER
    columns: list[pa.Array]  # the plain units' fields, one string array per header column
    raw: pa.Array  # the plain units as delivered
    lines: int  # how many lines the units cover

    @classmethod
    def none(cls, count: int) -> Units:
        """``count`` lines all left to the row-by-row reader."""
        return cls(
            starts=np.arange(count),
            kinds=np.full(count, OTHER, np.int8),
            columns=[],
            raw=pa.array([], pa.string()),
            lines=count,
        )

    @functools.cached_property
    def _ordinal(self) -> np.ndarray:  # per unit: how many plain units come before it
        plain = self.kinds == PLAIN
        return np.concatenate([[0], np.cumsum(plain)]).astype(np.int64)

    @functools.cached_property
    def _others(self) -> np.ndarray:
        return np.flatnonzero(self.kinds == OTHER)

    @functools.cached_property
    def _not_others(self) -> np.ndarray:
        return np.flatnonzero(self.kinds != OTHER)

    def _line_of(self, unit: int) -> int:
        return int(self.starts[unit]) if unit < len(self.starts) else self.lines

    @staticmethod
    def _first(where: np.ndarray, at_least: int, default: int) -> int:
        k = int(np.searchsorted(where, at_least))
        return int(where[k]) if k < len(where) else default

    def fast_run(self, line: int, *, first_row: int) -> tuple[Block | None, int] | None:
        """When ``line`` starts a plain or blank unit: the plain units from there to the next
        OTHER one as a Block (its first record numbered ``first_row``; None if all blank), and
        the line after them. None when ``line`` is no such start."""
        u = int(np.searchsorted(self.starts, line))
        if u >= len(self.starts) or self.starts[u] != line or self.kinds[u] == OTHER:
            return None
        end = self._first(self._others, u, len(self.kinds))
        g0, g1 = int(self._ordinal[u]), int(self._ordinal[end])
        n = g1 - g0
        block = None
        if n:
            block = Block(
                row_numbers=pa.array(np.arange(first_row, first_row + n, dtype=np.int32)),
                columns=[c.slice(g0, n) for c in self.columns],
                raw=self.raw.slice(g0, n),
            )
        return block, self._line_of(end)

    def slow_until(self, line: int) -> int:
        """The first line after ``line`` that starts a plain or blank unit: the row-by-row
        reader reads on from ``line`` until it has passed it."""
        after = int(np.searchsorted(self.starts, line, side="right"))
        return self._line_of(self._first(self._not_others, after, len(self.kinds)))


def line_array(text: str) -> pa.Array:
    """The lines of ``text`` (each with its line ending, split as the row-by-row reader splits
    them: after LF, CRLF or a lone CR) as one Arrow string array over the UTF-8 bytes, built
    without a Python string per line. An undecodable byte (kept by surrogateescape) is shown as
    U+FFFD here; such a line is never plain."""
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    data = text.encode("utf-8")
    b = np.frombuffer(data, np.uint8)
    lf, cr = b == 10, b == 13
    cr[:-1] &= ~lf[1:]  # a CR followed by LF ends its line at the LF
    ends = np.flatnonzero(lf | cr) + 1
    if len(b) and (not len(ends) or ends[-1] != len(b)):
        ends = np.append(ends, len(b))  # the last line has no line ending
    return _strings(data, np.concatenate([[0], ends]))


def _strings(data: bytes | pa.Buffer, offsets: np.ndarray) -> pa.Array:
    """The strings between consecutive ``offsets`` of the UTF-8 ``data``, without a copy."""
    large = len(data) >= 2**31 - 1
    kind = pa.large_string() if large else pa.string()
    buffer = pa.py_buffer(offsets.astype(np.int64 if large else np.int32))
    return pa.Array.from_buffers(kind, len(offsets) - 1, [None, buffer, pa.py_buffer(data)])


def units(lines: pa.Array, *, quoted: bool) -> tuple[pa.Array, np.ndarray]:
    """The units of ``lines`` (a line_array slice) and the index of each unit's first line.
    CSV: a line that leaves a quote open (an odd count of quote characters so far) continues
    on the next line, as the RFC 4180 reader reads it; a unit that is not well-formed is
    left whole to that reader."""
    if not quoted or len(lines) == 0:
        return lines, np.arange(len(lines))
    odd = pc.count_substring(lines, '"').to_numpy(zero_copy_only=False) % 2
    closed = np.cumsum(odd) % 2 == 0  # after this line, no quote is open
    closed[-1] = True
    if closed.all():
        return lines, np.arange(len(lines))
    ends = np.flatnonzero(closed) + 1
    starts = np.concatenate([[0], ends[:-1]])
    unit_offsets = _offsets(lines)[np.concatenate([[0], ends])]
    return _strings(lines.buffers()[2], unit_offsets), starts


def _offsets(strings: pa.Array) -> np.ndarray:
    """The value offsets of a (large) string array or slice, into its data buffer."""
    kind = np.int64 if pa.types.is_large_string(strings.type) else np.int32
    every = np.frombuffer(strings.buffers()[1], kind)
    return every[strings.offset : strings.offset + len(strings) + 1]


def classify(lines: pa.Array, *, delimiter: str, width: int, quoted: bool, max_line: int) -> Units:
    """The units of ``lines`` (line_array after the header), classified; the plain ones
    split into ``width`` columns."""
    unit_array, starts = units(lines, quoted=quoted)
    kinds, columns, raw = _classify_units(
        unit_array, delimiter=delimiter, width=width, quoted=quoted, max_line=max_line
    )
    return Units(starts=starts, kinds=kinds, columns=columns, raw=raw, lines=len(lines))


def _classify_units(
    lines: pa.Array, *, delimiter: str, width: int, quoted: bool, max_line: int
) -> tuple[np.ndarray, list[pa.Array], pa.Array]:
    """Classify ``lines`` (units, each with its line ending) and split the plain ones into
    ``width`` columns, an empty field as null. ``quoted`` (CSV): a line with a quote character
    is plain only when every field on it is either unquoted text without a quote or a whole
    RFC 4180 quoted field; ``max_line``: the longest line certainly within every length bound."""
    content = pc.utf8_rtrim(lines, characters="\r\n")
    blank = pc.equal(content, "")
    sound = pc.and_(
        pc.invert(blank),
        pc.and_(
            pc.less_equal(pc.utf8_length(lines), max_line),
            pc.invert(pc.match_substring_regex(content, _CONTROL_RE2[:-1] + "\ufffd]")),
        ),
    )
    simple = pc.equal(pc.count_substring(content, delimiter), width - 1)
    if quoted:
        has_quote = pc.match_substring(content, '"')
        simple = pc.and_(simple, pc.invert(has_quote))
    simple = pc.and_(sound, simple).to_numpy(zero_copy_only=False)
    is_quoted = np.zeros(len(content), bool)
    if quoted and width <= RE2_MAX_REPEAT:  # wider records go to the row-by-row reader
        candidates = pc.and_(sound, has_quote)
        is_quoted = pc.and_(
            candidates, pc.match_substring_regex(content, _rfc4180(delimiter, width))
        )
        is_quoted = is_quoted.to_numpy(zero_copy_only=False)
    is_plain = simple | is_quoted
    kinds = np.where(is_plain, PLAIN, np.where(blank.to_numpy(zero_copy_only=False), BLANK, OTHER))
    columns = _split(content.filter(pa.array(simple)), delimiter=delimiter, width=width)
    if is_quoted.any():
        quoted_columns = _parse_quoted(lines.filter(pa.array(is_quoted)), delimiter, width)
        order = np.argsort(np.concatenate([np.flatnonzero(simple), np.flatnonzero(is_quoted)]))
        columns = [
            pa.concat_arrays([a.cast(pa.string()), b.cast(pa.string())]).take(pa.array(order))
            for a, b in zip(columns, quoted_columns, strict=True)
        ]
    columns = [pc.if_else(pc.equal(c, ""), pa.scalar(None, c.type), c) for c in columns]
    return kinds.astype(np.int8), columns, lines.filter(pa.array(is_plain))


def _rfc4180(delimiter: str, width: int) -> str:
    """A whole record of ``width`` fields, each unquoted text without a quote or a quoted
    field (any text, a quote doubled), in RE2 syntax."""
    d = re.escape(delimiter)
    field = f'(?:"(?:[^"]|"")*"|[^"{d}]*)'
    return f"^{field}(?:{d}{field}){{{width - 1}}}$"


def _parse_quoted(records: pa.Array, delimiter: str, width: int) -> list[pa.Array]:
    """Well-formed RFC 4180 records (each with its line ending), parsed by Arrow's CSV reader:
    they are contiguous in the array's data, so the reader reads that buffer as it is."""
    bounds = _offsets(records)
    data = records.buffers()[2][int(bounds[0]) : int(bounds[-1])]
    names = [f"c{j}" for j in range(width)]
    table = pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    if table.num_rows != len(records):
        raise AssertionError(f"{len(records)} records read as {table.num_rows}")
    return [table.column(j).combine_chunks() for j in range(width)]


def _split(rows: pa.Array, *, delimiter: str, width: int) -> list[pa.Array]:
    """Lines without quotes split at the delimiter into ``width`` columns."""
    if width == 1:
        return [rows]
    parts = pc.split_pattern(rows, delimiter)
    return [pc.list_element(parts, j) for j in range(width)]
