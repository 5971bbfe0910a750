"""Extract schemas and catalogue entries load, validate, and cover every source."""

import pytest

from jobs.platform import config

SOURCES = {
    "gaj_hjrk",
    "mzj_hydj",
    "mzj_shzz",
    "wjw_cszm",
    "wjw_swzm",
    "rsj_sbcb",
    "scjgj_qydj",
    "swj_swdj",
    "zwfw_dzzz",
}


def test_all_nine_sources_have_a_schema_and_a_catalogue_entry():
    assert set(config.extract_schemas()) == SOURCES
    assert set(config.catalog()) == SOURCES


def test_schema_headers_follow_the_extract_contract():
    s = config.extract_schema("swj_swdj")
    assert [
        c.header for c in s.columns
    ] == "NSRSBH|NSRMC|FDDBRXM|FDDBRSFZJHM|NSRZTDM|DJRQ|ZGSWJGMC|SCJYDZ|LXDH".split("|")
    assert config.extract_schema("gaj_hjrk").encoding == "gb18030"
    assert config.extract_schema("wjw_cszm").encoding == "utf-8-sig"
    assert config.extract_schema("wjw_swzm").columns[6].sensitivity == "L4"  # cause of death


def test_catalogue_entries_carry_share_type_and_sla():
    c = config.catalog()["gaj_hjrk"]
    assert c.provider == "市公安局" and c.share_type == "有条件共享"
    assert c.delivery_sla.days_after == 1 and c.delivery_sla.deadline == "06:00"


def test_a_broken_schema_names_its_file(tmp_path, monkeypatch):
    (tmp_path / "schemas" / "extracts").mkdir(parents=True)
    (tmp_path / "conf" / "catalog").mkdir(parents=True)
    (tmp_path / "schemas" / "extracts" / "bad_src.yaml").write_text(
        "source_id: bad_src\nformat: parquet\nmode: full\ncolumns: []\n"
    )
    monkeypatch.setenv("GOVLAKE_PROJECT_DIR", str(tmp_path))
    with pytest.raises(config.ConfigError, match="bad_src.yaml"):
        config.extract_schemas()


def test_a_source_without_catalogue_entry_is_refused(tmp_path, monkeypatch):
    (tmp_path / "schemas" / "extracts").mkdir(parents=True)
    (tmp_path / "conf" / "catalog").mkdir(parents=True)
    (tmp_path / "schemas" / "extracts" / "lonely.yaml").write_text(
        "source_id: lonely\nformat: csv\nmode: full\ncolumns:\n  - {header: A, column: a}\n"
    )
    monkeypatch.setenv("GOVLAKE_PROJECT_DIR", str(tmp_path))
    with pytest.raises(config.ConfigError, match="lonely"):
        config.extract_schemas()


SETTINGS_FILES = {
    "authority.yaml": "authority",
    "references.yaml": "references",
    "quality.yaml": "quality",
    "curated.yaml": "curated",
    "orchestration.yaml": "orchestration",
    "maintenance.yaml": "maintenance",
}


@pytest.mark.parametrize("name", sorted(SETTINGS_FILES))
def test_every_settings_file_loads_and_refuses_an_unknown_key(name):
    """conf/*.yaml load into frozen models; a key no model knows names the file and the key."""
    from jobs.platform import settings

    loaded = getattr(settings, SETTINGS_FILES[name])()
    with pytest.raises(Exception, match="frozen"):
        loaded.__setattr__(next(iter(type(loaded).model_fields)), None)
    data = {**config.conf_file(name), "surplus_setting": 1}
    with pytest.raises(config.ConfigError) as e:
        settings.validated(type(loaded), data, where=f"conf/{name}")
    assert f"conf/{name}: surplus_setting: Extra inputs are not permitted" in str(e.value)


def test_a_nested_settings_error_names_the_path_to_the_key():
    from jobs.platform import settings

    data = config.conf_file("authority.yaml")
    bad = {**data, "probabilistic": {**data["probabilistic"], "threshold": "high"}}
    with pytest.raises(config.ConfigError, match=r"conf/authority.yaml: probabilistic.threshold:"):
        settings.validated(settings.AuthoritySettings, bad, where="conf/authority.yaml")


def test_code_tables_are_settings_not_code():
    from jobs.platform import settings

    codes = settings.codes()
    assert codes.marital_category["22"] == "married"
    assert codes.table("tax_status")["07"] == "cancelled"
    with pytest.raises(config.ConfigError, match="no code table 'nothing'"):
        codes.table("nothing")


def test_one_definition_of_when_a_source_is_expected():
    """The DAGs' sensors and the quality stage's timeliness both ask CatalogEntry.expects."""
    import datetime as dt

    entry = next(iter(config.catalog().values()))
    monday, tuesday, first = dt.date(2026, 11, 2), dt.date(2026, 11, 3), dt.date(2026, 12, 1)
    weekly = entry.model_copy(update={"update_cycle": "weekly"})
    monthly = entry.model_copy(update={"update_cycle": "monthly"})
    assert entry.model_copy(update={"update_cycle": "daily"}).expects(tuesday)
    assert weekly.expects(monday) and not weekly.expects(tuesday)
    assert monthly.expects(first) and not monthly.expects(monday)
