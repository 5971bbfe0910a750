"""Spark SQL and MySQL queries, rewritten by the guard, run on DuckDB and give what Spark or MySQL
would: the same values, and a value of the same kind (a DATE stays a DATE).

Each expected value is written by hand from the source dialect's documented semantics (the
comments cite them, and test_reference_examples runs the examples of the Spark SQL and MySQL
function references), not from what DuckDB returns. Each trap fixed in jobs/serving/sql/dialects.py has a
test here that fails if its fix is removed.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from tests.fixtures.sql.regenerate_rewrites import SCHEMAS, build_guard

D = dt.date
T = dt.datetime

# silver.person: chosen days. 2024 is a leap year; 2024-01-01 was a Monday.
PEOPLE = [
    # person_id, birth_date, name, registered_at
    ("p1", D(2024, 1, 31), "Ann", T(2024, 1, 31, 13, 45, 10)),  # Wednesday, end of January
    ("p2", D(2024, 3, 3), "Bob", T(2024, 3, 3, 0, 0, 0)),  # Sunday
    ("p3", D(2024, 3, 2), "Cid", T(2024, 3, 2, 23, 59, 59)),  # Saturday
    ("p4", D(2023, 12, 31), None, T(2023, 12, 31, 8, 0, 0)),  # Sunday, end of a year
    ("p5", D(2024, 2, 29), "Eve", T(2024, 2, 29, 12, 0, 0)),  # Thursday, leap day
]
IDS = [p[0] for p in PEOPLE]


@pytest.fixture(scope="module")
def guard():
    return build_guard()


@pytest.fixture(scope="module")
def con():
    """silver.person as PEOPLE, with the column types the guard is told (SCHEMAS)."""
    columns = SCHEMAS["silver.person"]
    with duckdb.connect() as con:
        con.execute("CREATE SCHEMA silver")
        con.execute(
            "CREATE TABLE silver.person ("
            + ", ".join(f"{name} {kind}" for name, kind in columns.items())
            + ")"
        )
        con.executemany(
            f"INSERT INTO silver.person ({', '.join(columns)}) VALUES (?, ?, ?, ?)",
            PEOPLE,
        )
        yield con


def _kind(duckdb_type: object) -> str:
    """A result column's kind, as Spark and MySQL types compare with DuckDB's."""
    name = str(duckdb_type)
    if name in {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}:
        return "int"  # Spark INT / BIGINT, MySQL INT / BIGINT
    if name in {"FLOAT", "DOUBLE"}:
        return "double"
    return {
        "DATE": "date",
        "TIMESTAMP": "timestamp",  # Spark TIMESTAMP(_NTZ), MySQL DATETIME
        "VARCHAR": "string",
    }.get(name, name)


def run(con, guard, sql: str, dialect: str) -> tuple[list[str], list[tuple]]:
    """The kinds of the result's columns and its rows, for ``sql`` as the guard runs it."""
    cursor = con.execute(guard.check(sql, dialect).executed_sql)
    return [_kind(d[1]) for d in cursor.description], cursor.fetchall()


def by_person(*columns: list) -> list[tuple]:
    """Expected rows (person_id, *values), one column per list, in PEOPLE's order."""
    return [(pid, *values) for pid, *values in zip(IDS, *columns, strict=True)]


# -- trunc and date_trunc ----------------------------------------------------------------------


def test_spark_trunc_is_a_date_of_the_first_day_of_the_month_or_year(con, guard):
    # Spark: trunc(date, fmt) returns a DATE truncated to the unit of the format: 'YEAR', 'YYYY',
    # 'YY' (year), 'QUARTER', 'MONTH', 'MM', 'MON' (month), 'WEEK' (Monday); a timestamp is cast
    # to a date first. DuckDB's date_trunc rejects 'MM' and returns a TIMESTAMP.
    kinds, rows = run(
        con,
        guard,
        "SELECT person_id, trunc(birth_date, 'MM'), trunc(birth_date, 'YEAR'),"
        " trunc(registered_at, 'mon'), trunc(birth_date, 'yy'), trunc(birth_date, 'QUARTER')"
        " FROM person ORDER BY person_id",
        "spark",
    )
    assert kinds == ["string", "date", "date", "date", "date", "date"]
    assert rows == by_person(
        [D(2024, 1, 1), D(2024, 3, 1), D(2024, 3, 1), D(2023, 12, 1), D(2024, 2, 1)],
        [D(2024, 1, 1), D(2024, 1, 1), D(2024, 1, 1), D(2023, 1, 1), D(2024, 1, 1)],
        [D(2024, 1, 1), D(2024, 3, 1), D(2024, 3, 1), D(2023, 12, 1), D(2024, 2, 1)],
        [D(2024, 1, 1), D(2024, 1, 1), D(2024, 1, 1), D(2023, 1, 1), D(2024, 1, 1)],
        [D(2024, 1, 1), D(2024, 1, 1), D(2024, 1, 1), D(2023, 10, 1), D(2024, 1, 1)],
    )


def test_spark_date_trunc_is_a_timestamp(con, guard):
    # Spark: date_trunc(fmt, ts) returns a TIMESTAMP truncated to the unit of the format
    # ('MM' month, 'DD' day, 'HOUR'...), also for a DATE argument.
    kinds, rows = run(
        con,
        guard,
        "SELECT person_id, date_trunc('MM', registered_at), date_trunc('DD', registered_at),"
        " date_trunc('HOUR', registered_at), date_trunc('YEAR', birth_date)"
        " FROM person ORDER BY person_id",
        "spark",
    )
    assert kinds == ["string", "timestamp", "timestamp", "timestamp", "timestamp"]
    assert rows == by_person(
        [T(2024, 1, 1), T(2024, 3, 1), T(2024, 3, 1), T(2023, 12, 1), T(2024, 2, 1)],
        [T(2024, 1, 31), T(2024, 3, 3), T(2024, 3, 2), T(2023, 12, 31), T(2024, 2, 29)],
        [
            T(2024, 1, 31, 13),
            T(2024, 3, 3),
            T(2024, 3, 2, 23),
            T(2023, 12, 31, 8),
            T(2024, 2, 29, 12),
        ],
        [T(2024, 1, 1), T(2024, 1, 1), T(2024, 1, 1), T(2023, 1, 1), T(2024, 1, 1)],
    )


# -- days of the week ----------------------------------------------------------------------------


def test_spark_days_of_the_week(con, guard):
    # Spark: dayofweek(d), extract(DOW FROM d) and date_part('dow', d) are 1 = Sunday … 7 =
    # Saturday; weekday(d) is 0 = Monday … 6 = Sunday; extract(DOW_ISO FROM d) 1 = Monday … 7.
    kinds, rows = run(
        con,
        guard,
        "SELECT person_id, dayofweek(birth_date), dayofweek(registered_at), weekday(birth_date),"
        " extract(DOW FROM birth_date), date_part('dow', birth_date),"
        " extract(DOW_ISO FROM birth_date) FROM person ORDER BY person_id",
        "spark",
    )
    assert kinds == ["string"] + ["int"] * 6
    #                    Wed Sun Sat Sun Thu
    assert rows == by_person(
        [4, 1, 7, 1, 5],
        [4, 1, 7, 1, 5],
        [2, 6, 5, 6, 3],
        [4, 1, 7, 1, 5],
        [4, 1, 7, 1, 5],
        [3, 7, 6, 7, 4],
    )


def test_mysql_days_and_weeks(con, guard):
    # MySQL: DAYOFWEEK(d) is 1 = Sunday … 7 = Saturday; WEEKDAY(d) is 0 = Monday … 6 = Sunday;
    # WEEK(d) uses default_week_format 0: weeks begin on Sunday, week 1 holds the year's first
    # Sunday and the days before it are week 0; WEEK(d, 3) is the ISO week; YEARWEEK(d) is the
    # year and week (mode 0, the days before the first Sunday in the previous year's last week).
    kinds, rows = run(
        con,
        guard,
        "SELECT person_id, DAYOFWEEK(birth_date), WEEKDAY(birth_date), WEEK(birth_date),"
        " WEEK(birth_date, 0), WEEK(birth_date, 3), YEARWEEK(birth_date)"
        " FROM person ORDER BY person_id",
        "mysql",
    )
    assert kinds == ["string"] + ["int"] * 6
    # The Sundays of 2024: Jan 7 (week 1), 14, 21, 28 (week 4), Feb 4 ... Feb 25 (week 8),
    # Mar 3 (week 9). 2023 began on a Sunday, so Sunday Dec 31 2023 begins its week 53 (its ISO
    # week is 52).
    assert rows == by_person(
        [4, 1, 7, 1, 5],
        [2, 6, 5, 6, 3],
        [4, 9, 8, 53, 8],
        [4, 9, 8, 53, 8],
        [5, 9, 9, 52, 9],
        [202404, 202409, 202408, 202353, 202408],
    )


def test_duckdb_queries_keep_duckdb_meanings(con, guard):
    # A DuckDB query is not rewritten: DuckDB's dayofweek is 0 = Sunday … 6.
    assert run(
        con, guard, "SELECT dayofweek(birth_date) FROM person ORDER BY person_id", "duckdb"
    ) == (
        ["int"],
        [(3,), (0,), (6,), (0,), (4,)],
    )


# -- date arithmetic -------------------------------------------------------------------------------


def test_spark_date_add_date_sub_add_months_are_dates(con, guard):
    # Spark: date_add(d, n), date_sub(d, n) and add_months(d, n) return a DATE (a timestamp is
    # cast to a date first). add_months keeps the day of the month, or the month's last day if
    # that is smaller (since Spark 3.0 it does not move a month end to the next month end).
    kinds, rows = run(
        con,
        guard,
        "SELECT person_id, date_add(birth_date, 1), date_sub(birth_date, 1),"
        " date_add(registered_at, 1), add_months(birth_date, 1) FROM person ORDER BY person_id",
        "spark",
    )
    assert kinds == ["string", "date", "date", "date", "date"]
    assert rows == by_person(
        [D(2024, 2, 1), D(2024, 3, 4), D(2024, 3, 3), D(2024, 1, 1), D(2024, 3, 1)],
        [D(2024, 1, 30), D(2024, 3, 2), D(2024, 3, 1), D(2023, 12, 30), D(2024, 2, 28)],
        [D(2024, 2, 1), D(2024, 3, 4), D(2024, 3, 3), D(2024, 1, 1), D(2024, 3, 1)],
        [D(2024, 2, 29), D(2024, 4, 3), D(2024, 4, 2), D(2024, 1, 31), D(2024, 3, 29)],
    )


def test_mysql_date_add_a_month_to_january_31_is_february_29(con, guard):
    # MySQL: DATE_ADD / DATE_SUB / TIMESTAMPADD on a DATE with YEAR, MONTH or DAY parts only
    # return a DATE; a day past the new month's end becomes its last day (Jan 31 + 1 month in a
    # leap year: Feb 29; Feb 29 + 1 year: Feb 28).
    kinds, rows = run(
        con,
        guard,
        "SELECT person_id, DATE_ADD(birth_date, INTERVAL 1 MONTH),"
        " DATE_SUB(birth_date, INTERVAL 1 DAY), DATE_ADD(birth_date, INTERVAL 1 YEAR),"
        " TIMESTAMPADD(MONTH, 1, birth_date) FROM person ORDER BY person_id",
        "mysql",
    )
    assert kinds == ["string", "date", "date", "date", "date"]
    assert rows == by_person(
        [D(2024, 2, 29), D(2024, 4, 3), D(2024, 4, 2), D(2024, 1, 31), D(2024, 3, 29)],
        [D(2024, 1, 30), D(2024, 3, 2), D(2024, 3, 1), D(2023, 12, 30), D(2024, 2, 28)],
        [D(2025, 1, 31), D(2025, 3, 3), D(2025, 3, 2), D(2024, 12, 31), D(2025, 2, 28)],
        [D(2024, 2, 29), D(2024, 4, 3), D(2024, 4, 2), D(2024, 1, 31), D(2024, 3, 29)],
    )


@pytest.mark.parametrize(
    "dialect, days", [("spark", "INTERVAL 2 DAYS"), ("mysql", "INTERVAL 2 DAY")]
)
def test_a_chain_of_intervals_is_applied_one_unit_at_a_time(con, guard, dialect, days):
    # Spark and MySQL: d + INTERVAL 1 MONTH is a DATE, and + INTERVAL 2 DAY is added to that
    # DATE (left to right): Jan 31 → Feb 29 → Mar 2. In the other order the days come first:
    # Feb 29 + 2 days = Mar 2, + 1 month = Apr 2 (not Mar 29 + 2 days).
    kinds, rows = run(
        con,
        guard,
        f"SELECT person_id, birth_date + INTERVAL 1 MONTH + {days},"
        f" birth_date + {days} + INTERVAL 1 MONTH FROM person ORDER BY person_id",
        dialect,
    )
    assert kinds == ["string", "date", "date"]
    assert rows == by_person(
        [D(2024, 3, 2), D(2024, 4, 5), D(2024, 4, 4), D(2024, 2, 2), D(2024, 3, 31)],
        [D(2024, 3, 2), D(2024, 4, 5), D(2024, 4, 4), D(2024, 2, 2), D(2024, 4, 2)],
    )


@pytest.mark.parametrize("dialect", ["spark", "mysql"])
def test_a_month_and_a_day_interval_in_different_select_items(con, guard, dialect):
    # Each item is a DATE of its own: d + 1 month, d - 2 days.
    kinds, rows = run(
        con,
        guard,
        "SELECT person_id, birth_date + INTERVAL 1 MONTH AS next_month,"
        " birth_date - INTERVAL 2 DAY AS two_days_before FROM person ORDER BY person_id",
        dialect,
    )
    assert kinds == ["string", "date", "date"]
    assert rows == by_person(
        [D(2024, 2, 29), D(2024, 4, 3), D(2024, 4, 2), D(2024, 1, 31), D(2024, 3, 29)],
        [D(2024, 1, 29), D(2024, 3, 1), D(2024, 2, 29), D(2023, 12, 29), D(2024, 2, 27)],
    )


def test_spark_multi_unit_interval(con, guard):
    # Spark: INTERVAL 1 MONTH 2 DAYS is one interval; d + it adds the months, then the days,
    # and d - it subtracts both (Jan 31 - 1 month = Dec 31, - 2 days = Dec 29). A DATE.
    # sqlglot writes d - INTERVAL '1' MONTH + INTERVAL '2' DAYS, which adds the days.
    kinds, rows = run(
        con,
        guard,
        "SELECT person_id, birth_date + INTERVAL 1 MONTH 2 DAYS,"
        " birth_date - INTERVAL 1 MONTH 2 DAYS FROM person ORDER BY person_id",
        "spark",
    )
    assert kinds == ["string", "date", "date"]
    assert rows == by_person(
        [D(2024, 3, 2), D(2024, 4, 5), D(2024, 4, 4), D(2024, 2, 2), D(2024, 3, 31)],
        [D(2023, 12, 29), D(2024, 2, 1), D(2024, 1, 31), D(2023, 11, 28), D(2024, 1, 27)],
    )


def test_an_interval_in_hours_on_a_date_is_a_timestamp(con, guard):
    # Spark: DATE + a day-time interval (hours) is a TIMESTAMP. MySQL: "if the date argument is
    # a DATE value and your calculations involve only YEAR, MONTH, and DAY parts, the result is
    # a DATE value. Otherwise, the result is a DATETIME value."
    where = " FROM person WHERE person_id = 'p1'"
    assert run(con, guard, "SELECT birth_date + INTERVAL 3 HOURS" + where, "spark") == (
        ["timestamp"],
        [(T(2024, 1, 31, 3),)],
    )
    assert run(
        con,
        guard,
        "SELECT birth_date + INTERVAL 3 HOUR, DATE_ADD(birth_date, INTERVAL 90 MINUTE)" + where,
        "mysql",
    ) == (["timestamp", "timestamp"], [(T(2024, 1, 31, 3), T(2024, 1, 31, 1, 30))])


def test_mysql_interval_before_the_date(con, guard):
    # MySQL: "INTERVAL expr unit is permitted on either side of the + operator if the
    # expression on the other side is a date or datetime value."
    assert run(
        con, guard, "SELECT INTERVAL 1 DAY + birth_date FROM person ORDER BY person_id", "mysql"
    ) == (
        ["date"],
        [(D(2024, 2, 1),), (D(2024, 3, 4),), (D(2024, 3, 3),), (D(2024, 1, 1),), (D(2024, 3, 1),)],
    )


# -- differences between dates -------------------------------------------------------------------


def test_spark_and_mysql_datediff_count_days(con, guard):
    # Spark: datediff(end, start) is the number of days from start to end (a timestamp counts
    # by its date). MySQL: DATEDIFF(expr1, expr2) is expr1 − expr2 in days, date parts only.
    expected = by_person(
        [30, 62, 61, -1, 59],
        [-30, -62, -61, 1, -59],
        [0, 32, 31, -31, 29],
    )
    kinds, rows = run(
        con,
        guard,
        "SELECT person_id, datediff(birth_date, '2024-01-01'), datediff('2024-01-01', birth_date),"
        " datediff(registered_at, '2024-01-31 23:59:59') FROM person ORDER BY person_id",
        "spark",
    )
    assert (kinds, rows) == (["string", "int", "int", "int"], expected)
    kinds, rows = run(
        con,
        guard,
        "SELECT person_id, DATEDIFF(birth_date, '2024-01-01'), DATEDIFF('2024-01-01', birth_date),"
        " DATEDIFF(registered_at, '2024-01-31 23:59:59') FROM person ORDER BY person_id",
        "mysql",
    )
    assert (kinds, rows) == (["string", "int", "int", "int"], expected)


def test_spark_months_between(con, guard):
    # Spark: months_between(t1, t2) is a DOUBLE: the whole months if both days of the month are
    # equal or both are the last day of their month; else the months between plus the
    # difference of the day and time of the month in seconds over 31 days; rounded to 8 digits
    # unless roundOff is false.
    kinds, rows = run(
        con,
        guard,
        "SELECT person_id, months_between(birth_date, '2024-01-31'),"
        " months_between(registered_at, '2024-01-15 12:00:00'),"
        " months_between(birth_date, '2024-01-31', false) FROM person ORDER BY person_id",
        "spark",
    )
    assert kinds == ["string", "double", "double", "double"]
    day = 86400
    month = 31 * day
    expected = by_person(
        [0.0, round(2 - 28 / 31, 8), round(2 - 29 / 31, 8), -1.0, 1.0],  # Dec 31, Feb 29: ends
        [
            round(((31 - 15) * day + 6310) / month, 8),  # 13:45:10 is 12:00 + 6310 s
            round(2 + ((3 - 15) * day - 43200) / month, 8),
            round(2 + ((2 - 15) * day + 43199) / month, 8),
            round(-1 + ((31 - 15) * day - 14400) / month, 8),
            round(1 + (29 - 15) * day / month, 8),
        ],
        [0.0, 2 - 28 / 31, 2 - 29 / 31, -1.0, 1.0],
    )
    assert [row[0] for row in rows] == IDS
    # to the last digit: an unrounded value is 1e-9 away
    assert [row[1:] for row in rows] == [
        pytest.approx(row[1:], rel=0, abs=1e-12) for row in expected
    ]


def test_timestampdiff_counts_whole_units(con, guard):
    # MySQL: TIMESTAMPDIFF(unit, a, b) is the whole number of units from a to b: months less one
    # when b's day (and time) of the month is before a's, years = months / 12, days = elapsed
    # days. Spark: timestampdiff(unit, a, b) (and datediff(unit, a, b)) the same, truncated.
    expected = by_person(
        [0, 1, 1, -1, 0],  # Jan 31 → Mar 3: 1 month (Feb 29 is before the 31st); → Feb 29: 0
        [23, 24, 23, 23, 23],  # 24 on 2024-03-03
        [31, 0, 0, 62, 2],  # 2024-01-31 13:45:10 → 2024-03-03: 31 days 10 hours
    )
    kinds, rows = run(
        con,
        guard,
        "SELECT person_id, TIMESTAMPDIFF(MONTH, '2024-01-31', birth_date),"
        " TIMESTAMPDIFF(YEAR, '2000-03-03', birth_date),"
        " TIMESTAMPDIFF(DAY, registered_at, '2024-03-03') FROM person ORDER BY person_id",
        "mysql",
    )
    assert (kinds, rows) == (["string", "int", "int", "int"], expected)
    kinds, rows = run(
        con,
        guard,
        "SELECT person_id, timestampdiff(MONTH, '2024-01-31', birth_date),"
        " datediff(YEAR, '2000-03-03', birth_date),"
        " timestampdiff(DAY, registered_at, '2024-03-03') FROM person ORDER BY person_id",
        "spark",
    )
    assert (kinds, rows) == (["string", "int", "int", "int"], expected)


@pytest.mark.parametrize("dialect", ["mysql", "spark"])
@pytest.mark.parametrize(
    "unit, start, end, expected",
    [
        ("YEAR", "2000-02-29", "2023-02-28", 22),  # born on a leap day: 23 on March 1st
        ("YEAR", "2000-02-29", "2023-03-01", 23),
        ("YEAR", "2000-02-29", "2024-02-29", 24),
        ("YEAR", "1960-02-29", "2024-02-28", 63),  # before 1970
        ("YEAR", "2024-02-28", "1960-02-29", -63),  # towards zero
        ("MONTH", "2024-01-31 12:00:00", "2024-02-29 12:00:00", 0),
        ("MONTH", "2024-01-15 12:00:00", "2024-02-15 11:59:59", 0),  # a second short
        ("MONTH", "2024-01-15 12:00:00", "2024-02-15 12:00:00", 1),
        ("QUARTER", "2024-01-31", "2024-10-30", 2),  # 8 whole months
        ("WEEK", "2024-01-01", "2024-01-14", 1),  # 13 days
        ("HOUR", "2024-01-01 00:00:00", "2024-01-01 05:59:59", 5),
    ],
)
def test_an_age_in_whole_years(con, guard, dialect, unit, start, end, expected):
    sql = f"SELECT TIMESTAMPDIFF({unit}, '{start}', '{end}')"
    assert run(con, guard, sql, dialect) == (["int"], [(expected,)])


# -- other functions -----------------------------------------------------------------------------


def test_mysql_limit_offset_count(con, guard):
    # MySQL: LIMIT offset, row_count.
    assert run(
        con, guard, "SELECT person_id FROM person ORDER BY person_id LIMIT 1, 2", "mysql"
    ) == (["string"], [("p2",), ("p3",)])


def test_mysql_ifnull(con, guard):
    # MySQL: IFNULL(expr1, expr2) is expr1 if it is not NULL, else expr2.
    assert run(
        con,
        guard,
        "SELECT person_id, IFNULL(name, 'nobody') FROM person ORDER BY person_id",
        "mysql",
    ) == (["string", "string"], by_person(["Ann", "Bob", "Cid", "nobody", "Eve"]))


def test_substring_from_position_zero(con, guard):
    # Spark: substr(s, 0, n) starts at the first character, like position 1. MySQL: position 0
    # gives an empty string. (NULL stays NULL.) DuckDB starts before the first character.
    sql = "SELECT person_id, substr(name, 0, 2) FROM person ORDER BY person_id"
    assert run(con, guard, sql, "spark") == (
        ["string", "string"],
        by_person(["An", "Bo", "Ci", None, "Ev"]),
    )
    assert run(con, guard, sql, "mysql") == (
        ["string", "string"],
        by_person(["", "", "", None, ""]),
    )


# -- the functions' reference examples -------------------------------------------------------------

SPARK_DOCS = [
    ("trunc('2019-08-04', 'week')", "date", D(2019, 7, 29)),
    ("trunc('2019-08-04', 'quarter')", "date", D(2019, 7, 1)),
    ("trunc('2009-02-12', 'MM')", "date", D(2009, 2, 1)),
    ("trunc('2015-10-27', 'YEAR')", "date", D(2015, 1, 1)),
    ("date_trunc('YEAR', '2015-03-05T09:32:05.359')", "timestamp", T(2015, 1, 1)),
    ("date_trunc('MM', '2015-03-05T09:32:05.359')", "timestamp", T(2015, 3, 1)),
    ("date_trunc('DD', '2015-03-05T09:32:05.359')", "timestamp", T(2015, 3, 5)),
    ("date_trunc('HOUR', '2015-03-05T09:32:05.359')", "timestamp", T(2015, 3, 5, 9)),
    ("dayofweek('2009-07-30')", "int", 5),
    ("weekday('2009-07-30')", "int", 3),
    ("datediff('2009-07-31', '2009-07-30')", "int", 1),
    ("datediff('2009-07-30', '2009-07-31')", "int", -1),
    ("add_months('2016-08-31', 1)", "date", D(2016, 9, 30)),
    ("date_add('2016-07-30', 1)", "date", D(2016, 7, 31)),
    ("date_sub('2016-07-30', 1)", "date", D(2016, 7, 29)),
    ("months_between('1997-02-28 10:30:00', '1996-10-30')", "double", 3.94959677),
    ("months_between('1997-02-28 10:30:00', '1996-10-30', false)", "double", 3.9495967741935485),
    ("substr('Spark SQL', 5)", "string", "k SQL"),
    ("substr('Spark SQL', -3)", "string", "SQL"),
    ("substr('Spark SQL', 5, 1)", "string", "k"),
]
MYSQL_DOCS = [
    ("DAYOFWEEK('2007-02-03')", "int", 7),
    ("WEEKDAY('2008-02-03 22:23:00')", "int", 6),
    ("WEEKDAY('2007-11-06')", "int", 1),
    ("WEEK('2008-02-20')", "int", 7),
    ("WEEK('2008-02-20', 0)", "int", 7),
    ("YEARWEEK('1987-01-01')", "int", 198652),
    # MySQL answers a string holding the date for a string argument; a DATE here
    ("DATE_ADD('2018-05-01', INTERVAL 1 DAY)", "date", D(2018, 5, 2)),
    ("DATE_SUB('2018-05-01', INTERVAL 1 YEAR)", "date", D(2017, 5, 1)),
    ("DATE_ADD('2009-01-30', INTERVAL 1 MONTH)", "date", D(2009, 2, 28)),
    ("DATE_ADD('2020-12-31 23:59:59', INTERVAL 1 SECOND)", "timestamp", T(2021, 1, 1)),
    ("DATE_ADD('2018-12-31 23:59:59', INTERVAL 1 DAY)", "timestamp", T(2019, 1, 1, 23, 59, 59)),
    ("TIMESTAMPADD(MINUTE, 1, '2003-01-02')", "timestamp", T(2003, 1, 2, 0, 1)),
    ("TIMESTAMPADD(WEEK, 1, '2003-01-02')", "date", D(2003, 1, 9)),
    ("TIMESTAMPDIFF(MONTH, '2003-02-01', '2003-05-01')", "int", 3),
    ("TIMESTAMPDIFF(YEAR, '2002-05-01', '2001-01-01')", "int", -1),
    ("TIMESTAMPDIFF(MINUTE, '2003-02-01', '2003-05-01 12:05:55')", "int", 128885),
    ("DATEDIFF('2007-12-31 23:59:59', '2007-12-30')", "int", 1),
    ("DATEDIFF('2010-11-30 23:59:59', '2010-12-31')", "int", -31),
    ("IFNULL(1, 0)", "int", 1),
    ("IFNULL(NULL, 10)", "int", 10),
    ("SUBSTRING('Quadratically', 5)", "string", "ratically"),
    ("SUBSTRING('Sakila', -3)", "string", "ila"),
    ("SUBSTRING('Sakila', -5, 3)", "string", "aki"),
    ("SUBSTRING('Sakila' FROM -4 FOR 2)", "string", "ki"),
]


@pytest.mark.parametrize(
    "dialect, expr, kind, value",
    [("spark", *case) for case in SPARK_DOCS] + [("mysql", *case) for case in MYSQL_DOCS],
    ids=[f"spark: {c[0]}" for c in SPARK_DOCS] + [f"mysql: {c[0]}" for c in MYSQL_DOCS],
)
def test_reference_examples(con, guard, dialect, expr, kind, value):
    # The examples of the Spark SQL built-in functions reference and of the MySQL 8.0 reference
    # manual (Date and Time Functions, String Functions, Flow Control Functions).
    assert run(con, guard, f"SELECT {expr}", dialect) == ([kind], [(value,)])


# -- traps left alone: DuckDB fails the query rather than answering otherwise --------------------


@pytest.mark.parametrize(
    "dialect, sql",
    [
        # Spark's year-month interval literal: DuckDB has no YEAR TO MONTH
        ("spark", "SELECT birth_date + INTERVAL '1-2' YEAR TO MONTH FROM person"),
        # MySQL's week modes other than 0 and 3: DuckDB's week takes no mode
        ("mysql", "SELECT WEEK(birth_date, 1) FROM person"),
    ],
)
def test_untranslated_forms_fail_rather_than_differ(con, guard, dialect, sql):
    with pytest.raises(duckdb.Error):
        run(con, guard, sql, dialect)
