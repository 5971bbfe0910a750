"""Custom Great Expectations for govlake's national codes, evaluated in the engine.

* ``expect_column_values_to_be_valid_cn_id_number``      GB 11643 ID number (MOD 11-2, birth date)
* ``expect_column_values_to_be_valid_uscc``              GB 32100 unified social credit code
                                                         (MOD 31, and the GB 11714 organisation code)
* ``expect_column_values_to_be_valid_licence_identifier``  GB/T 36904 licence identifier
                                                         (ISO 7064 MOD 37,36)
* ``expect_column_values_to_be_valid_division_code``     GB/T 2260 administrative division code

Each condition is a vectorised check of jobs/pipeline/identifiers.py, evaluated in the engine as a
pandas UDF (the same checks as the base libraries').

Import this module before loading a suite: GX drops an expectation whose class is not registered
(jobs.pipeline.quality.suites.load_suite imports it and checks that nothing was dropped).
"""

from __future__ import annotations

from great_expectations.execution_engine import SparkDFExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)

from jobs.pipeline.identifiers import checked


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
        lambda c: checked("id_number", c),
    ),
    "valid_uscc": (
        "Expect values to be valid unified social credit codes (GB 32100, with GB 11714).",
        lambda c: checked("uscc", c),
    ),
    "valid_licence_identifier": (
        "Expect values to be valid GB/T 36904 licence identifiers (ISO 7064 MOD 37,36).",
        lambda c: checked("licence", c),
    ),
    "valid_division_code": (
        "Expect values to be GB/T 2260 administrative division codes.",
        lambda c: checked("division_code", c),
    ),
}
REGISTERED = {name: _map_expectation(name, doc, cond) for name, (doc, cond) in CUSTOM.items()}
CUSTOM_TYPES = [f"expect_column_values_to_be_{n}" for n in CUSTOM]
