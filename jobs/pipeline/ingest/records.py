"""What a reader makes of a delivered file: records with their reasons, or a file rejection."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field


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
    raw: str
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


@dataclass
class ParsedFile:
    """What a reader made of a file: its header and its records, lazily."""

    header: list[str]
    records: Iterator[Record]
    declared_count: int | None = None  # a JSON document's own "count"
    notes: Notes = field(default_factory=Notes)  # complete once ``records`` is consumed
