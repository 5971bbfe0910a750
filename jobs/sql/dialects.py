"""Spark SQL and MySQL written by analysts, run on DuckDB: sqlglot transpiles, these fix its traps.

sqlglot maps function names between dialects but not always their meaning. Each fix below is
a difference found by running the transpiled query on DuckDB next to what Spark or MySQL return
(tests/unit/test_sql_dialects.py checks each against the value the source dialect gives):

* ``trunc(d, 'MM')`` (Spark) keeps the format string, which DuckDB's ``date_trunc`` rejects, and
  returns a DATE where DuckDB returns a TIMESTAMP;
* ``dayofweek`` is 1 (Sunday) … 7 in Spark and MySQL, 0 … 6 in DuckDB;
* ``WEEKDAY`` (MySQL) is 0 (Monday) … 6; DuckDB's ``weekday`` counts from Sunday;
* a DATE plus or minus an interval of whole days, months or years is a DATE in Spark and MySQL
  (``date_add``, ``DATE_ADD``, ``d + INTERVAL 1 MONTH + INTERVAL 2 DAY``), a TIMESTAMP in DuckDB.
  Each step is cast back to DATE, so a chain of mixed intervals is applied one unit at a time,
  as the source dialect does.
"""

from __future__ import annotations

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


def fix_traps(
    tree: exp.Expression, dialect: str, tables: dict[str, dict[str, str]]
) -> exp.Expression:
    """Rewrite ``tree`` (parsed from ``dialect``) so DuckDB returns what the dialect would."""
    if dialect == "duckdb":
        return tree
    date_columns = _date_columns(tables)

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, (exp.DateTrunc, exp.TimestampTrunc)):
            return _trunc(node)
        if isinstance(node, exp.DayOfWeek):
            return exp.Paren(this=exp.Add(this=node, expression=exp.Literal.number(1)))
        if (
            isinstance(node, exp.Anonymous)
            and node.name.upper() == "WEEKDAY"
            and dialect == "mysql"
        ):
            arg = node.expressions[0]
            return exp.Paren(
                this=exp.Sub(
                    this=exp.Anonymous(this="ISODOW", expressions=[arg]),
                    expression=exp.Literal.number(1),
                )
            )
        if _date_arithmetic(node, date_columns):
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


def _trunc(node: exp.Expression) -> exp.Expression:
    unit = node.args.get("unit")
    name = unit.name.upper() if unit is not None else ""
    normal = _UNITS.get(name, name)
    if isinstance(node, exp.DateTrunc) and isinstance(unit, exp.Literal):
        # Spark's trunc(date, fmt): a DATE
        node.set("unit", exp.Literal.string(normal))
        return exp.Cast(this=node, to=exp.DataType.build("DATE"))
    if unit is not None:
        node.set("unit", exp.Var(this=normal))
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
    if isinstance(node, exp.Column):
        return node.name.lower() in date_columns
    return False


def _date_arithmetic(node: exp.Expression, date_columns: set[str]) -> bool:
    """A date shifted by whole days or more, which the source dialect keeps a DATE."""
    if isinstance(node, exp.TsOrDsAdd):  # Spark date_add/date_sub: always a DATE
        return True
    if isinstance(node, (exp.DateAdd, exp.DateSub)):
        unit = node.args.get("unit")
        return (unit is None or unit.name.upper() in _DATE_UNITS) and _is_date(
            node.this, date_columns
        )
    if isinstance(node, (exp.Add, exp.Sub)) and isinstance(node.expression, exp.Interval):
        unit = node.expression.args.get("unit")
        return (
            unit is not None
            and unit.name.upper() in _DATE_UNITS
            and _is_date(node.this, date_columns)
        )
    return False
