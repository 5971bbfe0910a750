"""The vectorised check algorithms agree with python-stdnum (the reference implementations)."""

import random

import numpy as np
from stdnum.cn import ric, uscc
from stdnum.iso7064 import mod_37_36

from samplecity.codes import (
    ALNUM36,
    CITY_COUNTIES,
    division_codes,
    id_check_chars,
    make_ids,
    make_uscc,
    mod_37_36_check_chars,
    org_check_chars,
)


def test_id_check_characters_match_stdnum():
    r = random.Random(1)
    bodies = [
        f"{r.choice(list(CITY_COUNTIES))}{r.randint(1930, 2020)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{r.randint(0, 999):03d}"
        for _ in range(2000)
    ]
    checks = id_check_chars(np.array(bodies))
    for b, c in zip(bodies, checks, strict=True):
        assert c == ric.calc_check_digit(b + "?")  # stdnum takes the full number


def test_generated_ids_are_valid_and_carry_birth_date():
    ids = make_ids(
        np.array(["130902", "130984"]), np.array(["19880229", "20011231"]), np.array(["001", "998"])
    )
    assert all(ric.is_valid(x) for x in ids)
    assert [ric.get_birth_date(x).isoformat() for x in ids] == ["1988-02-29", "2001-12-31"]


def test_credit_codes_match_stdnum_and_gb11714():
    r = random.Random(2)
    org8 = np.array(
        [
            "".join(r.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
            for _ in range(1000)
        ]
    )
    codes = make_uscc(np.full(1000, "91"), np.full(1000, "130902"), org8)
    assert all(uscc.is_valid(c) for c in codes)
    # GB 11714 example: organisation code 73224955-0? check by the standard's formula
    w = [3, 7, 9, 10, 5, 8, 4, 2]
    for body, check in zip(org8[:50], org_check_chars(org8[:50]), strict=True):
        c = 11 - sum(ALNUM36.index(ch) * wi for ch, wi in zip(body, w, strict=True)) % 11
        assert check == {10: "X", 11: "0"}.get(c, str(c))


def test_mod_37_36_matches_stdnum():
    r = random.Random(3)
    xs = ["".join(r.choice(ALNUM36) for _ in range(50)) for _ in range(1000)]
    for x, c in zip(xs, mod_37_36_check_chars(np.array(xs), 50), strict=True):
        assert c == mod_37_36.calc_check_digit(x)
        assert mod_37_36.is_valid(x + c)


def test_mod_37_36_over_bytes_matches_stdnum():
    from jobs.pipeline.check_digits import mod_37_36_check_bytes

    r = random.Random(4)
    for width in (1, 23, 50):
        xs = ["".join(r.choice(ALNUM36) for _ in range(width)) for _ in range(500)]
        bodies = np.frombuffer("".join(xs).encode(), dtype=np.uint8).reshape(len(xs), width)
        for x, c in zip(xs, mod_37_36_check_bytes(bodies), strict=True):
            assert chr(c) == mod_37_36.calc_check_digit(x)


def test_division_codes_come_from_gbt2260_and_include_the_city():
    codes = division_codes()
    assert set(CITY_COUNTIES) <= set(codes)
    assert codes["130930"] == "孟村回族自治县"
    assert "130904" not in codes  # 郊区, abolished in 1997
    assert len(codes) > 2500
