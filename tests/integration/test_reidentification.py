"""No re-identification below clearance (GB/T 37964): the rebuild attack on every uncleared role.

An ID number is its 6-digit division, its 8-digit birth date and 4 last characters. Under the old
policy an analyst read the division and the last four in the masked ID and the birth date in
clear, and rebuilt every ID number. The attack here takes every value an uncleared role can read
from every table it may read (nested fields too) and tries every way of putting an ID number
back together from one row: whole ID numbers anywhere in a value, partial masks, and division +
date + any four-character suffix seen in the same row. It must find nothing; the same attack
against the old mask finds nearly everyone, so it can fail.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path

import pytest

from jobs.platform.delta import read_table
from jobs.serving.sql.guard import Denied
from jobs.serving.sql.session import SqlSession

ID = re.compile(r"\d{17}[\dX]|\d{15}")
DIVISION = re.compile(r"(?<!\d)\d{6}(?!\d)")
DATE_TEXT = re.compile(r"(?<!\d)(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?!\d)")
SUFFIX = re.compile(r"(?<![\dX])\d{3}[\dX](?![\dX])")
PARTIAL_MASK = re.compile(r"\d{6}\*+[\dX]{4}")
PSEUDONYM = re.compile(r"P[0-9A-F]{23}")


def _identifiers(lake: Path) -> set[str]:
    """Every ID number the lake holds: persons, links, licence holders, representatives."""
    ids: set[str] = set()
    for table, columns in (
        ("silver/person", ["person_id"]),
        ("silver/person_link", ["person_id", "id_delivered"]),
        ("silver/legal_person", ["legal_rep_id"]),
    ):
        data = read_table(lake / table)
        for column in columns:
            ids |= {v for v in data[column].to_pylist() if v and ID.fullmatch(v)}
    licences = read_table(lake / "silver" / "licence").to_pylist()
    ids |= {r["holder_code"] for r in licences if r["holder_kind"] == "person" and r["holder_code"]}
    return ids


def _contexts(value, out: list[list]) -> list:
    """The scalar values of ``value``; each struct (a row, a household member…) is a context of
    its own, as well as part of its parent's."""
    if isinstance(value, dict):
        mine: list = []
        for v in value.values():
            mine.extend(_contexts(v, out))
        out.append(mine)
        return mine
    if isinstance(value, list):
        flat: list = []
        for v in value:
            flat.extend(_contexts(v, out))
        return flat
    return [value]


def attack(rows: list[dict], ids: set[str]) -> dict[str, set[str]]:
    """The ID numbers recovered from ``rows``, by the way they were recovered."""
    found: dict[str, set[str]] = {"whole": set(), "partial_mask": set(), "rebuilt": set()}
    for row in rows:
        contexts: list[list] = []
        _contexts(row, contexts)
        for values in contexts:
            texts = [v for v in values if isinstance(v, str)]
            divisions, dates, suffixes = set(), set(), set()
            for text in texts:
                found["whole"] |= {m.group(0) for m in ID.finditer(text) if m.group(0) in ids}
                if PARTIAL_MASK.search(text):
                    found["partial_mask"].add(text)
                # a pseudonym's hex digits are a keyed hash, independent of the identifier: digit
                # runs in it carry nothing to rebuild from (and would match real IDs by chance)
                text = PSEUDONYM.sub(" ", text)
                divisions |= set(DIVISION.findall(text))
                dates |= {m.group(0) for m in DATE_TEXT.finditer(text)}
                suffixes |= set(SUFFIX.findall(text.replace("*", " ")))
            dates |= {v.strftime("%Y%m%d") for v in values if isinstance(v, dt.date)}
            for d, b, s in itertools.product(divisions, dates, suffixes):
                if d + b + s in ids:
                    found["rebuilt"].add(d + b + s)
    return found


def _rows_of(session: SqlSession) -> list[dict]:
    rows: list[dict] = []
    for table in session.tables():
        rows.extend(session.arrow(f"SELECT * FROM {table}").to_pylist())
    return rows


def _division(lake: Path) -> str:
    codes = [c for c in read_table(lake / "silver" / "person")["region_code"].to_pylist() if c]
    return max(set(codes), key=codes.count)


@pytest.mark.parametrize("role", ["city_analyst", "district_analyst"])
def test_no_identifier_can_be_rebuilt_by_an_uncleared_role(sql_lake, role):
    ids = _identifiers(sql_lake)
    assert len(ids) > 1000
    division = _division(sql_lake) if role == "district_analyst" else None
    with SqlSession(sql_lake, role=role, division=division, user="attacker") as s:
        assert not s.grant.in_clear("L3")
        rows = _rows_of(s)
        # the pseudonym function is no oracle: guessed ID numbers cannot be pseudonymised
        for call in ("gl_mask_pseudonym('130902199001011234')", "getvariable('gl_ipad')"):
            with pytest.raises(Denied):
                s.query(f"SELECT {call}")
    assert len(rows) > 1000
    assert attack(rows, ids) == {"whole": set(), "partial_mask": set(), "rebuilt": set()}


def test_the_attack_rebuilds_ids_under_the_old_partial_mask(sql_lake):
    """The attack is real: on what the old policy showed (division and last four kept, birth
    date in clear), it rebuilds nearly every person's ID number."""
    ids = _identifiers(sql_lake)
    with SqlSession(sql_lake, role="quality_officer", user="attack-check") as s:
        clear = s.arrow("SELECT person_id, birth_date, region_code FROM silver.person").to_pylist()
    old = [
        {
            "person_id": r["person_id"][:6] + "*" * 8 + r["person_id"][-4:],
            "birth_date": r["birth_date"],
        }
        for r in clear
        if r["person_id"] and len(r["person_id"]) == 18
    ]
    rebuilt = attack(old, ids)["rebuilt"]
    assert len(rebuilt) >= 0.9 * len(old)


def test_cleared_roles_read_identifiers_in_clear(sql_lake):
    """Nothing at or below a role's clearance is masked: the officer's rows hold ID numbers."""
    ids = _identifiers(sql_lake)
    with SqlSession(sql_lake, role="quality_officer", user="officer") as s:
        rows = s.arrow("SELECT * FROM gold.person_profile LIMIT 200").to_pylist()
    assert attack(rows, ids)["whole"]
