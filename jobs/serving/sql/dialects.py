"""Spark SQL and MySQL written by analysts, run on DuckDB: sqlglot transpiles, these fix its traps.

sqlglot maps function names between dialects but not always their meaning. Each fix below is
a difference found by running the transpiled query on DuckDB next to what Spark or MySQL return
(tests/unit/test_sql_dialects.py checks each against the value the source dialect gives):

* ``trunc(d, 'MM')`` (Spark) keeps the format string, which DuckDB's ``date_trunc`` rejects, and
  returns a DATE where DuckDB returns a TIMESTAMP;
* ``dayofweek`` is 1 (Sunday) … 7 in Spark and MySQL, 0 … 6 in DuckDB; so are Spark's
  ``extract(DOW | DAYOFWEEK FROM d)`` and ``date_part('dow', d)``, and Spark's ``DOW_ISO``
  (1 = Monday) has no DuckDB name but ``ISODOW``;
* ``WEEKDAY`` (MySQL and Spark) is 0 (Monday) … 6; DuckDB's ``weekday`` counts from Sunday;
* ``WEEK(d)`` and ``YEARWEEK(d)`` (MySQL) count weeks from Sunday by default (mode 0), DuckDB's
  are ISO weeks; ``WEEK(d, 3)`` is the ISO week. Other modes are left to fail in DuckDB;
* a DATE plus or minus an interval of whole days, months or years is a DATE in Spark and MySQL
  (``date_add``, ``DATE_ADD``, ``TIMESTAMPADD`` in MySQL, Spark's ``add_months``,
  ``d + INTERVAL 1 MONTH + INTERVAL 2 DAY``, ``INTERVAL 1 DAY + d``, plural units such as
  ``INTERVAL 2 DAYS``), a TIMESTAMP in DuckDB. Each step is cast back to DATE, so a chain of
  mixed intervals is applied one unit at a time, as the source dialect does;
* a string shifted by an interval in MySQL is a DATE or a DATETIME by its shape; sqlglot casts
  it to DATE in ``DATE_ADD('2018-12-31 23:59:59', INTERVAL 1 DAY)`` (the time is lost) and not
  at all in ``'2024-01-31' + INTERVAL 1 DAY``;
* Spark's multi-unit interval ``d - INTERVAL 1 MONTH 2 DAYS`` becomes a sum of intervals that
  sqlglot writes without parentheses (``d - INTERVAL 1 MONTH + INTERVAL 2 DAYS``);
* ``TIMESTAMPDIFF(unit, a, b)`` (MySQL, and Spark's ``timestampdiff`` / 3-argument ``datediff``)
  counts whole units elapsed (an age in years), DuckDB's ``date_diff`` counts unit boundaries
  crossed; DuckDB's ``date_sub`` counts whole units but has its own end-of-month rule, so whole
  months are counted from the day and time of the month as MySQL and Spark do;
* ``months_between`` (Spark) counts a partial month by the time of day too, and rounds to 8
  digits; sqlglot's DuckDB form compares days only and does not round;
* ``substring(s, 0, n)``: position 0 is position 1 in Spark, an empty string in MySQL; DuckDB
  starts before the first character (one character fewer).

Where a fix builds a new call, a string literal argument is cast to TIMESTAMP, as Spark and MySQL
read it (DuckDB cannot choose between DATE and TIMESTAMP for ``ISODOW('2009-07-30')``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sqlglot
from sqlglot import exp

DIALECTS = ("duckdb", "spark", "mysql")

_UNITS = {
    "YEAR": "YEAR", "YYYY": "YEAR", "YY": "YEAR", "Y": "YEAR",
    "QUARTER": "QUARTER", "Q": "QUARTER",
    "MONTH": "MONTH", "MON": "MONTH", "MM": "MONTH",
    "WEEK": "WEEK", "WK": "WEEK", "WW": "WEEK",
    "DAY": "DAY", "DD": "DAY", "D": "DAY",
    "HOUR": "HOUR", "HH": "HOUR", "MINUTE": "MINUTE", "MI": "MINUTE", "SECOND": "SECOND",
}  # fmt: skip
_DATE_UNITS = {"DAY", "WEEK", "MONTH", "QUARTER", "YEAR"}
# units DuckDB's date_sub counts in whole units the way MySQL and Spark do
_TIME_UNITS = {"WEEK", "DAY", "HOUR", "MINUTE", "SECOND", "MILLISECOND", "MICROSECOND"}
_DOW = {"DOW", "DAYOFWEEK"}
_DOW_ISO = {"DOW_ISO", "DAYOFWEEK_ISO", "DAYOFWEEKISO"}
_DATE_LITERAL = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _template(sql: str) -> Callable[..., exp.Expression]:
    """A DuckDB expression with named holes (columns ``_a``, ``_b``...) to fill with trees."""
    tree = sqlglot.parse_one(sql, read="duckdb")

    def build(**args: exp.Expression) -> exp.Expression:
        def put(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column) and not node.table and node.name in args:
                return _operand(args[node.name].copy())
            return node

        return _operand(tree.copy().transform(put))

    return build


def _operand(node: exp.Expression) -> exp.Expression:
    # sqlglot writes a tree as it stands, without adding parentheses for precedence
    return exp.Paren(this=node) if isinstance(node, exp.Binary) else node


# whole months from _a to _b, MySQL's TIMESTAMPDIFF(MONTH, _a, _b): the months between, less one
# when _b's day and time of the month are before _a's (towards zero when _b is before _a)
_WHOLE_MONTHS = _template(
    "DATE_DIFF('month', _a, _b) - CASE"
    " WHEN DATE_DIFF('month', _a, _b) > 0 AND DATE_DIFF('microsecond', DATE_TRUNC('month', _b), _b)"
    "  < DATE_DIFF('microsecond', DATE_TRUNC('month', _a), _a) THEN 1"
    " WHEN DATE_DIFF('month', _a, _b) < 0 AND DATE_DIFF('microsecond', DATE_TRUNC('month', _b), _b)"
    "  > DATE_DIFF('microsecond', DATE_TRUNC('month', _a), _a) THEN -1"
    " ELSE 0 END"
)
# Spark's months_between(_a, _b): whole months if the days of the month match or both are the
# last day of their month; else the difference in seconds of the month over 31 days
_MONTHS_BETWEEN = _template(
    "DATE_DIFF('month', _b, _a) + CASE"
    " WHEN DAY(_a) = DAY(_b) OR (DAY(_a) = DAY(LAST_DAY(_a)) AND DAY(_b) = DAY(LAST_DAY(_b)))"
    " THEN 0 ELSE (DATE_DIFF('second', DATE_TRUNC('month', _a), _a)"
    " - DATE_DIFF('second', DATE_TRUNC('month', _b), _b)) / 2678400.0 END"
)
# MySQL WEEK(_d) in mode 0: week 1 begins on the year's first Sunday, the days before are week 0
_WEEK_MODE_0 = _template("(DAYOFYEAR(_d) + 6 - DAYOFWEEK(_d)) // 7")
# MySQL YEARWEEK(_d) in mode 0: the year and week of the Sunday that begins _d's week
_YEARWEEK_MODE_0 = _template(
    "YEAR(_d - CAST(DAYOFWEEK(_d) AS INTEGER)) * 100"
    " + (DAYOFYEAR(_d - CAST(DAYOFWEEK(_d) AS INTEGER)) + 6) // 7"
)


def fix_traps(
    tree: exp.Expression, dialect: str, *, tables: dict[str, dict[str, str]]
) -> exp.Expression:
    """Rewrite ``tree`` (parsed from ``dialect``) so DuckDB returns what the dialect would."""
    if dialect == "duckdb":
        return tree
    date_columns = _date_columns(tables)

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, (exp.DateTrunc, exp.TimestampTrunc)):
            return _trunc(node)
        if isinstance(node, exp.DayOfWeek):
            return _plus_one(node)
        if isinstance(node, exp.Extract) and dialect == "spark":
            return _extract(node)
        if isinstance(node, exp.Anonymous):
            return _anonymous(node, dialect)
        if isinstance(node, exp.Week) and dialect == "mysql":
            return _mysql_week(node)
        if isinstance(node, exp.MonthsBetween):
            return _months_between(node)
        if isinstance(node, (exp.TimestampDiff, exp.DateDiff)) and node.args.get("unit"):
            return _whole_units(node, dialect)
        if isinstance(node, exp.Substring):
            return _substring(node, dialect)
        if (
            isinstance(node, exp.Add)
            and _interval(node)
            and node.arg_key == "expression"
            and isinstance(node.parent, (exp.Add, exp.Sub))
        ):
            return exp.Paren(this=node)
        if dialect == "mysql":
            _type_date_strings(node)
        if _date_arithmetic(node, date_columns, dialect):
            return exp.Cast(this=node, to=exp.DataType.build("DATE"))
        return node

    # Children before parents, so a chain of intervals is cast at every step.
    for node in reversed(list(tree.walk(bfs=False))):
        parent, key, index = node.parent, node.arg_key, node.index
        new = fix(node)
        if new is node:
            continue
        if parent is None:
            tree = new
        else:
            parent.set(key, new, index)
    return tree


def _unit(unit: exp.Expression | None, plural: bool = True) -> str:
    """A unit's name, normalised (``'mm'`` → MONTH; ``DAYS`` → DAY, as intervals may say)."""
    name = unit.name.upper() if unit is not None else ""
    if plural and name.endswith("S") and name[:-1] in _UNITS.values():
        name = name[:-1]
    return _UNITS.get(name, name)


def _plus_one(node: exp.Expression) -> exp.Expression:
    return exp.Paren(this=exp.Add(this=node, expression=exp.Literal.number(1)))


def _iso_weekday(arg: exp.Expression) -> exp.Expression:
    """0 (Monday) … 6 (Sunday)."""
    return exp.Paren(
        this=exp.Sub(
            this=exp.Anonymous(this="ISODOW", expressions=[_timestamp(arg)]),
            expression=exp.Literal.number(1),
        )
    )


def _trunc(node: exp.Expression) -> exp.Expression:
    unit = node.args.get("unit")
    normal = _unit(unit, plural=False)  # Spark's formats have no plurals
    node.set("this", _timestamp(node.this))
    if isinstance(node, exp.DateTrunc) and isinstance(unit, exp.Literal):
        # Spark's trunc(date, fmt): a DATE
        node.set("unit", exp.Literal.string(normal))
        return exp.Cast(this=node, to=exp.DataType.build("DATE"))
    if unit is not None:
        node.set("unit", exp.Var(this=normal))
    return node


def _extract(node: exp.Extract) -> exp.Expression:
    """Spark's extract(DOW FROM d) is 1 (Sunday) … 7; DOW_ISO is 1 (Monday) … 7."""
    part = node.this.name.upper()
    node.set("expression", _timestamp(node.expression))
    if part in _DOW:
        return _plus_one(node)
    if part in _DOW_ISO:
        node.set("this", exp.Var(this="ISODOW"))
    return node


def _anonymous(node: exp.Anonymous, dialect: str) -> exp.Expression:
    name, args = node.name.upper(), node.expressions
    if name == "WEEKDAY" and len(args) == 1:
        return _iso_weekday(args[0])
    if name in ("DATE_PART", "DATEPART") and dialect == "spark" and len(args) == 2:
        part, arg = args[0], _timestamp(args[1])
        if isinstance(part, exp.Literal) and part.is_string:
            if part.name.upper() in _DOW:
                return _plus_one(exp.DayOfWeek(this=arg))
            if part.name.upper() in _DOW_ISO:
                return exp.Anonymous(this="ISODOW", expressions=[arg])
    if name == "YEARWEEK" and dialect == "mysql" and len(args) in (1, 2) and _mode(args[1:]) == 0:
        return _YEARWEEK_MODE_0(_d=exp.Cast(this=args[0], to=exp.DataType.build("DATE")))
    return node


def _mode(args: list[exp.Expression]) -> int | None:
    """MySQL's week mode: 0 when not given, None when not a literal number."""
    if not args:
        return 0
    if isinstance(args[0], exp.Literal) and args[0].is_int:
        return int(args[0].name)
    return None


def _mysql_week(node: exp.Week) -> exp.Expression:
    mode = _mode([node.args["mode"]] if node.args.get("mode") else [])
    if mode == 0:
        return _WEEK_MODE_0(_d=node.this)
    if mode == 3:  # Monday first, week 1 has four days or more: the ISO week
        node.set("mode", None)
    return node


def _timestamp(node: exp.Expression) -> exp.Expression:
    """A string literal cast to TIMESTAMP, as the source dialect reads it (DuckDB would not)."""
    if isinstance(node, exp.Literal) and node.is_string:
        return exp.Cast(this=node, to=exp.DataType.build("TIMESTAMP"))
    return node


def _whole_units(node: exp.Expression, dialect: str) -> exp.Expression:
    """TIMESTAMPDIFF(unit, start, end): whole units from start to end, truncated towards zero."""
    unit = _unit(node.args.get("unit"))
    start, end = node.expression, node.this
    if isinstance(node, exp.DateDiff) and dialect == "spark":
        # Spark's datediff(unit, start, end) is timestampdiff; sqlglot made dates of both
        start = start.this if isinstance(start, exp.TsOrDsToDate) else start
        end = end.this if isinstance(end, exp.TsOrDsToDate) else end
    start, end = _timestamp(start), _timestamp(end)
    if unit in _TIME_UNITS:
        return exp.Anonymous(
            this="DATE_SUB", expressions=[exp.Literal.string(unit.lower()), start, end]
        )
    months = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}.get(unit)
    if months is None:
        return node
    whole = _WHOLE_MONTHS(_a=start, _b=end)
    if months == 1:
        return whole
    return exp.Paren(this=exp.IntDiv(this=whole, expression=exp.Literal.number(months)))


def _months_between(node: exp.MonthsBetween) -> exp.Expression:
    a, b = _timestamp(node.this), _timestamp(node.expression)
    value = _MONTHS_BETWEEN(_a=a, _b=b)
    roundoff = node.args.get("roundoff")
    if isinstance(roundoff, exp.Boolean) and roundoff.this is False:
        return value
    return exp.Round(this=value, decimals=exp.Literal.number(8))


def _substring(node: exp.Substring, dialect: str) -> exp.Expression:
    start = node.args.get("start")
    if isinstance(start, exp.Literal) and not start.is_string and start.name == "0":
        node.set("start", exp.Literal.number(1))
        if dialect == "mysql":
            node.set("length", exp.Literal.number(0))
    return node


def _date_columns(tables: dict[str, dict[str, str]]) -> set[str]:
    """Column names that are DATE in every readable table that has them."""
    kinds: dict[str, set[str]] = {}
    for cols in tables.values():
        for name, kind in cols.items():
            kinds.setdefault(name.lower(), set()).add(kind.upper())
    return {name for name, k in kinds.items() if k == {"DATE"}}


def _is_date(node: exp.Expression, date_columns: set[str]) -> bool:
    if isinstance(node, exp.Paren):
        return _is_date(node.this, date_columns)
    if isinstance(node, exp.Cast):
        return node.to.is_type(exp.DataType.Type.DATE)
    if isinstance(node, (exp.CurrentDate, exp.TsOrDsToDate, exp.StrToDate, exp.Date)):
        return True
    return isinstance(node, exp.Column) and node.name.lower() in date_columns


def _type_date_strings(node: exp.Expression) -> None:
    """MySQL reads a string shifted by an interval as a DATE or a DATETIME, by its shape.

    sqlglot casts it to DATE in DATE_ADD (dropping the time of '2018-12-31 23:59:59') and not at
    all in ``'2024-01-31' + INTERVAL 1 DAY`` (which DuckDB cannot bind). MySQL answers a string
    holding the date or datetime; the DATE or TIMESTAMP here is the nearest value.
    """
    if isinstance(node, (exp.DateAdd, exp.DateSub, exp.TimestampAdd)):
        side = node.this
    elif isinstance(node, (exp.Add, exp.Sub)) and _interval(node.expression):
        side = node.this
    elif isinstance(node, exp.Add) and _interval(node.this):
        side = node.expression
    else:
        return
    if isinstance(side, exp.Literal) and side.is_string:
        kind = "DATE" if _DATE_LITERAL.match(side.name) else "TIMESTAMP"
        side.replace(exp.Cast(this=side.copy(), to=exp.DataType.build(kind)))


def _interval(node: exp.Expression, whole_days: bool = False) -> bool:
    """An interval or a sum of them; with ``whole_days``, of days, weeks, months or years only.

    sqlglot reads Spark's ``INTERVAL 1 MONTH 2 DAYS`` as ``INTERVAL 1 MONTH + INTERVAL 2 DAYS``.
    """
    if isinstance(node, exp.Paren):
        return _interval(node.this, whole_days)
    if isinstance(node, exp.Interval):
        unit = node.args.get("unit")
        return not whole_days or (unit is not None and _unit(unit) in _DATE_UNITS)
    return isinstance(node, exp.Add) and all(
        _interval(side, whole_days) for side in (node.this, node.expression)
    )


def _date_arithmetic(node: exp.Expression, date_columns: set[str], dialect: str) -> bool:
    """A date shifted by whole days or more, which the source dialect keeps a DATE."""
    if isinstance(node, (exp.TsOrDsAdd, exp.AddMonths)):  # Spark: always a DATE
        return True
    date = None
    if isinstance(node, (exp.DateAdd, exp.DateSub)) or (
        isinstance(node, exp.TimestampAdd) and dialect == "mysql"
    ):
        unit = node.args.get("unit")
        if unit is None or _unit(unit) in _DATE_UNITS:
            date = node.this
    elif isinstance(node, (exp.Add, exp.Sub)):
        if _interval(node.expression, whole_days=True):
            date = node.this
        elif isinstance(node, exp.Add) and _interval(node.this, whole_days=True):
            date = node.expression  # INTERVAL 1 DAY + d
    return date is not None and _is_date(date, date_columns)
