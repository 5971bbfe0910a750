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
