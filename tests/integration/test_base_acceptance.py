"""Acceptance of the base libraries on the 20,000-person city against ground truth (slow)."""

from __future__ import annotations

import pandas as pd
import pytest
from deltalake import DeltaTable

from jobs.platform import settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big(cli_city):
    """The shared city of twenty thousand (conftest.cli_city): one run of the whole pipeline
    serves every acceptance test."""
    landing, lake, run = cli_city
    assert run.returncode == 0, run.stderr[-3000:]
    return landing, lake


def table(lake, name):
    layer, t = name.split(".")
    return DeltaTable(str(lake / layer / t)).to_pandas()


def test_person_attributes_are_accurate(big):
    landing, lake = big
    truth = pd.read_parquet(landing / "_truth" / "persons.parquet")
    m = truth.merge(table(lake, "silver.person"), on="person_id", suffixes=("_t", "_s"))
    assert len(m) > 19_000
    for a in ("name", "sex", "birth_date", "is_deceased", "death_date"):
        acc = (m[f"{a}_t"].astype(str) == m[f"{a}_s"].astype(str)).mean()
        assert acc >= 0.995, (a, acc)
    # 户籍 residents: the exact code; others: the category, since 初婚/再婚/复婚 is known only to
    # the 户籍 of their own city (docs/base-libraries.md)
    in_hjrk = m["marital_status_source"].eq("gaj_hjrk") | m["is_resident_s"]
    cat = lambda s: s.map(settings.codes().marital_category)  # noqa: E731
    ok = (m["marital_status_t"] == m["marital_status_s"]) | (
        ~in_hjrk & (cat(m["marital_status_t"]) == cat(m["marital_status_s"]))
    )
    assert ok.mean() >= 0.995, ok.mean()


def test_legal_person_attributes_are_accurate(big):
    landing, lake = big
    truth = pd.read_parquet(landing / "_truth" / "enterprises.parquet")
    m = truth.merge(
        table(lake, "silver.legal_person"), on="uscc", how="left", suffixes=("_t", "_s")
    )
    for a in ("name", "reg_status", "legal_rep_id"):
        acc = (m[f"{a}_t"].astype(str) == m[f"{a}_s"].astype(str)).mean()
        assert acc >= 0.995, (a, acc)


def test_corrupted_numbers_link_to_the_right_person(big):
    landing, lake = big
    faults = pd.read_csv(landing / "_truth" / "row_faults.csv", dtype=str, keep_default_na=False)
    faults = faults[
        faults["fault"].isin(["id_wrong_check", "id_digit_typo", "id_transposition", "id_legacy15"])
    ]
    links = table(lake, "silver.person_link")
    links["row_number"] = links["_row_number"].astype(str)
    m = faults.merge(links, left_on=["file", "row_number"], right_on=["_file", "row_number"])
    m = m[m["id_delivered"] == m["delivered_value"].str.strip().str.upper()]
    assert len(m) > 100
    right = (m["person_id"] == m["true_value"]).mean()
    wrong = (m["person_id"].notna() & (m["person_id"] != m["true_value"])).mean()
    assert right >= 0.9 and wrong <= 0.005, (right, wrong)
