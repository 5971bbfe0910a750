"""The ``catalog`` stage: rebuild catalog.resources, catalog.fields and catalog.collections."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import types as T

from jobs.pipeline.catalog.build import build_catalogue
from jobs.pipeline.stage import StageReport
from jobs.platform.lake import Lake

_S, _B = T.StringType(), T.BooleanType()

SCHEMAS = {
    "catalog.resources": T.StructType(
        [
            T.StructField(name, _S)
            for name in (
                "resource_code",
                "name",
                "provider",
                "department",
                "source_id",
                "table_name",
                "kind",
                "share_type",
                "open_type",
                "update_cycle",
                "classification",
                "system",
            )
        ]
    ),  # fmt: skip
    "catalog.fields": T.StructType(
        [
            *(T.StructField(n, _S) for n in ("resource_code", "field", "column_name", "label")),
            *(T.StructField(n, _S) for n in ("type", "sensitivity", "standard")),
            T.StructField("data_items", T.ArrayType(_S)),
            T.StructField("authoritative", _B),
        ]
    ),
    "catalog.collections": T.StructType(
        [
            T.StructField("data_item", _S),
            T.StructField("authoritative_source", _S),
            T.StructField("authoritative_fields", T.ArrayType(_S)),
            T.StructField("other_fields", T.ArrayType(_S)),
            T.StructField("sources", T.IntegerType()),
            T.StructField("duplicated", _B),
        ]
    ),
}


def build_catalog(lake: Lake, business_date: dt.date, *, echo=None) -> StageReport:
    """Write the catalogue as it stands for the onboarded sources and the lake's tables."""
    show = echo or (lambda _line: None)
    report = StageReport("catalog", business_date)
    declared = {
        table: [(f.name, f.dataType.simpleString()) for f in schema.fields]
        for table, schema in SCHEMAS.items()
    }
    inputs = {"conf/catalog": None, "conf/curated.yaml": None, "schemas/extracts": None}
    with lake.run("catalog", business_date=business_date, inputs=inputs):
        cat = build_catalogue(lake.root, declared)
        rows = {
            "catalog.resources": cat.resources,
            "catalog.fields": cat.fields,
            "catalog.collections": cat.collections,
        }
        for table, data in rows.items():
            schema = SCHEMAS[table]
            frame = lake.spark.createDataFrame(
                [tuple(r[f.name] for f in schema.fields) for r in data], schema
            )
            lake.overwrite(frame, table)
    duplicated = sum(c["duplicated"] for c in cat.collections)
    lines = [
        f"catalog.resources {len(cat.resources)}, catalog.fields {len(cat.fields)}, "
        f"data items {len(cat.collections)} ({duplicated} collected by several sources)",
    ]
    report.say(lines, show)
    return report
