"""The catalogue (政务数据目录) the pipeline writes, on the sample city's lake."""

from __future__ import annotations

from jobs.pipeline.catalog.build import authorities, items_collected
from jobs.platform import settings
from jobs.platform.config import catalog, extract_schemas
from jobs.serving.sql.session import SqlSession


def _rows(lake, table: str) -> list[dict]:
    return [r.asDict(recursive=True) for r in lake.read(table).collect()]


def test_the_catalogue_covers_every_source_and_curated_table(city_lake):
    lake = city_lake
    resources = {r["table_name"]: r for r in _rows(lake, "catalog.resources")}
    for source_id, entry in catalog().items():
        row = resources[f"bronze.{source_id}"]
        assert row["resource_code"] == entry.resource_code and row["system"] == entry.system
        assert row["share_type"] == entry.share_type and row["provider"] == entry.provider
    curated = {
        t for t in lake.tables() if t.split(".")[0] in ("silver", "gold", "quality", "catalog")
    }
    assert curated <= set(settings.curated().resources), "a curated table has no catalogue entry"
    assert curated <= set(resources)
    assert resources["silver.person"]["classification"] == "L3"  # ID numbers and names
    assert resources["quality.scores"]["classification"] == "L1"


def test_fields_carry_sensitivity_standard_and_authority(city_lake):
    lake = city_lake
    fields = _rows(lake, "catalog.fields")
    codes = {e.source_id: e.resource_code for e in catalog().values()}
    by_source = {(f["resource_code"], f["column_name"]): f for f in fields}
    for source_id, schema in extract_schemas().items():
        for col in schema.columns:
            row = by_source[(codes[source_id], col.column)]
            assert row["field"] == col.header and row["sensitivity"] == col.sensitivity
            assert row["standard"] == col.standard
    hjrk_id = by_source[(codes["gaj_hjrk"], "id_number")]
    assert hjrk_id["authoritative"] and hjrk_id["data_items"] == ["person.id_number"]
    assert not by_source[(codes["rsj_sbcb"], "name")]["authoritative"]
    assert by_source[(codes["swj_swdj"], "tax_status")]["authoritative"]
    # one authority per data item among the sources that collect it
    for item, source in authorities().items():
        flagged = {
            s for (s, _c), items in items_collected().items() if item in items and s == source
        }
        assert flagged <= {source}
    profile = {f["field"]: f for f in fields if f["resource_code"] == "130900-DSJ-0201"}
    assert profile["household.members.person_id"]["sensitivity"] == "L3"
    assert profile["identity.region_code"]["sensitivity"] == "L1"


def test_duplicate_collection_lists_the_authority_and_the_others(city_lake, sql_lake):
    lake = city_lake
    items = {r["data_item"]: r for r in _rows(lake, "catalog.collections")}
    name = items["person.name"]
    assert name["authoritative_source"] == "gaj_hjrk" and name["duplicated"]
    assert {"rsj_sbcb.name", "wjw_swzm.name", "mzj_hydj.male_name"} <= set(name["other_fields"])
    assert "scjgj_qydj.name" not in name["other_fields"]  # an enterprise's name, not a person's
    assert items["legal_person.name"]["authoritative_fields"] == ["scjgj_qydj.name"]
    assert not items["legal_person.tax_status"]["duplicated"]
    with SqlSession(sql_lake, role="city_analyst", user="catalog-test") as s:
        dup = s.arrow(
            "SELECT data_item, authoritative_source FROM catalog.collections WHERE duplicated "
            "ORDER BY data_item"
        ).to_pylist()
    assert {"data_item": "person.name", "authoritative_source": "gaj_hjrk"} in dup
