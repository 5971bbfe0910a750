"""The vectorised identifier checks (jobs/pipeline/identifiers.py), evaluated in the engine as the
base libraries and the suites evaluate them, agree value for value with a per-value reference
(Python's date arithmetic, and the check characters tested against python-stdnum in
test_codes.py) on valid and hostile values."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest
from pyspark.sql import functions as F

from jobs.pipeline import standardise as S
from jobs.pipeline.check_digits import id_check_chars, org_check_chars, uscc_check_chars
from jobs.pipeline.identifiers import checked
from samplecity.codes import make_ids, make_uscc

HOSTILE = [None, "", " ", "\n", "null", "=1+1", "１１０１", "x" * 40, "\u200b", "中文"]


def _mutations(rng, values: list[str], alphabet: str) -> list[str]:
    out = []
    for v in values:
        i = int(rng.integers(0, len(v)))
        ch = alphabet[int(rng.integers(0, len(alphabet)))]
        out += [
            v[:i] + ch + v[i + 1 :],  # one character changed (often a wrong check character)
            v[:-1],  # too short
            v + "0",  # too long
            v + "\n",  # a trailing line end: not the end of the value
            " " + v,  # padded
            v.lower(),
            v[:i] + "\uff11" + v[i + 1 :],  # a full-width digit
        ]
    return out


def _ids(rng) -> list[str]:
    dates = [
        "19900101", "20000229", "19960229", "19000228", "18900101", "20241231",  # real
        "19000229", "20230229", "19901301", "19900001", "19900100", "19900431",  # not real
        "18891231", "00000000", "99991231", "21000229",  # before 1890; far future; not leap
        "20240630", "20240701",  # the as-of date of the test, and the day after
    ]  # fmt: skip
    n = 200
    births = np.array([*dates, *rng.choice(dates, n - len(dates))])
    ids = make_ids(
        rng.choice(["130902", "110101", "999999"], n), births, np.char.zfill(
            rng.integers(0, 1000, n).astype(str), 3
        ),
    )  # fmt: skip
    ids = [str(v) for v in ids]
    bodies = np.array([v[:17] for v in ids])
    assert (np.array([v[17] for v in ids]) == id_check_chars(bodies)).all()
    return ids + _mutations(rng, ids[:60], "0123456789X") + HOSTILE


def _usccs(rng) -> list[str]:
    n = 200
    alphabet = np.array(list(S.USCC_ALPHABET))
    org8 = np.array(["".join(rng.choice(alphabet, 8)) for _ in range(n)])
    codes = make_uscc(rng.choice(["91", "92", "11", "Y1", "A2"], n), rng.choice(["130902", "110101"], n), org8)  # fmt: skip
    codes = [str(v) for v in codes]
    assert all(c[16] == org_check_chars(np.array([c[8:16]]))[0] for c in codes)
    assert all(c[17] == uscc_check_chars(np.array([c[:17]]))[0] for c in codes)
    # the organisation code's check character right, the credit code's wrong, and the reverse
    wrong_org = [c[:16] + ("0" if c[16] != "0" else "1") + c[17:] for c in codes[:30]]
    return codes + wrong_org + _mutations(rng, codes[:60], S.USCC_ALPHABET + "IOSVZ") + HOSTILE


def _id_ok(v, as_of: dt.date | None = None) -> bool:
    if v is None or not re.fullmatch(r"[0-9]{17}[0-9X]", v):
        return False
    try:
        birth = dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return False
    return (
        v[17] == id_check_chars(np.array([v[:17]]))[0]
        and birth >= dt.date(1890, 1, 1)
        and (as_of is None or birth <= as_of)
    )


def _uscc_ok(v) -> bool:
    if v is None or not re.fullmatch(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}", v):
        return False
    return (
        v[17] == uscc_check_chars(np.array([v[:17]]))[0]
        and v[16] == org_check_chars(np.array([v[8:16]]))[0]
    )


AS_OF = dt.date(2024, 6, 30)


@pytest.mark.parametrize(
    ("name", "values", "column", "reference"),
    [
        ("id_number", _ids, S.id_is_valid, _id_ok),
        (
            "id_number as of a date",
            _ids,
            lambda c: S.id_is_valid(c, F.lit(AS_OF)),
            lambda v: _id_ok(v, AS_OF),
        ),
        ("uscc", _usccs, S.uscc_is_valid, _uscc_ok),
    ],
)
def test_vectorised_checks_agree_with_a_per_value_reference(spark, name, values, column, reference):
    data = values(np.random.default_rng(11))
    df = spark.createDataFrame([(v,) for v in data], "v string")
    got = [r[0] for r in df.select(column(F.col("v"))).collect()]
    want = [reference(v) for v in data]
    assert got == want, [(v, w, g) for v, w, g in zip(data, want, got, strict=True) if w != g]
    assert min(sum(want), len(want) - sum(want)) >= 15  # many valid values, and many invalid


def test_division_codes_are_those_of_the_table(spark):
    from jobs.pipeline.check_digits import division_codes

    codes = sorted(division_codes())
    data = codes[:50] + ["130900", "130901", "999999", "13090", "1309021", "130902 "] + HOSTILE
    df = spark.createDataFrame([(v,) for v in data], "v string")
    got = [r[0] for r in df.select(checked("division_code", F.col("v"))).collect()]
    assert got == [v in set(codes) for v in data]
