"""The SQL interface's mask macros and jobs/masking.py mask alike (reports and SQL agree)."""

from __future__ import annotations

import duckdb
import pytest

from jobs.masking import MASKERS
from jobs.sql.policy import MASK_MACROS
from jobs.sql.views import macro_sql

SAMPLES = [
    None,
    "",
    "张",
    "欧阳娜娜",
    "13812341234",
    "1234567",
    "130902199001011234",
    "13090219900101123X",
    "河北省沧州市运河区解放路12号",
    "短地址",
]


@pytest.mark.parametrize("kind", sorted(MASK_MACROS))
def test_sql_and_python_masks_agree(kind):
    con = duckdb.connect()
    for stmt in macro_sql():
        con.execute(stmt)
    for value in SAMPLES:
        (masked,) = con.execute(f"SELECT gl_mask_{kind}(?)", [value]).fetchone()
        assert masked == MASKERS[kind](value), (kind, value)


def test_documented_examples():
    assert MASKERS["id"]("13090219900101123X") == "130902********123X"
    assert MASKERS["name"]("张三") == "张*"
    assert MASKERS["phone"]("13812341234") == "138****1234"
    assert MASKERS["id"]("1234567") == "*******"  # too short to keep anything: starred whole
