"""The built silver and gold tables have exactly the columns and types schemas/curated declares
(the golden tests of tests/golden.py build their inline frames from those declarations)."""

from __future__ import annotations

from jobs.platform.config import curated_schemas


def test_built_tables_match_their_declared_schemas(city_lake):
    declared = curated_schemas()
    assert {"silver.person", "silver.person_link", "gold.person_profile"} <= set(declared)
    for table, schema in declared.items():
        built = city_lake.read_schema(table)
        got = [(f.name, f.dataType.simpleString()) for f in built.fields]
        assert got == [(c.name, c.type) for c in schema.columns], table
