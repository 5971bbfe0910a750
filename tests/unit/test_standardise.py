"""Standardisation expressions on real Sail, against python-stdnum and the standards' rules."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest
from pyspark.sql import functions as F
from stdnum.cn import ric, uscc

from jobs.pipeline import standardise as S
from samplecity.codes import make_ids, make_uscc


def values(spark, col_values, expr):
    df = spark.createDataFrame([(v,) for v in col_values], "v string")
    return [r[0] for r in df.select(expr(F.col("v")).alias("x")).collect()]


def test_id_check_character_agrees_with_stdnum(spark):
    r = random.Random(5)
    ids = list(
        make_ids(
            np.array([r.choice(["130902", "130984", "110105"]) for _ in range(300)]),
            np.array(
                [
                    f"{r.randint(1950, 2020)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}"
                    for _ in range(300)
                ]
            ),
            np.array([f"{r.randint(0, 999):03d}" for _ in range(300)]),
        )
    )
    bad = [x[:17] + ("0" if x[17] != "0" else "1") for x in ids[:100]]
    got = values(spark, ids + bad, lambda c: S.id_is_valid(S.id_normalise(c)))
    assert got == [True] * 300 + [False] * 100
    checks = values(spark, [x[:17] for x in ids[:50]], S.id_check_char)
    assert checks == [ric.calc_check_digit(x[:17] + "?") for x in ids[:50]]


def test_id_normalisation_trims_halfwidths_and_uppercases(spark):
    raw = [
        " 13090219390305235x ",
        "１３０９０２１９３９０３０５２３５Ｘ",
        "13090219390305235X\u3000",
        "130902 19390305235X",
    ]
    assert values(spark, raw, S.id_normalise) == ["13090219390305235X"] * 4
    assert values(spark, raw, lambda c: S.id_is_valid(S.id_normalise(c))) == [True] * 4


def test_impossible_birth_dates_and_future_births_are_invalid(spark):
    body = "13090220230230123"  # 30 February
    future = "13090220990101123"
    as_of = F.lit(dt.date(2026, 11, 2))
    got = values(
        spark,
        [body + ric.calc_check_digit(body + "?"), future + ric.calc_check_digit(future + "?")],
        lambda c: S.id_is_valid(c, as_of),
    )
    assert got == [False, False]


def test_legacy_15_digit_numbers_are_upgraded(spark):
    legacy = "130902390305235"  # 1939-03-05, sequence 235 → a man
    up = values(spark, [legacy, "13090239030523X"], S.id_upgrade_15)
    assert up[0] == "13090219390305235" + ric.calc_check_digit("13090219390305235?")
    assert up[1] is None
    assert values(spark, [up[0]], S.id_sex) == ["1"]
    assert values(spark, [up[0]], S.id_birth_date) == [dt.date(1939, 3, 5)]


def test_credit_codes_agree_with_stdnum_and_check_the_organisation_code(spark):
    r = random.Random(6)
    org8 = np.array(
        ["".join(r.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8)) for _ in range(200)]
    )
    codes = list(make_uscc(np.full(200, "91"), np.full(200, "130902"), org8))
    assert all(values(spark, codes, lambda c: S.uscc_is_valid(S.uscc_normalise(c))))
    wrong_last = [c[:17] + ("0" if c[17] != "0" else "1") for c in codes[:50]]
    assert not any(values(spark, wrong_last, S.uscc_is_valid))
    # a code whose MOD 31 character is right but whose organisation code check is wrong
    body = codes[0][:16] + ("1" if codes[0][16] != "1" else "2")
    forged = body + uscc.calc_check_digit(body)
    assert uscc.is_valid(forged)  # stdnum does not look at the GB 11714 part...
    assert values(spark, [forged], S.uscc_is_valid) == [False]  # ...we do
    assert values(
        spark,
        ["91130902MA0ABCDE6M", "9113090２MA0ABCDE6M ", "ABC", None],
        lambda c: S.uscc_is_valid(S.uscc_normalise(c)),
    ) == [True, True, False, False]


@pytest.mark.parametrize(
    "raw,fmts,expected",
    [
        ("20240229", ["%Y%m%d"], dt.date(2024, 2, 29)),
        ("20230229", ["%Y%m%d"], None),
        ("2023-13-45", ["%Y-%m-%d"], None),
        ("2019年3月7日", ["%Y-%m-%d", "%Y年%m月%d日"], dt.date(2019, 3, 7)),
        ("2019-03-07", ["%Y-%m-%d", "%Y年%m月%d日"], dt.date(2019, 3, 7)),
        ("N/A", ["%Y-%m-%d"], None),
        (" 2019-03-07 ", ["%Y-%m-%d"], dt.date(2019, 3, 7)),
        ("199003", ["%Y%m"], dt.date(1990, 3, 1)),
        ("0000-00-00", ["%Y-%m-%d"], None),
        ("", ["%Y-%m-%d"], None),
    ],
)
def test_dates_in_every_listed_format(spark, raw, fmts, expected):
    assert values(spark, [raw], lambda c: S.parse_date(c, fmts)) == [expected]


def test_timestamps_with_unpadded_parts(spark):
    got = values(
        spark,
        ["2024/3/5 8:07", "2024-03-05 18:07", "2024/13/5 8:07"],
        lambda c: S.parse_timestamp(c, ["%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M"]),
    )
    assert got == [dt.datetime(2024, 3, 5, 8, 7), dt.datetime(2024, 3, 5, 18, 7), None]


def test_code_tables_map_and_flag(spark):
    raw = ["1", " 2 ", "男", "5", None]
    assert values(spark, raw, lambda c: S.map_code(c, "sex")) == ["1", "2", None, None, None]
    assert values(spark, raw, lambda c: S.code_invalid(c, "sex")) == [
        False,
        False,
        True,
        True,
        False,
    ]
    assert values(
        spark,
        ["存续（在营、开业、在册）", "吊销", "注销", "迁出"],
        lambda c: S.map_code(c, "enterprise_status"),
    ) == ["active", "revoked", "cancelled", "moved_out"]
    assert values(spark, ["03", "07", "99"], lambda c: S.map_code(c, "tax_status")) == [
        "normal",
        "cancelled",
        None,
    ]


def test_names_lose_spaces_and_fullwidth_and_nothing_else(spark):
    raw = ["张 三", "张\u3000三", " 李四 ", "ＪＯＨＮ　ＳＭＩＴＨ", "欧阳·娜娜", "  "]
    assert values(spark, raw, S.clean_name) == [
        "张三",
        "张三",
        "李四",
        "JOHNSMITH",
        "欧阳·娜娜",
        None,
    ]


def test_garbage_never_raises(spark):
    """Delivered text is anything: the expressions return null/False, they do not fail."""
    raw = ["", "X", "abc", "１２", "2023-xx-01", "130902ABCDEFGHIJKL", None, "9" * 40]
    assert values(spark, raw, lambda c: S.id_is_valid(S.id_normalise(c))) == [False] * 8
    assert values(spark, raw, lambda c: S.uscc_is_valid(S.uscc_normalise(c))) == [False] * 8
    assert values(spark, raw, lambda c: S.parse_date(c, ["%Y-%m-%d", "%Y%m%d"])) == [None] * 8
    assert len(values(spark, raw, lambda c: S.id_upgrade_15(S.id_normalise(c)))) == 8
