"""Custom Great Expectations for govlake's national codes, evaluated as Spark expressions.

Each is a ColumnMapExpectation whose Spark condition is built from jobs.pipeline.standardise (pure Column
expressions: no Python UDF, so they run on Sail and on a Spark cluster alike):

* ``expect_column_values_to_be_valid_cn_id_number``      GB 11643 ID number (MOD 11-2, birth date)
* ``expect_column_values_to_be_valid_uscc``              GB 32100 unified social credit code
                                                         (MOD 31, and the GB 11714 organisation code)
* ``expect_column_values_to_be_valid_licence_identifier``  GB/T 36904 licence identifier
                                                         (ISO 7064 MOD 37,36)
* ``expect_column_values_to_be_valid_division_code``     GB/T 2260 administrative division code

Import this module before loading a suite: GX drops an expectation whose class is not registered
(jobs.pipeline.quality.suites.load_suite imports it and checks that nothing was dropped).
"""

from __future__ import annotations

from functools import cache

import pandas as pd
from great_expectations.execution_engine import SparkDFExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf

from jobs.pipeline import standardise as S

SHAPE = (  # GB/T 36904; extract_regex (Arrow) requires the groups named
    r"^1\.2\.156\.3005\.2\.(?P<t>[0-9A-Z]+)\.(?P<i>[0-9A-Z]{18})\.(?P<s>[0-9A-Z]+)"
    r"\.(?P<v>[0-9]{3})\.(?P<c>[0-9A-Z])$"
)


def licence_ok(values: pd.Series) -> pd.Series:
    """Vectorised GB/T 36904 check: the shape by Arrow's regex kernel, then numpy MOD 37,36 over
    the bodies' bytes, one pass per body length (tested against python-stdnum's
    iso7064.mod_37_36). No Python string is built per value: at a million licences that was
    most of the licence suite's time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from jobs.pipeline.check_digits import mod_37_36_check_bytes

    ok = np.zeros(len(values), dtype=bool)
    arr = pa.Array.from_pandas(values)
    if not pa.types.is_string(arr.type):  # large_string, or all-null or non-string input
        arr = pc.cast(arr, pa.string()) if not pa.types.is_null(arr.type) else None
    if arr is None or len(arr) == 0:
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
    import numpy as np

    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)
    start, stop = offsets[strings.offset], offsets[strings.offset + len(strings)]
    data = np.frombuffer(strings.buffers()[2], dtype=np.uint8)[start:stop]
    return data.reshape(len(strings), width)


@cache
def _licence_udf():
    # created on first use: a pandas UDF needs the Spark session that exists by then
    @pandas_udf("boolean")
    def licence_identifier_ok(values: pd.Series) -> pd.Series:
        return licence_ok(values)

    return licence_identifier_ok


def licence_identifier_is_valid(c: Column) -> Column:
    """GB/T 36904: ``1.2.156.3005.2.<type>.<issuer 18>.<serial>.<version 3>.<check>`` whose check
    character is ISO 7064 MOD 37,36 over type, issuer, serial, version (python-stdnum's
    mod_37_36). A vectorised pandas UDF: the check is iterative, and Sail cannot evaluate Spark's
    higher-order functions (aggregate over the characters) inside a filter, which GX builds."""
    return F.coalesce(_licence_udf()(c), F.lit(False))


@cache
def _division_codes() -> list[str]:
    from jobs.pipeline.check_digits import division_codes

    return sorted(division_codes())


def division_code_is_valid(c: Column) -> Column:
    """A six-digit code of the GB/T 2260 table (python-stdnum's copy)."""
    return F.coalesce(c.isin(*_division_codes()), F.lit(False))


def _map_expectation(name: str, doc: str, condition):
    """Define the metric provider and the expectation class for one condition."""
    metric = f"column_values.{name}"
    snake = f"expect_column_values_to_be_{name}"
    camel = "".join(p.capitalize() for p in snake.split("_"))

    def _spark(cls, column, **kwargs):
        return condition(column)

    provider = type(
        f"ColumnValues{camel}",
        (ColumnMapMetricProvider,),
        {
            "condition_metric_name": metric,
            "_spark": column_condition_partial(engine=SparkDFExecutionEngine)(_spark),
        },
    )
    expectation = type(
        camel,
        (ColumnMapExpectation,),
        {
            "__doc__": doc,
            "map_metric": metric,
            "success_keys": ("mostly",),
            "library_metadata": {"maturity": "production", "tags": ["govlake"]},
        },
    )
    return provider, expectation


CUSTOM = {
    "valid_cn_id_number": (
        "Expect values to be valid GB 11643 ID numbers (18 characters, check character, birth date).",
        lambda c: S.id_is_valid(c),
    ),
    "valid_uscc": (
        "Expect values to be valid unified social credit codes (GB 32100, with GB 11714).",
        lambda c: S.uscc_is_valid(c),
    ),
    "valid_licence_identifier": (
        "Expect values to be valid GB/T 36904 licence identifiers (ISO 7064 MOD 37,36).",
        licence_identifier_is_valid,
    ),
    "valid_division_code": (
        "Expect values to be GB/T 2260 administrative division codes.",
        division_code_is_valid,
    ),
}
REGISTERED = {name: _map_expectation(name, doc, cond) for name, (doc, cond) in CUSTOM.items()}
CUSTOM_TYPES = [f"expect_column_values_to_be_{n}" for n in CUSTOM]
