"""The scope of an incremental profile build (jobs/pipeline/themes/scope.py), on a tiny city.

For each change to the family of tests/fixtures/golden/city.cases.yaml, both dates are built
as pure transforms; every person whose full profile differs must be in the scope, and the
profiles built from the restricted inputs must be the full build's, person by person.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest

from jobs.pipeline.themes.profiles import build_person_profile
from jobs.pipeline.themes.scope import person_profile_scope, restrict
from tests.golden import _sorted, city_cases, city_inputs, local_checkpoint

FATHER, MOTHER, CHILD = "130902198501011232", "130902198702021242", "130902202606011254"


def _family() -> dict:
    return copy.deepcopy(city_cases()[0])


_INPUTS: dict[str, object] = {}


def _inputs(spark, case: dict):
    """The profiles' inputs of a case as the lake holds them (silver tables with their row
    hashes, frames used twice materialised). Cases share their unchanged family's."""
    import dataclasses
    import json

    from jobs.platform.lake import with_row_hash as add

    key = f"{id(spark)} {json.dumps(case, sort_keys=True, default=str)}"
    if key not in _INPUTS:
        x = city_inputs(spark, case)
        _INPUTS[key] = dataclasses.replace(
            x,
            person=add(x.person),
            licence=add(x.licence),
            legal_person=add(x.legal_person),
            findings=add(x.findings),
            checkpoint=local_checkpoint(spark),
        )
    return _INPUTS[key]


def _rows(hjrk: list[dict], id_number: str) -> dict:
    return next(r for r in hjrk if r["id_number"] == id_number)


def _child_renamed(case):
    _rows(case["current"]["gaj_hjrk"], CHILD)["name"] = "张晓宝"


def _mother_died(case):
    mother = _rows(case["current"]["gaj_hjrk"], MOTHER)
    mother.update(reg_status="1", deregistered_on="20261105")


def _child_moved_out(case):
    child = _rows(case["current"]["gaj_hjrk"], CHILD)
    child.update(household_no="H2", relation_to_head="02")


def _extract_restamped(case):
    for row in case["current"]["rsj_sbcb"]:
        row["updated_on"] = "20261111"


def _divorce_comes_due(case):
    # registered ahead of the old date (not yet certain), certain by the new one
    case["current"]["mzj_hydj"].append(
        {
            "_file": "m.jsonl", "_row_number": 2, "_business_date": dt.date(2026, 11, 10),
            "_batch_id": "b2", "reg_type": "IB", "reg_date": "2026-11-11",
            "male_id_number": FATHER, "male_name": "张伟",
            "female_id_number": MOTHER, "female_name": "李娜",
            "certificate_no": "L130902-2026-000001",
        }
    )  # fmt: skip


def _later(case):
    case["as_of"] = dt.date(2026, 11, 12)


CHANGES = {
    "a child's name corrected": ([_child_renamed], {FATHER, MOTHER, CHILD}),
    "a spouse died": ([_mother_died], {FATHER, MOTHER}),
    "a child moved to a household of its own": ([_child_moved_out], {FATHER, MOTHER, CHILD}),
    "an extract re-stamped with its date only": ([_extract_restamped], set()),
    "a divorce registered ahead comes due": ([_divorce_comes_due, _later], {FATHER, MOTHER}),
}


@pytest.mark.parametrize("change", CHANGES)
def test_scope_holds_every_changed_profile_and_the_scoped_build_is_the_full_one(spark, change):
    steps, expected = CHANGES[change]
    before = _family()
    if _later in steps:  # the registration was delivered before the old date too
        _divorce_comes_due(before)
    after = _family()
    for step in steps:
        step(after)
    old, new = _inputs(spark, before), _inputs(spark, after)

    full_old = {r["person_id"]: r for r in _sorted(build_person_profile(old).collect())}
    full_new = {r["person_id"]: r for r in _sorted(build_person_profile(new).collect())}
    differ = {p for p in full_old.keys() | full_new.keys() if full_old.get(p) != full_new.get(p)}
    assert differ >= expected, f"the change should alter {expected - differ}"

    local = local_checkpoint(spark)
    scope = local(person_profile_scope(old, new, checkpoint=local))
    in_scope = {r["person_id"] for r in scope.collect()}
    assert differ <= in_scope, f"changed profiles outside the scope: {differ - in_scope}"
    if not expected:
        assert in_scope == set()

    scoped = build_person_profile(restrict(new, scope)).join(scope, "person_id", "left_semi")
    got = {r["person_id"]: r for r in _sorted(scoped.collect())}
    assert got == {p: r for p, r in full_new.items() if p in in_scope}


def test_a_previous_build_whose_inputs_were_vacuumed_is_not_compared_with(lake, spark):
    from deltalake import DeltaTable

    with lake.run("setup"):
        lake.overwrite(spark.createDataFrame([("1",)], "person_id string"), "silver.person")
        lake.overwrite(spark.createDataFrame([("2",)], "person_id string"), "silver.person")
    assert lake.readable("silver.person", 0) and lake.readable("silver.person", 1)
    old = DeltaTable(lake.path("silver.person"), version=0).file_uris()
    for uri in old:
        Path(uri.removeprefix("file://")).unlink()
    assert not lake.readable("silver.person", 0)
    assert lake.readable("silver.person", 1)
    assert not lake.readable("silver.nothing", 0)
