"""What a role must never read in clear, collected from what departments delivered.

The values of every delivered field above a clearance (bronze, read directly with delta-rs),
less the values that some field within the clearance also carries (a legal representative's
name is public in 市场监管's register even though the same person's name in 户籍 is not). Short
ASCII codes (sex, ethnicity, 01…) are left out: they collide with ordinary code values.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from jobs.platform.config import extract_schemas
from jobs.platform.delta import read_table
from jobs.platform.policy import LEVELS


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def strings_in(table: pa.Table) -> set[str]:
    """Every string value in ``table``, nested fields included."""
    out: set[str] = set()
    for column in table.columns:
        for value in column.to_pylist():
            out.update(_strings(value))
    return out


def _distinctive(value: str) -> bool:
    if not value.isascii():
        return len(value) >= 2
    return len(value) >= 6 or (len(value) >= 3 and any(c.isalpha() for c in value))


def secrets_above(lake_root: Path, clearance: str) -> dict[str, set[str]]:
    """{field: values} of the delivered fields above ``clearance`` that no lower field shows."""
    above: dict[str, set[str]] = {}
    allowed: set[str] = set()
    rank = LEVELS.index(clearance)
    for source, schema in extract_schemas().items():
        path = Path(lake_root) / "bronze" / source
        if not path.exists():
            continue
        data = read_table(path)
        for col in schema.columns:
            values = {v for v in data[col.column].to_pylist() if v}
            values |= {v.strip().upper() for v in values} | {v.strip() for v in values}
            if LEVELS.index(col.sensitivity) > rank:
                above.setdefault(f"{source}.{col.column}", set()).update(values)
            else:
                allowed |= values
    return {f: {v for v in vs - allowed if _distinctive(v)} for f, vs in above.items()}


def leaked(found: set[str], secrets: dict[str, set[str]]) -> dict[str, list[str]]:
    """The secrets present in ``found``, by field (a few examples each)."""
    out = {}
    for field, values in secrets.items():
        hit = sorted(found & values)
        if hit:
            out[field] = hit[:5]
    return out
