"""The column-wise path for delimited files gives exactly the records of the row-by-row reader:
numbers, values, raw rows and reasons, on files built from the awkward pieces at random."""

from __future__ import annotations

import random

import pytest

from jobs.pipeline.ingest.readers import read_delimited
from jobs.pipeline.ingest.records import Block
from jobs.platform.config import IngestLimits, extract_schema

LIMITS = IngestLimits(max_record_chars=120, max_field_chars=40)
PIECES = [
    "a", "b", "张三", "130902199001011230", "", " ", "x" * 45, '"', '""', '"q,uoted"',
    "\x00", "\x07", "\r", "\n", "\r\n", "|", ",", "\udc80",
]  # fmt: skip


def _field(rng: random.Random) -> str:
    text = "".join(rng.choice(PIECES[:8]) for _ in range(rng.randint(0, 2)))
    if rng.random() < 0.2:  # quoted as RFC 4180 says, maybe over several lines
        inner = text + rng.choice(["", ",", "|", '"', "\r\n", "a"])
        return '"' + inner.replace('"', '""') + '"'
    return text


def _file(rng: random.Random, delimiter: str, width: int) -> str:
    lines = [delimiter.join(f"h{i}" for i in range(width)) + "\r\n"]
    for _ in range(rng.randint(0, 60)):
        roll = rng.random()
        if roll < 0.7:  # a plain record
            lines.append(
                delimiter.join(_field(rng) for _ in range(width)) + rng.choice(["\n", "\r\n", "\r"])
            )
        elif roll < 0.8:  # a blank line
            lines.append(rng.choice(["\n", "\r\n", "\r"]))
        else:  # anything at all
            lines.append("".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12))))
    if rng.random() < 0.5:
        lines[-1] = lines[-1].rstrip("\r\n")  # no line end after the last record
    return "".join(lines)


def _parse(data: bytes, source: str, *, columnar: bool):
    parsed = read_delimited(data, extract_schema(source), limits=LIMITS, columnar=columnar)
    items = list(parsed.items)
    records = [r for item in items for r in (item.records() if isinstance(item, Block) else [item])]
    rows = [(r.row_number, r.values, r.raw, r.reason_code, r.reason) for r in records]
    fast = [r.raw for i in items if isinstance(i, Block) for r in i.records()]
    quoted = sum('"' in raw for raw in fast)
    spanning = sum("\n" in raw.rstrip("\r\n") for raw in fast)
    return rows, (sum(isinstance(item, Block) for item in items), quoted, spanning)


@pytest.mark.parametrize("source", ["scjgj_qydj", "swj_swdj", "gaj_hjrk"])
def test_columnar_and_row_by_row_agree(source):
    schema = extract_schema(source)
    width = 3  # the reader takes the header's width; matching it to the schema comes later
    blocks = quoted = spanning = 0
    for seed in range(150):
        rng = random.Random(seed)
        text = _file(rng, schema.delimiter, width)
        data = text.encode(schema.encoding.replace("-sig", ""), "surrogateescape")
        fast, n_blocks = _parse(data, source, columnar=True)
        slow, _ = _parse(data, source, columnar=False)
        assert fast == slow, (seed, text)
        blocks += n_blocks[0]
        quoted += n_blocks[1]
        spanning += n_blocks[2]
    assert blocks > 100  # the column-wise path was taken, not only the fallback
    if schema.format == "csv":
        assert quoted > 20 and spanning > 5  # quoted fields too, over several lines


def test_a_quoted_field_spanning_plain_lines_is_one_record():
    """Lines that look plain inside a quoted field belong to that field."""
    data = b'h0,h1\r\n1,"open\r\nlooks,plain\r\nclosed"\r\n2,3\r\n'
    fast, _ = _parse(data, "scjgj_qydj", columnar=True)
    slow, _ = _parse(data, "scjgj_qydj", columnar=False)
    assert fast == slow and [r[0] for r in fast] == [1, 2]


def test_a_record_wider_than_re2_can_count_goes_row_by_row():
    """conf/ingest.yaml may allow more columns than RE2 can repeat: such a file is still read."""
    from jobs.pipeline.ingest.columnar import RE2_MAX_REPEAT

    width = RE2_MAX_REPEAT + 5
    header = ",".join(f"h{i}" for i in range(width))
    row = ",".join(['"a,b"'] * width)
    data = f"{header}\r\n{row}\r\n".encode()
    wide = IngestLimits(max_columns=width, max_record_chars=10**6, max_field_chars=10**6)
    parsed = read_delimited(data, extract_schema("scjgj_qydj"), limits=wide)
    (record,) = list(parsed.records)
    assert record.reason_code is None and record.values == ["a,b"] * width
