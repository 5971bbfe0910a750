"""Base libraries on the session's sample city: linking, provenance, authority, history."""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest
import yaml
from pyspark.sql import functions as F

from jobs.pipeline.base.link import person_references
from jobs.pipeline.base.person import build_person
from jobs.pipeline.base.state import CurrentRows
from jobs.platform.config import PACKAGE_ROOT
from jobs.platform.history import version_as_of

from .test_cli import govlake

LAST = dt.date(2026, 11, 4)
METHODS = {"exact_id", "repaired_id", "probabilistic", "unresolved"}


def test_every_person_reference_is_linked_or_unresolved(city_lake):
    lake = city_lake
    links = lake.read("silver.person_link")
    refs = person_references(CurrentRows(lake, LAST))
    assert links.count() == refs.count()  # one row per reference, none dropped
    by = {r["match_method"]: r["count"] for r in links.groupBy("match_method").count().collect()}
    assert set(by) <= METHODS and by["exact_id"] > 0.95 * sum(by.values())
    assert (
        links.filter(
            (F.col("match_method") == "unresolved") & F.col("person_id").isNotNull()
        ).count()
        == 0
    )
    assert (
        links.filter((F.col("match_method") != "unresolved") & F.col("person_id").isNull()).count()
        == 0
    )
    roles = {r["role"] for r in links.select("role").distinct().collect()}
    assert roles == {"subject", "male", "female", "mother", "father", "legal_rep", "holder"}


def test_corrupted_numbers_are_repaired_to_the_right_person(city, city_lake):
    lake = city_lake
    faults = pd.read_csv(city / "_truth" / "row_faults.csv", dtype=str, keep_default_na=False)
    faults = faults[
        faults["fault"].isin(["id_wrong_check", "id_digit_typo", "id_transposition", "id_legacy15"])
    ]
    links = (
        lake.read("silver.person_link")
        .select("_file", "_row_number", "id_delivered", "person_id", "match_method")
        .toPandas()
    )
    m = faults.merge(
        links, left_on=["file", "row_number"], right_on=["_file", links["_row_number"].astype(str)]
    )
    m = m[m["id_delivered"] == m["delivered_value"].str.strip().str.upper()]
    assert len(m) >= 10
    right = (m["person_id"] == m["true_value"]).mean()
    wrong = (m["person_id"].notna() & (m["person_id"] != m["true_value"])).mean()
    assert right >= 0.9 and wrong <= 0.005, (right, wrong)
    assert set(m.loc[m["person_id"] == m["true_value"], "match_method"]) <= {
        "repaired_id",
        "probabilistic",
    }


def test_every_value_names_its_source(city_lake):
    lake = city_lake
    p = lake.read("silver.person").toPandas()
    for a in ("name", "sex", "birth_date", "marital_status", "address"):
        has = p[a].notna()
        assert p.loc[has, f"{a}_source"].notna().all(), a
    assert set(p["name_source"].dropna()) <= {
        "gaj_hjrk",
        "wjw_swzm",
        "rsj_sbcb",
        "mzj_hydj",
        "wjw_cszm",
        "scjgj_qydj",
        "swj_swdj",
        "mzj_shzz",
    }
    residents = p[p["is_resident"]]
    assert (residents["name_source"] == "gaj_hjrk").mean() > 0.99


def test_non_residents_are_people_too_but_licence_holders_alone_are_not(city, city_lake):
    lake = city_lake
    p = lake.read("silver.person")
    assert p.filter(~F.col("is_resident") & (F.col("name_source") == "mzj_hydj")).count() > 0
    conflicts = pd.read_csv(city / "_truth" / "conflicts.csv", dtype=str, keep_default_na=False)
    strangers = conflicts.loc[conflicts["rule_id"] == "licence_holder_unknown", "observed"].tolist()
    assert strangers and p.filter(F.col("person_id").isin(strangers)).count() == 0
    lic = lake.read("silver.licence").filter(F.col("holder_code").isin(strangers)).collect()
    assert lic and not any(r["holder_known"] for r in lic)


def test_legal_persons_and_licences(city_lake):
    lake = city_lake
    lp = lake.read("silver.legal_person")
    kinds = {r["org_kind"] for r in lp.select("org_kind").distinct().collect()}
    assert kinds == {"enterprise", "social_org"}
    assert lp.filter(F.col("uscc").isNull()).count() <= 0.01 * lp.count()
    assert (
        lp.filter(
            F.col("tax_status").isNotNull() & (F.col("tax_status_source") != "swj_swdj")
        ).count()
        == 0
    )
    lic = lake.read("silver.licence")
    statuses = {r["status"] for r in lic.select("status").distinct().collect()}
    assert statuses - {None} <= {"valid", "cancelled", "revoked", "expired"}
    # a status code outside its table is left empty (flagged for quality), never guessed
    assert lic.filter(F.col("status").isNull()).count() < 0.02 * lic.count()
    assert lic.filter(F.col("holder_known")).count() > 0.95 * lic.count()


def test_changing_an_authority_is_a_configuration_change(city_lake, tmp_path, monkeypatch):
    lake = city_lake
    project = tmp_path / "project"
    shutil.copytree(PACKAGE_ROOT / "conf", project / "conf")
    shutil.copytree(PACKAGE_ROOT / "schemas", project / "schemas")
    conf = yaml.safe_load((project / "conf" / "authority.yaml").read_text(encoding="utf-8"))
    conf["person"]["name"] = ["rsj_sbcb", "gaj_hjrk"]
    (project / "conf" / "authority.yaml").write_text(
        yaml.safe_dump(conf, allow_unicode=True), encoding="utf-8"
    )
    monkeypatch.setenv("GOVLAKE_PROJECT_DIR", str(project))
    links = lake.read("silver.person_link")
    insured = links.filter(F.col("source_id") == "rsj_sbcb").select("person_id").distinct()
    people = build_person(links=links, current=CurrentRows(lake, LAST), as_of=LAST).join(
        insured, "person_id"
    )
    by = {r["name_source"]: r["count"] for r in people.groupBy("name_source").count().collect()}
    # 人社 is now the authority; 户籍 only where 人社 delivered no usable name
    assert set(by) <= {"rsj_sbcb", "gaj_hjrk"} and by["rsj_sbcb"] > 0.97 * sum(by.values())


def test_history_gives_each_dates_state(city, city_lake):
    lake = city_lake
    versions = [
        version_as_of(lake, "silver.person", as_of=dt.date(2026, 11, d))[0] for d in (2, 3, 4)
    ]
    assert versions == sorted(set(versions))
    dead = [lake.read("silver.person", version=v).filter("is_deceased").count() for v in versions]
    assert dead[0] < dead[2]  # deaths certified on later dates show only from then on
    later = (
        lake.read("silver.person", version=versions[2])
        .filter(F.col("death_date") == F.lit(dt.date(2026, 11, 3)))
        .select("person_id")
        .limit(1)
        .collect()
    )
    if later:
        pid = later[0]["person_id"]
        before = (
            lake.read("silver.person", version=versions[0])
            .filter(F.col("person_id") == pid)
            .collect()
        )
        assert not before or not before[0]["is_deceased"]


@pytest.mark.slow  # slow: CI runs it (make test-slow); the fast suite keeps a cheaper test of the same surface
def test_show_prints_a_masked_person_as_of_a_date(city_lake):
    lake = city_lake
    version, _ = version_as_of(
        lake, "silver.person", as_of=dt.date(2026, 11, 3)
    )  # someone known on that date
    pid = (
        lake.read("silver.person", version=version)
        .filter("is_resident")
        .select("person_id")
        .first()[0]
    )
    from jobs.platform.policy import pseudonym

    who = ["--lake", str(lake.root), "--role", "city_analyst"]
    r = govlake("show", "person", pid, *who, "--as-of", "2026-11-03")
    assert r.returncode != 0 and "pseudonym" in r.stderr  # an analyst has no ID numbers
    r = govlake("show", "person", pseudonym(pid), *who, "--as-of", "2026-11-03")
    assert r.returncode == 0, r.stderr
    assert "as of 2026-11-03" in r.stdout and pid not in r.stdout and pseudonym(pid) in r.stdout
    assert "name_source" in r.stdout
    r = govlake(
        "show", "person", pid, *who[:2], "--role", "quality_officer", "--as-of", "2026-11-03"
    )
    assert r.returncode == 0 and pid in r.stdout, r.stderr
    r = govlake("show", "person", pseudonym(pid), *who, "--as-of", "2020-01-01")
    assert r.returncode != 0 and "nothing is published" in r.stderr and "2020-01-01" in r.stderr


def test_rebuilding_a_date_gives_the_same_people(city_lake):
    lake = city_lake
    links = lake.read("silver.person_link")
    again = build_person(links=links, current=CurrentRows(lake, LAST), as_of=LAST)
    now = lake.read("silver.person").drop("_row_hash", "_changed_on")
    cols = sorted(now.columns)
    key = lambda r: tuple("" if v is None else str(v) for v in r)  # noqa: E731
    assert sorted(map(key, again.select(cols).collect())) == sorted(
        map(key, now.select(cols).collect())
    )
