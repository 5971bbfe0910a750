"""The base libraries and the profiles as pure transforms: tiny cities of inline bronze rows
through linking, 人口库, 法人库, 电子证照库, 一人一档 and 一企一档, against golden tables
(tests/fixtures/golden/city.*; regenerate with `python -m tests.golden --write city`)."""

from __future__ import annotations

import pytest

from tests import golden

CITIES = golden.city_cases()


@pytest.mark.parametrize("case", CITIES, ids=[c["name"][:70] for c in CITIES])
def test_a_tiny_city_builds_its_golden_tables(spark, case):
    expected = golden.city_golden().get(case["name"])
    assert expected is not None, "no golden tables: run `python -m tests.golden --write city`"
    got = golden.build_city(spark, case)
    for table in expected:
        assert got[table] == expected[table], f"{case['name']}: {table}"


def test_the_newborn_in_the_fathers_household_is_the_parents_child_by_both_routes():
    """What the family case shows, said plainly: 户籍 and the birth certificate agree."""
    family = next(v for k, v in golden.city_golden().items() if "father's household" in k)
    mother = next(p for p in family["gold.person_profile"] if p["identity"]["name"] == "李娜")
    assert [(c["name"], c["via"]) for c in mother["children"]] == [
        ("张小宝", ["gaj_hjrk", "wjw_cszm"])
    ]
    assert mother["marriage"]["spouse_id"] == "130902198501011232"


def test_with_no_huji_record_the_next_authority_names_the_person():
    alone = next(v for k, v in golden.city_golden().items() if "no 户籍 record" in k)
    (person,) = alone["silver.person"]
    assert (person["name"], person["name_source"]) == ("王五", "wjw_swzm")
    assert person["is_deceased"] and person["is_deceased_source"] == "wjw_swzm"
    (profile,) = alone["gold.person_profile"]
    assert [f["rule_id"] for f in profile["open_findings"]] == ["person_name_mismatch"]
