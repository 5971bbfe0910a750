"""The one masking policy: its SQL and Python forms agree, and the masks have their shapes."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os

import duckdb
import pytest

from jobs.platform.policy import (
    MASKS,
    PseudonymKeyError,
    apply_mask,
    is_pseudonym,
    mask_address,
    mask_name,
    mask_phone,
    pseudonym,
    pseudonym_key,
)
from jobs.serving.sql.views import macro_sql

KEY = hashlib.sha256(b"test").digest()
STRINGS = [
    None,
    "",
    "张",
    "欧阳娜娜",
    "13812341234",
    "1234567",
    "130902199001011234",
    "13090219900101123X",
    "河北省沧州市运河区解放路12号",
    "河北省沧州市泊头市交通路5号",
    "北京市朝阳区建国路1号",
    "短地址",
    "O'Brien; DROP",
]
DATES = [None, dt.date(1990, 5, 23), dt.date(2000, 2, 29), dt.date(1950, 12, 31)]


@pytest.mark.parametrize("kind", sorted(MASKS))
def test_sql_and_python_masks_agree(kind, monkeypatch):
    monkeypatch.setenv("GOVLAKE_PSEUDONYM_KEY", KEY.hex())
    con = duckdb.connect()
    for stmt in macro_sql(pseudonym_key()):
        con.execute(stmt)
    samples = STRINGS if MASKS[kind].takes == "string" else DATES
    cast = "VARCHAR" if MASKS[kind].takes == "string" else "DATE"
    for value in samples:
        (masked,) = con.execute(f"SELECT gl_mask_{kind}(CAST(? AS {cast}))", [value]).fetchone()
        assert masked == apply_mask(kind, value), (kind, value)


def test_documented_examples():
    assert mask_name("张三") == "张*"
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("1234567") == "*******"  # too short to keep anything: starred whole
    assert mask_address("河北省沧州市运河区解放路12号") == "河北省沧州市运河区"
    assert mask_address("短地址") is None  # no county named: nothing shown
    assert apply_mask("month", dt.date(1990, 5, 23)) == dt.date(1990, 5, 1)
    assert apply_mask("year", dt.date(1990, 5, 23)) == dt.date(1990, 1, 1)
    assert apply_mask("hidden", "x") is None


def test_pseudonyms_are_keyed_hmacs_stable_and_distinct():
    a = pseudonym("130902199001011234", KEY)
    assert is_pseudonym(a)
    assert a == pseudonym("130902199001011234", KEY)  # stable: joins and counts still work
    assert a != pseudonym("130902199001011235", KEY)
    assert a != pseudonym("130902199001011234", hashlib.sha256(b"other").digest())
    digest = hmac.new(KEY, b"130902199001011234", hashlib.sha256).hexdigest()
    assert a == "P" + digest[:23].upper()
    # nothing of the identifier shows in its pseudonym
    assert "0902" not in a and "1234" not in a


def test_the_key_is_kept_outside_the_lake_and_private(tmp_path, monkeypatch):
    monkeypatch.delenv("GOVLAKE_PSEUDONYM_KEY", raising=False)
    lake = tmp_path / "lake"
    lake.mkdir()
    inside = lake / "key"
    inside.write_text("x" * 64)
    os.chmod(inside, 0o600)
    monkeypatch.setenv("GOVLAKE_PSEUDONYM_KEY_FILE", str(inside))
    with pytest.raises(PseudonymKeyError, match="outside the lake"):
        pseudonym_key(lake)
    loose = tmp_path / "loose.key"
    loose.write_text("y" * 64)
    os.chmod(loose, 0o644)
    monkeypatch.setenv("GOVLAKE_PSEUDONYM_KEY_FILE", str(loose))
    with pytest.raises(PseudonymKeyError, match="readable or writable by group or others"):
        pseudonym_key(lake)
    monkeypatch.setenv("GOVLAKE_PSEUDONYM_KEY_FILE", str(tmp_path / "missing.key"))
    with pytest.raises(
        PseudonymKeyError, match="no such pseudonym key file"
    ):  # a named file is never made up
        pseudonym_key(lake)


def test_a_fresh_deployment_makes_its_own_private_key(tmp_path, monkeypatch):
    monkeypatch.delenv("GOVLAKE_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("GOVLAKE_PSEUDONYM_KEY_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    key = pseudonym_key(tmp_path / "lake")
    made = tmp_path / "config" / "govlake" / "pseudonym.key"
    assert made.exists() and (made.stat().st_mode & 0o777) == 0o600
    assert pseudonym_key(tmp_path / "lake") == key and len(key) == 32
