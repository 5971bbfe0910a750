"""Masked views: each table a role reads becomes a DuckDB view that masks what the role may not see.

The view has the table's name and columns, so analysts write ordinary SQL; a column above the
reader's clearance is replaced by its mask inside the view (nested fields too, through
``struct_pack`` and ``list_transform``), and a district reader's view keeps only the district's
rows. No query can name the raw data: it is registered under a random name that the guard
never lets through.
"""

from __future__ import annotations

import pyarrow as pa

from jobs.sql.policy import MASK_MACROS, ColumnRule, Grant, column_rules, source_levels


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: object) -> str:
    """A SQL string literal of ``value`` (dates as their ISO text)."""
    return "'" + str(value).replace("'", "''") + "'"


def macro_sql() -> list[str]:
    """The mask macros, created once per connection."""
    return [f"CREATE MACRO gl_mask_{kind}(v) AS {body}" for kind, body in MASK_MACROS.items()]


def masked_select(table: str, schema: pa.Schema, raw: str, grant: Grant) -> str:
    """SELECT over ``raw`` that shows ``table`` as ``grant`` may see it."""
    rules = {
        path: rule
        for path, rule in column_rules(table).items()
        if rule.per_source or not grant.in_clear(rule.level)
    }
    columns = [
        f"{_masked(quote(f.name), f.type, f.name, rules, grant, 0)} AS {quote(f.name)}"
        for f in schema
    ]
    sql = f"SELECT {', '.join(columns)} FROM {raw}"
    division = grant.division_column(table)
    if division is not None:
        sql += f" WHERE starts_with({_path_expr(division)}, {literal(grant.division)})"
    return sql


def _path_expr(path: str) -> str:
    head, *rest = path.split(".")
    expr = quote(head)
    for name in rest:
        expr = f"struct_extract({expr}, {literal(name)})"
    return expr


def _masked(
    expr: str, kind: pa.DataType, path: str, rules: dict[str, ColumnRule], grant: Grant, depth: int
) -> str:
    if path in rules:
        return _apply(expr, kind, rules[path], grant)
    if not any(p.startswith(path + ".") for p in rules):
        return expr
    if pa.types.is_struct(kind):
        fields = ", ".join(
            f"{quote(f.name)} := "
            + _masked(
                f"struct_extract({expr}, {literal(f.name)})",
                f.type,
                f"{path}.{f.name}",
                rules,
                grant,
                depth,
            )
            for f in kind
        )
        return f"CASE WHEN {expr} IS NULL THEN NULL ELSE struct_pack({fields}) END"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        var = f"gl_x{depth}"
        inner = _masked(var, kind.value_type, path, rules, grant, depth + 1)
        return f"list_transform({expr}, lambda {var}: {inner})"
    return expr


def _apply(expr: str, kind: pa.DataType, rule: ColumnRule, grant: Grant) -> str:
    hidden = f"CASE WHEN false THEN {expr} END"  # NULL of the column's own type
    if rule.per_source:
        levels = source_levels()
        above = sorted(s for s, level in levels.items() if not grant.in_clear(level))
        if not above:
            return expr
        sources = ", ".join(literal(s) for s in above)
        # rows of an unknown source are hidden too: fail closed
        known = ", ".join(literal(s) for s in sorted(levels))
        return (
            f"CASE WHEN {quote(rule.per_source)} IN ({sources}) "
            f"OR {quote(rule.per_source)} NOT IN ({known}) THEN NULL ELSE {expr} END"
        )
    if rule.mask in MASK_MACROS:
        return f"gl_mask_{rule.mask}({expr})" if pa.types.is_string(kind) else hidden
    if rule.mask == "year" and pa.types.is_date(kind):
        return f"CAST(date_trunc('year', {expr}) AS DATE)"
    return hidden
