"""What a reader makes of a delivered file: records with their reasons, or a file rejection."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the DAGs parse this module's users without loading Arrow
    import pyarrow as pa


class FileRejected(Exception):
    """The whole file cannot be accepted: ``reason_code`` and a human reason."""

    def __init__(self, reason_code: str, reason: str):
        super().__init__(f"{reason_code}: {reason}")
        self.reason_code = reason_code
        self.reason = reason


@dataclass(slots=True)
class Record:
    """One delivered record: its row number, its values and what was wrong with it."""

    row_number: int
    values: list | dict | None  # list aligned with the header, or a JSON object
    raw: str  # as delivered, for quarantine.rows (an accepted XLSX row leaves it empty)
    reason_code: str | None = None
    reason: str | None = None


@dataclass
class Notes:
    """What a reader changed or noticed while accepting values (e.g. a date cell written in its
    field's format), counted per kind with the first rows as examples: one line per kind in
    ``audit.deliveries.notes``."""

    counts: Counter = field(default_factory=Counter)
    rows: dict[str, list[int]] = field(default_factory=dict)

    def add(self, kind: str, row_number: int) -> None:
        """Count one record of a kind of problem, keeping the first row numbers as examples."""
        self.counts[kind] += 1
        examples = self.rows.setdefault(kind, [])
        if len(examples) < 5:
            examples.append(row_number)

    def lines(self) -> list[str]:
        """One line per kind of problem with its count and example rows."""
        return [
            f"{kind}: {n} record(s), e.g. {', '.join(map(str, self.rows[kind]))}"
            for kind, n in sorted(self.counts.items())
        ]


@dataclass(slots=True)
class Block:
    """Consecutive accepted records parsed column-wise (jobs/pipeline/ingest/columnar.py):
    their record numbers, one text array per delivered column (header order, an empty field
    null) and the rows as delivered."""

    row_numbers: pa.Array  # int32
    columns: list[pa.Array]
    raw: pa.Array

    def __len__(self) -> int:
        return len(self.row_numbers)

    def records(self) -> Iterator[Record]:
        """The block's records one by one."""
        values = [["" if v is None else v for v in c.to_pylist()] for c in self.columns]
        raws = self.raw.to_pylist()
        for i, n in enumerate(self.row_numbers.to_pylist()):
            yield Record(n, [v[i] for v in values], raws[i])


@dataclass
class ParsedFile:
    """What a reader made of a file: its header and its records, lazily. ``items`` gives the
    records one by one or, where a reader parsed a run of them column-wise, as a Block."""

    header: list[str]
    items: Iterator[Record | Block]
    declared_count: int | None = None  # a JSON document's own "count"
    notes: Notes = field(default_factory=Notes)  # complete once ``items`` is consumed

    @property
    def records(self) -> Iterator[Record]:
        """Every record one by one (blocks taken apart)."""
        for item in self.items:
            if isinstance(item, Block):
                yield from item.records()
            else:
                yield item
