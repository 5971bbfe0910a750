"""一数一源's pick (jobs/pipeline/base/authority.py) against a per-claim reference: the best-ranked
source with a value, then the most votes, then the latest business date, then the smallest
value (by its bytes, as Spark orders text)."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from jobs.pipeline.base.authority import CLAIM_COLUMNS, pick, wide

ORDER = {
    "name": ["hjrk", "swzm", "sbcb"],
    "sex": ["hjrk", "id_number"],
    "address": ["hjrk"],
}
SOURCES = ["hjrk", "swzm", "sbcb", "id_number", "unranked"]
VALUES = [None, "", "a", "ab", "B", "b", "张三", "张", "\u0000x", "x\u0000", "9", "10", "ｘ"]
DATES = [
    dt.date(1, 1, 1),
    dt.date(1900, 1, 1),
    dt.date(1969, 12, 31),
    dt.date(1970, 1, 1),
    dt.date(2026, 11, 2),
    dt.date(2026, 11, 3),
    dt.date(9999, 12, 31),
]


def reference(claims: list[tuple]) -> set[tuple]:
    """(entity_id, attribute, value, source_id), claim by claim."""
    votes: dict[tuple, list] = defaultdict(lambda: [0, None])
    for entity, attribute, source, value, day in claims:
        if value is None or source not in ORDER.get(attribute, []):
            continue
        v = votes[(entity, attribute, source, value)]
        v[0] += 1
        v[1] = day if v[1] is None else max(v[1], day)
    best: dict[tuple, tuple] = {}
    for (entity, attribute, source, value), (n, latest) in votes.items():
        order = (ORDER[attribute].index(source), -n, -latest.toordinal(), value.encode())
        key = (entity, attribute)
        if key not in best or order < best[key][0]:
            best[key] = (order, value, source)
    return {(e, a, value, source) for (e, a), (_, value, source) in best.items()}


def frame(spark, claims: list[tuple]):
    return spark.createDataFrame(
        claims,
        "entity_id string, attribute string, source_id string, value string, _business_date date",
    ).select(*CLAIM_COLUMNS)


def picked(spark, claims: list[tuple]) -> set[tuple]:
    return {tuple(r) for r in pick(frame(spark, claims), ORDER).collect()}


def test_the_pick_follows_rank_then_votes_then_latest_then_the_smallest_value(spark):
    claims = [
        # the authority's value wins over more votes elsewhere
        ("p1", "name", "swzm", "李四", dt.date(2026, 11, 3)),
        ("p1", "name", "swzm", "李四", dt.date(2026, 11, 3)),
        ("p1", "name", "hjrk", "李三", dt.date(2026, 11, 2)),
        # no value from the authority: the next source
        ("p2", "name", "hjrk", None, dt.date(2026, 11, 3)),
        ("p2", "name", "sbcb", "王五", dt.date(2026, 11, 3)),
        # ten votes beat nine (the count is not compared as text)
        *[("p3", "name", "hjrk", "甲", dt.date(2026, 11, 2))] * 9,
        *[("p3", "name", "hjrk", "乙", dt.date(2026, 11, 2))] * 10,
        # same votes: the later date, across the epoch and the ends of the calendar
        ("p4", "name", "hjrk", "old", dt.date(1969, 12, 31)),
        ("p4", "name", "hjrk", "new", dt.date(1970, 1, 1)),
        ("p5", "name", "hjrk", "first", dt.date(1, 1, 1)),
        ("p5", "name", "hjrk", "last", dt.date(9999, 12, 31)),
        # same votes and date: the smallest value, by bytes; a NUL in a value is just a byte
        ("p6", "sex", "hjrk", "ab", dt.date(2026, 11, 2)),
        ("p6", "sex", "hjrk", "a", dt.date(2026, 11, 2)),
        ("p7", "address", "hjrk", "x\u0000b", dt.date(2026, 11, 2)),
        ("p7", "address", "hjrk", "x\u0000a", dt.date(2026, 11, 2)),
        ("p8", "address", "hjrk", "张", dt.date(2026, 11, 2)),
        ("p8", "address", "hjrk", "z", dt.date(2026, 11, 2)),
        # a source outside the attribute's list claims nothing
        ("p9", "sex", "swzm", "1", dt.date(2026, 11, 2)),
    ]
    got = picked(spark, claims)
    assert got == reference(claims)
    assert got == {
        ("p1", "name", "李三", "hjrk"),
        ("p2", "name", "王五", "sbcb"),
        ("p3", "name", "乙", "hjrk"),
        ("p4", "name", "new", "hjrk"),
        ("p5", "name", "last", "hjrk"),
        ("p6", "sex", "a", "hjrk"),
        ("p7", "address", "x\u0000a", "hjrk"),
        ("p8", "address", "z", "hjrk"),
    }


def test_the_pick_agrees_with_the_reference_on_random_claims(spark):
    rng = random.Random(36344)
    claims = [
        (
            f"p{rng.randrange(60)}",
            rng.choice(list(ORDER)),
            rng.choice(SOURCES),
            rng.choice(VALUES),
            rng.choice(DATES),
        )
        for _ in range(3000)
    ]
    assert picked(spark, claims) == reference(claims)


def test_wide_puts_each_pick_and_its_source_on_the_entitys_row(spark):
    claims = [
        ("p1", "name", "swzm", "李四", dt.date(2026, 11, 3)),
        ("p1", "sex", "id_number", "1", dt.date(2026, 11, 3)),
        ("p1", "address", "hjrk", "某路1号", dt.date(2026, 11, 3)),
    ]
    (row,) = wide(
        pick(frame(spark, claims), ORDER), list(ORDER), with_source=["name", "sex"]
    ).collect()
    assert row.asDict() == {
        "entity_id": "p1",
        "name": "李四",
        "name_source": "swzm",
        "sex": "1",
        "sex_source": "id_number",
        "address": "某路1号",
    }
