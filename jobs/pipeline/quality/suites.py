"""Great Expectations suites: one per table, as files ``expectations/<layer>.<table>.json``.

Bronze suites follow from the extract schemas (``govlake suites --write`` regenerates them; a
test checks they are in step): required fields present (completeness), codes in their tables,
dates in their formats, ID numbers, credit codes, licence identifiers and division codes valid
(conformity), entity keys unique in a delivery (uniqueness). Silver suites are written here too
and may be edited by hand afterwards only through this module. Each expectation's ``meta`` names
its GB/T 36344 ``dimension``.

The stage validates the date's slice of each bronze table and each silver table as built, with
an ephemeral or file-backed GX context (results kept under ``<lake>/_gx`` for Data Docs).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from pathlib import Path

from pyspark.sql import functions as F

from jobs.pipeline import standardise as S
from jobs.pipeline.base.link import LINK_KEYS
from jobs.platform.config import ExtractSchema, extract_schemas, project_dir
from jobs.platform.lake import Lake

log = logging.getLogger(__name__)

# counts without sample values: one query fewer per expectation
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}
SOURCE = "govlake"  # the project's Spark data source: one dataframe asset per suite's table
WHOLE = "whole"  # each asset's one batch definition: the frame given at validation
TYPE_ID = "expect_column_values_to_be_valid_cn_id_number"
TYPE_USCC = "expect_column_values_to_be_valid_uscc"
TYPE_LICENCE = "expect_column_values_to_be_valid_licence_identifier"
TYPE_DIVISION = "expect_column_values_to_be_valid_division_code"


def suite_dir() -> Path:
    """The folder of the suites (expectations/ of the project)."""
    return project_dir() / "expectations"


def _e(type_: str, dimension: str, **kwargs) -> dict:
    return {"type": type_, "kwargs": kwargs, "meta": {"dimension": dimension}}


def _format_regex(fmt: str) -> str:
    regex, _ = S._format_regex(fmt)
    return regex


def bronze_suite(schema: ExtractSchema) -> dict:
    """The suite of ``bronze.<source_id>`` from its extract schema."""
    exps = []
    for c in schema.columns:
        if c.required:
            exps.append(_e("expect_column_values_to_not_be_null", "completeness", column=c.column))
        p = c.parser
        if p == "id_number":
            exps.append(_e(TYPE_ID, "conformity", column=c.column))
        elif p == "uscc":
            exps.append(_e(TYPE_USCC, "conformity", column=c.column))
        elif p.startswith("code:"):
            values = sorted(S.code_table(p.split(":", 1)[1]))
            exps.append(
                _e(
                    "expect_column_values_to_be_in_set",
                    "conformity",
                    column=c.column,
                    value_set=values,
                )
            )
        elif p.startswith(("date:", "timestamp:")):
            regex = "|".join(f"(?:{_format_regex(f)})" for f in S.date_formats(p))
            exps.append(
                _e(
                    "expect_column_values_to_match_regex",
                    "conformity",
                    column=c.column,
                    regex=regex,
                )
            )
        elif p == "licence_uid":
            exps.append(_e(TYPE_LICENCE, "conformity", column=c.column))
        elif p == "division_code":
            exps.append(_e(TYPE_DIVISION, "conformity", column=c.column))
    keys = list(schema.entity_keys)
    if schema.mode == "full" and keys:  # one record per entity in a snapshot
        if len(keys) == 1:
            exps.append(_e("expect_column_values_to_be_unique", "uniqueness", column=keys[0]))
        else:
            exps.append(_e("expect_compound_columns_to_be_unique", "uniqueness", column_list=keys))
    exps.append(_e("expect_column_values_to_not_be_null", "completeness", column="_batch_id"))
    return {
        "name": f"bronze.{schema.source_id}",
        "expectations": exps,
        "meta": {"generated_from": f"schemas/extracts/{schema.source_id}.yaml"},
    }


SILVER_SUITES = {
    "silver.person": [
        _e("expect_column_values_to_be_unique", "uniqueness", column="person_id"),
        _e(TYPE_ID, "conformity", column="person_id"),
        _e("expect_column_values_to_not_be_null", "completeness", column="name"),
        _e("expect_column_values_to_not_be_null", "completeness", column="sex"),
        _e("expect_column_values_to_not_be_null", "completeness", column="birth_date"),
        _e(
            "expect_column_values_to_be_in_set",
            "conformity",
            column="sex",
            value_set=["0", "1", "2", "9"],
        ),
        _e(
            "expect_column_values_to_be_in_set",
            "conformity",
            column="marital_status",
            value_set=["10", "20", "21", "22", "23", "30", "40", "90"],
        ),
        _e(TYPE_DIVISION, "conformity", column="region_code"),
        _e("expect_column_values_to_not_be_null", "completeness", column="is_deceased"),
    ],
    "silver.person_link": [
        _e("expect_compound_columns_to_be_unique", "uniqueness", column_list=LINK_KEYS),
        _e(
            "expect_column_values_to_be_in_set",
            "conformity",
            column="match_method",
            value_set=["exact_id", "repaired_id", "probabilistic", "unresolved"],
        ),
        _e("expect_column_values_to_not_be_null", "completeness", column="person_id"),
    ],
    "silver.legal_person": [
        _e("expect_column_values_to_be_unique", "uniqueness", column="entity_id"),
        _e(TYPE_USCC, "conformity", column="uscc"),
        _e("expect_column_values_to_not_be_null", "completeness", column="uscc"),
        _e("expect_column_values_to_not_be_null", "completeness", column="name"),
        _e("expect_column_values_to_not_be_null", "completeness", column="legal_rep_name"),
        _e("expect_column_values_to_not_be_null", "completeness", column="reg_status"),
        _e(TYPE_DIVISION, "conformity", column="region_code"),
    ],
    "silver.legal_person_link": [
        _e("expect_compound_columns_to_be_unique", "uniqueness", column_list=LINK_KEYS),
        _e("expect_column_values_to_not_be_null", "completeness", column="uscc"),
    ],
    "silver.licence": [
        _e("expect_column_values_to_be_unique", "uniqueness", column="licence_key"),
        _e(TYPE_LICENCE, "conformity", column="licence_uid"),
        _e("expect_column_values_to_not_be_null", "completeness", column="holder_code"),
        _e("expect_column_values_to_not_be_null", "completeness", column="issued_on"),
        _e(
            "expect_column_values_to_be_in_set",
            "conformity",
            column="status",
            value_set=["valid", "expired", "cancelled", "revoked"],
        ),
    ],
}


GOLD_SUITES = {
    "gold.person_profile": [
        _e("expect_column_values_to_be_unique", "uniqueness", column="person_id"),
        _e("expect_column_values_to_not_be_null", "completeness", column="person_id"),
        _e(TYPE_ID, "conformity", column="person_id"),
        # one profile per person of silver.person
        _e(
            "expect_table_row_count_to_equal",
            "completeness",
            value={"$PARAMETER": "silver_person_rows"},
        ),
        # references resolve to a person of silver.person (derived columns, jobs/pipeline/themes/run.py)
        _e(
            "expect_column_values_to_be_in_set",
            "consistency",
            column="_spouse_known",
            value_set=[True],
        ),
        _e(
            "expect_column_values_to_be_in_set",
            "consistency",
            column="_children_known",
            value_set=[True],
        ),
        _e(
            "expect_column_values_to_be_in_set",
            "consistency",
            column="_members_known",
            value_set=[True],
        ),
    ],
    "gold.enterprise_profile": [
        _e("expect_column_values_to_be_unique", "uniqueness", column="entity_id"),
        _e(TYPE_USCC, "conformity", column="uscc"),
        _e(
            "expect_table_row_count_to_equal",
            "completeness",
            value={"$PARAMETER": "silver_legal_person_rows"},
        ),
        _e(
            "expect_column_values_to_be_in_set",
            "consistency",
            column="_rep_known",
            value_set=[True],
        ),
        _e(
            "expect_column_values_to_be_between",
            "consistency",
            column="insured_employees",
            min_value=0,
        ),
    ],
}


def all_suites() -> dict[str, dict]:
    """Every suite as it should be: bronze suites from the extract schemas, then silver and gold."""
    out = {f"bronze.{s}": bronze_suite(schema) for s, schema in extract_schemas().items()}
    for name, exps in {**SILVER_SUITES, **GOLD_SUITES}.items():
        out[name] = {
            "name": name,
            "expectations": exps,
            "meta": {"generated_from": "jobs/pipeline/quality/suites.py"},
        }
    return out


def write_suites(folder: Path | None = None) -> list[Path]:
    """Write every suite as JSON into ``folder`` (``govlake suites --write``)."""
    folder = folder or suite_dir()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, suite in all_suites().items():
        path = folder / f"{name}.json"
        path.write_text(json.dumps(suite, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


def suite_files() -> dict[str, Path]:
    """The suite files on disk, by table name."""
    return {p.stem: p for p in sorted(suite_dir().glob("*.json"))}


def load_suite(name: str):
    """The suite ``name`` from its file; raises if GX dropped any expectation of the file."""
    from great_expectations.core import ExpectationSuite

    import jobs.pipeline.quality.expectations  # noqa: F401  (registers the custom expectations)

    path = suite_dir() / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read the suite: {e}") from None
    suite = ExpectationSuite(
        name=data["name"], expectations=data["expectations"], meta=data.get("meta")
    )
    if len(suite.expectations) != len(data["expectations"]):
        kept = {e.expectation_type for e in suite.expectations}
        lost = sorted({e["type"] for e in data["expectations"]} - kept)
        raise ValueError(f"{path}: Great Expectations dropped expectation(s) {lost}")
    return suite


def _result_rows(table: str, source_id: str | None, res) -> list[dict]:
    rows = []
    for r in res.results:
        cfg = r.expectation_config
        kw = cfg.kwargs
        column = kw.get("column") or ",".join(kw.get("column_list") or [])
        rr = r.result or {}
        n = rr.get("element_count")
        bad = rr.get("unexpected_count")
        if n is None:  # table-level expectation: one item
            n, bad = 1, 0 if r.success else 1
        info = r.exception_info or {}
        failed_to_run = bool(info.get("raised_exception")) or any(
            isinstance(v, dict) and v.get("exception_message") for v in info.values()
        )
        if failed_to_run:
            raise RuntimeError(f"{table}: expectation {cfg.type}({column}) could not run: {info}")
        rows.append(
            {
                "rule_id": f"{cfg.type}:{column}" if column else cfg.type,
                "dimension": (cfg.meta or {}).get("dimension", "conformity"),
                "table": table,
                "source_id": source_id,
                "evaluated": int(n or 0),
                "failed": int(bad or 0),
            }
        )
    return rows


def validate_tables(
    lake: Lake,
    business_date: dt.date,
    *,
    show,
    docs_root: Path | None = None,
    layers: tuple[str, ...] = ("bronze", "silver"),
    frames: dict | None = None,
    parameters: dict | None = None,
):
    """Run the suites of ``layers`` on their tables as of the date: result rows and the seconds
    spent inside GX. ``frames`` replaces a table's frame (e.g. with derived check columns) and
    ``parameters`` resolves ``{"$PARAMETER": name}`` values of the suites."""
    from great_expectations.core.run_identifier import RunIdentifier

    from jobs.platform.history import JOBS, read_as_of

    ctx, source = _gx_project(docs_root)
    rows, spent = [], 0.0
    for name in suite_files():
        layer, table = name.split(".", 1)
        if layer not in layers or not lake.exists(name):
            continue
        if frames and name in frames:
            df, source_id = frames[name], None
        elif layer == "bronze":
            df = lake.read(name).filter(F.col("_business_date") == F.lit(business_date))
            source_id = table
        elif name in JOBS:
            df = read_as_of(lake, name, as_of=business_date)
            source_id = None
        else:
            df = lake.read(name)
            source_id = None
        suite = load_suite(name)
        t0 = time.time()
        batch_def = _whole_frame(source, name)
        if docs_root:
            vd = _validation_definition(ctx, batch_def, suite)
            res = vd.run(
                # the business date names the run in the Data Docs (run_time given: GX would
                # otherwise read the name as a time and overwrite earlier dates' results)
                run_id=RunIdentifier(run_name=str(business_date), run_time=dt.datetime.now(dt.UTC)),
                batch_parameters={"dataframe": df},
                expectation_parameters=parameters or None,
                result_format=RESULT_FORMAT,
            )
        else:
            res = batch_def.get_batch(batch_parameters={"dataframe": df}).validate(
                suite, result_format="BASIC"
            )
        spent += time.time() - t0
        got = _result_rows(name, source_id, res)
        rows += got
        bad = sum(1 for g in got if g["failed"])
        show(
            f"   {name:<28} {len(got):>3} expectations, {bad} with failures  ({time.time() - t0:.1f}s)"
        )
    return rows, spent


def _gx_project(docs_root: Path | None):
    """(context, Spark data source) of the project at ``docs_root`` (ephemeral without one).

    The data source, its assets and their batch definitions are kept in the project's
    configuration, so a project made by an earlier date is used as it is: adding the source
    anew, then an asset and a batch definition per suite, rewrote the whole configuration file
    29 times a date (about 0.6 s)."""
    import great_expectations as gx
    from great_expectations.exceptions import DataContextError

    mode = (
        {"mode": "file", "project_root_dir": str(docs_root)} if docs_root else {"mode": "ephemeral"}
    )
    ctx = gx.get_context(**mode)
    ctx.variables.progress_bars = {"globally": False}
    try:
        source = ctx.data_sources.get(SOURCE)
    except (KeyError, ValueError, DataContextError):
        source = None
    if source is None or source.type != "spark" or getattr(source, "persist", False):
        source = ctx.data_sources.add_or_update_spark(name=SOURCE, persist=False)
    return ctx, source


def _whole_frame(source, name: str):
    """The batch definition of table ``name``: the whole frame given at validation."""
    asset = next((a for a in source.assets if a.name == name), None)
    if asset is None or asset.type != "dataframe":
        asset = source.add_dataframe_asset(name=name)
    return next(
        (b for b in asset.batch_definitions if b.name == WHOLE), None
    ) or asset.add_batch_definition_whole_dataframe(WHOLE)


def _validation_definition(ctx, batch_def, suite):
    """The project's validation definition of ``suite`` on ``batch_def``: the stored one when it
    holds the same suite (as the suite file defines it now), else stored anew. Storing both
    every date cost about 0.5 s and rewrote files no change had touched."""
    import great_expectations as gx
    from great_expectations.exceptions import DataContextError

    try:
        stored = ctx.validation_definitions.get(suite.name)
    except (DataContextError, KeyError, ValueError):
        stored = None
    if (
        stored is not None
        and _same_suite(stored.suite, suite)
        and stored.data.name == batch_def.name
        and stored.data.data_asset.name == batch_def.data_asset.name
    ):
        return stored
    suite = ctx.suites.add_or_update(suite)
    return ctx.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite.name, data=batch_def, suite=suite)
    )


def _same_suite(stored, suite) -> bool:
    """Whether two suites hold the same expectations, meta and parameters (the store gives its
    expectations ids; a suite read from its file has none)."""

    def configs(s) -> list[str]:
        return sorted(
            json.dumps(
                {k: v for k, v in e.configuration.to_json_dict().items() if k != "id"},
                sort_keys=True,
                default=str,
            )
            for e in s.expectations
        )

    return (
        stored.name == suite.name
        and stored.meta == suite.meta
        and stored.suite_parameters == suite.suite_parameters
        and configs(stored) == configs(suite)
    )
