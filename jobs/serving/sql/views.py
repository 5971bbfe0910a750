"""Masked views: each table a role reads becomes a DuckDB view that masks what the role may not see.

The view has the table's name and columns, so analysts write ordinary SQL; a column above the
reader's clearance is replaced by its mask inside the view (nested fields too, through
``struct_pack`` and ``list_transform``), and a district reader's view keeps only the district's
rows. No query can name the raw data: it is registered under a random name that the guard
never lets through.
"""

from __future__ import annotations

import pyarrow as pa

from jobs.platform.policy import MASKS, ColumnRule, Grant, column_rules, key_pads, source_levels


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: object) -> str:
    """A SQL string literal of ``value`` (dates as their ISO text)."""
    return "'" + str(value).replace("'", "''") + "'"


def macro_sql(key: bytes) -> list[str]:
    """The mask macros and the pseudonym key's HMAC pads, set once per connection.

    The pads are session variables, never part of a macro's or a view's text; the guard lets
    no query call ``getvariable`` or a ``gl_`` macro, so the key cannot be read or used to
    pseudonymise guessed identifiers.
    """
    inner, outer = key_pads(key)
    return [
        f"SET VARIABLE gl_ipad = from_hex('{inner.hex()}')",
        f"SET VARIABLE gl_opad = from_hex('{outer.hex()}')",
        *(f"CREATE MACRO gl_mask_{kind}(v) AS {m.sql}" for kind, m in MASKS.items()),
    ]


def pseudonymised_columns(table: str, schema: pa.Schema, *, grant: Grant) -> list[str]:
    """Top-level text columns of ``table`` that ``grant`` sees as pseudonyms."""
    rules = column_rules(table)
    return [
        f.name
        for f in schema
        if f.name in rules
        and rules[f.name].mask == "pseudonym"
        and not rules[f.name].per_source
        and not grant.in_clear(rules[f.name].level)
        and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
    ]


def masked_select(
    table: str, schema: pa.Schema, *, raw: str, grant: Grant, maps: dict[str, str] | None = None
) -> str:
    """SELECT over ``raw`` that shows ``table`` as ``grant`` may see it.

    ``maps`` names, for pseudonymised top-level columns, a registered table of
    (``gl_raw``, ``gl_p``): each distinct value and its pseudonym. The view then joins it
    instead of hashing every row, so a lookup by pseudonym reads one entry of the map and
    probes the table by the raw value, as fast as a lookup in clear.
    """
    rules = {
        path: rule
        for path, rule in column_rules(table).items()
        if rule.per_source or not grant.in_clear(rule.level)
    }
    maps = maps or {}
    joins = {name: f"gl_m{i}" for i, name in enumerate(maps)}
    columns = [
        (
            f"{joins[f.name]}.gl_p AS {quote(f.name)}"
            if f.name in joins
            else f"{_masked('gl_r.' + quote(f.name), f.type, f.name, rules, grant, 0)}"
            f" AS {quote(f.name)}"
        )
        for f in schema
    ]
    sql = f"SELECT {', '.join(columns)} FROM {raw} AS gl_r"
    for name, alias in joins.items():
        sql += f" LEFT JOIN {maps[name]} AS {alias} ON gl_r.{quote(name)} = {alias}.gl_raw"
    division = grant.division_column(table)
    if division is not None:
        sql += f" WHERE starts_with({path_expr(division, 'gl_r.')}, {literal(grant.division)})"
    return sql


def path_expr(path: str, prefix: str = "") -> str:
    head, *rest = path.split(".")
    expr = prefix + quote(head)
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
            f"CASE WHEN gl_r.{quote(rule.per_source)} IN ({sources}) "
            f"OR gl_r.{quote(rule.per_source)} NOT IN ({known}) THEN NULL ELSE {expr} END"
        )
    spec = MASKS.get(rule.mask)
    if spec is None:
        return hidden
    if spec.takes == "string" and (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return f"gl_mask_{rule.mask}({expr})"
    if spec.takes == "date" and pa.types.is_date(kind):
        return f"gl_mask_{rule.mask}({expr})"
    return hidden
