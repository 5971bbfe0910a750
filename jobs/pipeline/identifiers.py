"""Identifier checks, vectorised over Arrow, that the engine evaluates as pandas UDFs.

* 公民身份号码 GB 11643: 17 digits, the MOD 11-2 check character, a real birth date from 1890;
* 统一社会信用代码 GB 32100: the alphabet, the MOD 31 check character, and the embedded GB 11714
  organisation code's check character;
* 电子证照标识 GB/T 36904: ``1.2.156.3005.2.<type>.<issuer 18>.<serial>.<version 3>.<check>``,
  ISO 7064 MOD 37,36;
* GB/T 2260 division codes (python-stdnum's copy).

The shape is checked by Arrow's regex kernel (RE2: ``$`` is the end of the value, a trailing line
end included, as in Sail), the check characters by numpy arithmetic over the values' bytes: no
Python string is built per value. tests/unit/test_identifier_checks.py checks them against
python-stdnum and a per-value reference on valid and hostile values.

Why UDFs: written as Spark expressions, a credit code check is some 80 substrings and an ID
number check some 40, each referencing its input. Sail took 100 to 450 ms to plan a query with
one (GX plans each suite's condition twice, and the base libraries and profiles use them), about
a quarter of a date's time on a small city; a UDF's plan is a few nodes. On a Spark cluster,
executors run them as they run any pandas UDF (docs/deploy.md).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf

from jobs.pipeline.check_digits import (
    ID,
    ORG,
    USCC,
    check_bytes,
    division_codes,
    mod_37_36_check_bytes,
)

SHAPE = (  # GB/T 36904; extract_regex (Arrow) requires the groups named
    r"^1\.2\.156\.3005\.2\.(?P<t>[0-9A-Z]+)\.(?P<i>[0-9A-Z]{18})\.(?P<s>[0-9A-Z]+)"
    r"\.(?P<v>[0-9]{3})\.(?P<c>[0-9A-Z])$"
)
ID_SHAPE = r"^[0-9]{17}[0-9X]$"  # the patterns of standardise.id_is_valid and uscc_is_valid
USCC_SHAPE = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _strings(values: pd.Series):
    """The values as an Arrow string array (None when there is nothing to check)."""
    arr = pa.Array.from_pandas(values)
    if pa.types.is_null(arr.type) or len(arr) == 0:
        return None
    if not pa.types.is_string(arr.type):  # large_string, or non-string input
        arr = pc.cast(arr, pa.string())
    return arr


def _shaped(values: pd.Series, pattern: str):
    """``(ok, where, matches)``: an all-false result, the positions of the values that match
    ``pattern`` (RE2: ``$`` is the end of the value, as in Sail, a trailing line end included),
    and those values."""
    ok = np.zeros(len(values), dtype=bool)
    arr = _strings(values)
    if arr is None:
        return ok, np.zeros(0, dtype=np.int64), None
    hit = pc.fill_null(pc.match_substring_regex(arr, pattern), False)
    where = np.flatnonzero(hit.to_numpy(zero_copy_only=False))
    return ok, where, arr.take(pa.array(where))


def id_number_ok(values: pd.Series) -> pd.Series:
    """GB 11643 ID numbers: 17 digits and the check character (ISO 7064 MOD 11-2), and a birth
    date that is a real date on or after 1890-01-01."""
    ok, where, ids = _shaped(values, ID_SHAPE)
    if len(where):
        m = _ascii_matrix(ids, 18)
        d = m[:, :17].astype(np.int64) - ord("0")
        year = d[:, 6:10] @ np.array([1000, 100, 10, 1])
        month, day = d[:, 10:12] @ np.array([10, 1]), d[:, 12:14] @ np.array([10, 1])
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        days = DAYS_IN_MONTH[np.clip(month, 0, 12)] + (leap & (month == 2))
        real = (month >= 1) & (month <= 12) & (day >= 1) & (day <= days)
        ok[where] = (check_bytes(ID, m[:, :17]) == m[:, 17]) & real & (year >= 1890)
    return pd.Series(ok, index=values.index)


def uscc_ok(values: pd.Series) -> pd.Series:
    """GB 32100 unified social credit codes: the alphabet, the MOD 31 check character and the
    embedded GB 11714 organisation code's check character."""
    ok, where, codes = _shaped(values, USCC_SHAPE)
    if len(where):
        m = _ascii_matrix(codes, 18)
        ok[where] = (check_bytes(USCC, m[:, :17]) == m[:, 17]) & (
            check_bytes(ORG, m[:, 8:16]) == m[:, 16]
        )
    return pd.Series(ok, index=values.index)


def division_code_ok(values: pd.Series) -> pd.Series:
    """A six-digit code of the GB/T 2260 table (python-stdnum's copy); false for null."""
    arr = _strings(values)
    if arr is None:
        return pd.Series(np.zeros(len(values), dtype=bool), index=values.index)
    hit = pc.fill_null(pc.is_in(arr, value_set=_division_code_set()), False)
    return pd.Series(hit.to_numpy(zero_copy_only=False), index=values.index)


def licence_ok(values: pd.Series) -> pd.Series:
    """Vectorised GB/T 36904 check: the shape by Arrow's regex kernel, then numpy MOD 37,36 over
    the bodies' bytes, one pass per body length (tested against python-stdnum's
    iso7064.mod_37_36). No Python string is built per value: at a million licences that was
    most of the licence suite's time."""
    ok = np.zeros(len(values), dtype=bool)
    arr = _strings(values)
    if arr is None:
        return pd.Series(ok, index=values.index)
    parts = pc.extract_regex(arr, SHAPE)
    where = np.flatnonzero(parts.is_valid().to_numpy(zero_copy_only=False))
    if len(where) == 0:
        return pd.Series(ok, index=values.index)
    parts = parts.take(pa.array(where))
    body = pc.binary_join_element_wise(*(parts.field(k) for k in ("t", "i", "s", "v")), "")
    check = _ascii_matrix(parts.field("c"), 1)[:, 0]
    lengths = pc.binary_length(body).to_numpy()
    for width in np.unique(lengths):
        sel = np.flatnonzero(lengths == width)
        bodies = _ascii_matrix(body.take(pa.array(sel)), int(width))
        ok[where[sel]] = mod_37_36_check_bytes(bodies) == check[sel]
    return pd.Series(ok, index=values.index)


def _ascii_matrix(strings, width: int):
    """An (n, width) uint8 view of a null-free Arrow string array whose values all have
    ``width`` bytes."""
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)
    start, stop = offsets[strings.offset], offsets[strings.offset + len(strings)]
    data = np.frombuffer(strings.buffers()[2], dtype=np.uint8)[start:stop]
    return data.reshape(len(strings), width)


CHECKS = {
    "id_number": id_number_ok,
    "uscc": uscc_ok,
    "licence": licence_ok,
    "division_code": division_code_ok,
}


@cache
def _udf(check: str):
    # created on first use: a pandas UDF needs the Spark session that exists by then
    fn = CHECKS[check]

    def identifier_ok(values: pd.Series) -> pd.Series:
        return fn(values)

    # named for what it checks: the name shows in plans and in column lineage's transforms
    identifier_ok.__name__ = identifier_ok.__qualname__ = f"valid_{check}"
    return pandas_udf(identifier_ok, "boolean")


def checked(check: str, c: Column) -> Column:
    """The vectorised ``check`` of ``c`` as a column (false for null)."""
    return F.coalesce(_udf(check)(c), F.lit(False))


@cache
def _division_code_set() -> pa.Array:
    return pa.array(sorted(division_codes()))
