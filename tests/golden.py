"""Golden cases of the cross-source rules: inline rows in, the checks a rule gives out.

Each rule module ``jobs/pipeline/quality/rules/<rule_id>.py`` has beside it
``<rule_id>.cases.yaml`` (the cases: a name, why an officer cares, the business date, settings
overrides, and inline rows of the tables the rule reads) and ``<rule_id>.golden.json`` (the
checks each case gives). tests/unit/test_rules.py compares; the tests never write. To accept a
change of output, regenerate and read the diff before committing it:

    .venv/bin/python -m tests.golden --write [rule_id ... | city]

The base libraries and the profiles have golden cases too: tiny cities in
tests/fixtures/golden/city.cases.yaml (bronze rows only), each run through every base library
and both profiles as pure transforms, with every table's rows in city.golden.json.

Inline rows name only the columns a case needs; the others are null. Column types come from
the curated schemas (schemas/curated/) and the extract schemas (bronze rows: every delivered
field a string, as delivered).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from functools import cache
from pathlib import Path

import yaml
from pyspark.sql import types as T

from jobs.pipeline.quality import rules as R
from jobs.pipeline.quality.rules.common import CHECK_COLUMNS, RuleInputs
from jobs.platform.config import catalog, curated_schemas, extract_schema

RULES_DIR = Path(R.__file__).parent
SILVER = {
    "person": "silver.person",
    "links": "silver.person_link",
    "legal_person": "silver.legal_person",
    "legal_person_link": "silver.legal_person_link",
    "licence": "silver.licence",
}
BRONZE_META = [
    ("_source_id", "string"),
    ("_batch_id", "string"),
    ("_file", "string"),
    ("_row_number", "int"),
    ("_business_date", "date"),
]


@cache
def curated_schema(table: str) -> T.StructType:
    """The declared columns of a curated table (schemas/curated/<table>.yaml)."""
    columns = curated_schemas()[table].columns
    return T.StructType([T.StructField(c.name, _type(c.type), True) for c in columns])


@cache
def bronze_schema(source_id: str) -> T.StructType:
    """A source's current bronze rows: its delivered fields as strings, and the row's origin."""
    fields = [(c.column, "string") for c in extract_schema(source_id).columns] + BRONZE_META
    return T.StructType([T.StructField(n, _type(t), True) for n, t in fields])


def _type(name: str) -> T.DataType:
    return T._parse_datatype_string(name)


def _value(value, data_type: T.DataType):
    if value is None:
        return None
    if isinstance(data_type, T.StringType):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if isinstance(data_type, T.DateType):
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    if isinstance(data_type, T.BooleanType):
        return bool(value)
    if isinstance(data_type, T.IntegralType):
        return int(value)
    if isinstance(data_type, T.FractionalType):
        return float(value)
    raise TypeError(f"golden rows cannot hold {data_type.simpleString()} values")


def frame(spark, schema: T.StructType, rows: list[dict], *, where: str):
    """A DataFrame of ``rows`` (dicts naming some columns) with the full ``schema``."""
    names = set(schema.fieldNames())
    for i, row in enumerate(rows or []):
        unknown = sorted(set(row) - names)
        if unknown:
            raise KeyError(f"{where}, row {i + 1}: no column {', '.join(unknown)}")
    data = [[_value(r.get(f.name), f.dataType) for f in schema.fields] for r in rows or []]
    return spark.createDataFrame(data, schema)


def cases(rule_id: str) -> list[dict]:
    """The cases of one rule, from its cases file."""
    path = RULES_DIR / f"{rule_id}.cases.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return doc["cases"]


def evaluate_case(spark, rule_id: str, case: dict) -> list[dict]:
    """The checks the rule gives for the case, sorted, as plain values."""
    where = f"{rule_id}.cases.yaml: {case['name']}"
    tables = {
        key: frame(spark, curated_schema(table), case.get(key, []), where=f"{where}: {key}")
        for key, table in SILVER.items()
    }
    current = {
        source: frame(spark, bronze_schema(source), rows, where=f"{where}: current.{source}")
        for source, rows in (case.get("current") or {}).items()
    }
    for source in catalog():  # a source a case leaves out delivered nothing
        current.setdefault(source, frame(spark, bronze_schema(source), [], where=where))
    inputs = RuleInputs(as_of=case["as_of"], current=current, **tables)
    rule = R.rules()[rule_id]
    conf = R.rule_settings(rule_id).model_copy(update=case.get("settings") or {})
    out = [{c: row[c] for c in CHECK_COLUMNS} for row in rule.evaluate(inputs, conf).collect()]
    return sorted(out, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def golden_path(rule_id: str) -> Path:
    """Where the rule's expected checks are kept."""
    return RULES_DIR / f"{rule_id}.golden.json"


def golden(rule_id: str) -> dict[str, list[dict]]:
    """The rule's expected checks, by case name."""
    path = golden_path(rule_id)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def write(spark, rule_ids: list[str]) -> None:
    """Regenerate the golden files of ``rule_ids`` from the rules as they are now."""
    for rule_id in rule_ids:
        got = {c["name"]: evaluate_case(spark, rule_id, c) for c in cases(rule_id)}
        golden_path(rule_id).write_text(
            json.dumps(got, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
        print(f"wrote {golden_path(rule_id)} ({len(got)} cases)")


# ------------------------------------------------------------------ base libraries and profiles
CITY_CASES = Path(__file__).parent / "fixtures" / "golden" / "city.cases.yaml"
CITY_GOLDEN = CITY_CASES.with_name("city.golden.json")


def _plain(row) -> dict:
    out = row.asDict(recursive=True)
    return {k: v for k, v in out.items() if k not in ("_row_hash", "_changed_on")}


def _sorted(rows) -> list[dict]:
    """Rows as JSON values (dates as ISO text), in a stable order."""
    plain = json.loads(json.dumps([_plain(r) for r in rows], default=str))
    return sorted(plain, key=lambda r: json.dumps(r, sort_keys=True))


def local_checkpoint(spark):
    """A checkpoint for pure transforms: a frame of its rows. It keeps the plans small, as
    Lake.checkpoint does in a run (without it a frame used twice is planned twice)."""

    def local(df, _name: str = ""):
        return spark.createDataFrame(df.collect(), df.schema)

    return local


def city_inputs(spark, case: dict):
    """A tiny city's bronze rows through every base library (pure transforms only, no lake):
    the profiles' inputs (ThemeInputs)."""
    from jobs.pipeline.base.legal_person import (
        build_legal_person,
        legal_person_links,
        legal_person_records,
    )
    from jobs.pipeline.base.licence import build_licence
    from jobs.pipeline.base.link import link_persons, person_references
    from jobs.pipeline.base.person import build_person
    from jobs.pipeline.themes.profiles import ThemeInputs

    as_of = case["as_of"]
    where = f"city.cases.yaml: {case['name']}"

    local = local_checkpoint(spark)
    given = case.get("current") or {}
    current = {
        s: frame(spark, bronze_schema(s), given.get(s, []), where=f"{where}: current.{s}")
        for s in catalog()
    }
    links = local(link_persons(local(person_references(current)), as_of, checkpoint=local))
    person = local(build_person(links=links, current=current, as_of=as_of))
    records = legal_person_records(links=links, current=current, checkpoint=local)
    legal = local(build_legal_person(records))
    legal_links = local(legal_person_links(records=records, known=legal, current=current))
    licence = local(
        build_licence(
            links=links, person=person, legal=legal, current=current, as_of=as_of, checkpoint=local
        )
    )
    findings = frame(
        spark, curated_schema("quality.findings"), case.get("findings", []), where=where
    )
    return ThemeInputs(
        as_of=as_of,
        person=person,
        links=links,
        legal_person=legal,
        legal_person_link=legal_links,
        licence=licence,
        findings=findings,
        current=current,
        checkpoint=local,
    )


def build_city(spark, case: dict) -> dict[str, list[dict]]:
    """A tiny city's bronze rows through every base library and both profiles (pure
    transforms only, no lake): each table's rows, sorted, as plain values."""
    from jobs.pipeline.themes.profiles import build_enterprise_profile, build_person_profile

    themes = city_inputs(spark, case)
    tables = {
        "silver.person_link": themes.links,
        "silver.person": themes.person,
        "silver.legal_person": themes.legal_person,
        "silver.legal_person_link": themes.legal_person_link,
        "silver.licence": themes.licence,
        "gold.person_profile": build_person_profile(themes),
        "gold.enterprise_profile": build_enterprise_profile(themes),
    }
    return {name: _sorted(df.collect()) for name, df in tables.items()}


def city_cases() -> list[dict]:
    """The tiny cities of tests/fixtures/golden/city.cases.yaml."""
    return yaml.safe_load(CITY_CASES.read_text(encoding="utf-8"))["cases"]


def city_golden() -> dict:
    """Each tiny city's expected tables, by case name."""
    return json.loads(CITY_GOLDEN.read_text(encoding="utf-8")) if CITY_GOLDEN.exists() else {}


def write_city(spark) -> None:
    """Regenerate tests/fixtures/golden/city.golden.json."""
    got = {c["name"]: build_city(spark, c) for c in city_cases()}
    CITY_GOLDEN.write_text(
        json.dumps(got, ensure_ascii=False, indent=1, sort_keys=True, default=str) + "\n",
        encoding="utf-8",
    )
    print(f"wrote {CITY_GOLDEN} ({len(got)} cases)")


if __name__ == "__main__":
    if sys.argv[1:2] != ["--write"]:
        raise SystemExit(__doc__)
    from jobs.platform.engine import get_spark

    names = sys.argv[2:] or ["city", *sorted(R.rules())]
    if "city" in names:
        write_city(get_spark())
    write(get_spark(), [n for n in names if n != "city"])
