"""Column lineage read from the plan of the DataFrame a job writes (Spark Connect protocol).

Every job builds its output as a PySpark DataFrame; through Spark Connect that DataFrame is a
plan of relations (read, project, join, aggregate…) and expressions (columns, functions,
aliases, structs, lambdas). Following each output column down the plan to the tables read
gives its lineage, derived from the code that builds the table, with no list kept beside it.

The analysis is structural and conservative: a column's sources are every column its
expression references, through every relation between it and the tables read (a filter or
join condition does not make a column depend on the columns it tests; an alias can name what
its column carries where the plan encodes it, ``LINEAGE_HINT``). Nested struct fields
built with ``struct(...)`` keep their own lineage, so ``gold.person_profile.identity.name`` is
traced to ``silver.person.name``. A relation the analysis does not know passes nothing on,
and the coverage test of the lineage (tests/integration/test_lineage.py) then fails.

This module imports nothing from jobs/: the caller hands it the DataFrame's plan and a
function that says what each path read is.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# Functions whose result keeps the nested shape of their (value) arguments.
_SHAPE_KEEPING = {
    "when", "coalesce", "collect_list", "collect_set", "array_sort", "sort_array", "first",
    "last", "max", "min", "max_by", "min_by", "array_distinct", "filter", "array", "flatten",
    "array_union", "concat", "any_value", "nvl", "ifnull", "array_compact", "slice",
}  # fmt: skip
_MAX_EXPR = 160
# An alias may say what its column carries where the plan cannot show it: a value encoded
# in a sort key and decoded after an aggregate (the 一数一源 pick) derives from the value,
# not from what it is ordered by. ``Column.alias(name, metadata={LINEAGE_HINT: hint})``, the
# hint naming an input column (``"value"``, ``"_key.value"``) or several kept apart as fields
# (``{"value": "value", "source_id": "source_id"}``).
LINEAGE_HINT = "govlake.lineage"


@dataclass
class Col:
    """One output column (or nested field): what it was computed from, and how."""

    name: str
    sources: frozenset[tuple[str, str]] = frozenset()  # (table, column path)
    expr: str = ""
    fields: dict[str, Col] = field(default_factory=dict)  # struct fields (list elements too)
    literal: str | None = None  # the value of a string literal column
    # In a union of branches that each set a literal (claims: attribute = 'name', value = …),
    # the sources of this column per literal of such a column: {"attribute": {"name": …}}.
    cases: dict[str, dict[str, frozenset[tuple[str, str]]]] = field(default_factory=dict)

    def renamed(self, name: str) -> Col:
        return Col(name, self.sources, self.expr, self.fields, self.literal, self.cases)


# Resolver: (path read, options) → the columns it holds, or None when unknown.
Resolver = Callable[[str, dict[str, str]], list[Col] | None]


def table_columns(table: str, paths: Iterable[str]) -> list[Col]:
    """The columns of a lake table as read: each is its own source."""
    out: dict[str, Col] = {}
    for path in paths:
        head, _, rest = path.partition(".")
        col = out.setdefault(head, Col(head, frozenset({(table, head)}), f"{table}.{head}"))
        node = col
        prefix = head
        for part in rest.split(".") if rest else []:
            prefix = f"{prefix}.{part}"
            node = node.fields.setdefault(
                part, Col(part, frozenset({(table, prefix)}), f"{table}.{prefix}")
            )
    return list(out.values())


def analyse(relation, resolve: Resolver) -> list[Col]:
    """The output columns of a Spark Connect ``Relation`` message with their lineage."""
    return _Analysis(resolve).relation(relation)


def leaves(cols: list[Col], prefix: str = "") -> Iterable[tuple[str, Col]]:
    """(path, column) of every output leaf, nested fields as dotted paths."""
    for col in cols:
        path = f"{prefix}{col.name}"
        if col.fields:
            yield from leaves(list(col.fields.values()), path + ".")
        else:
            yield path, col


def edges(target_table: str, cols: list[Col]) -> list[dict]:
    """column_edges rows for a table written from ``cols``: one per (target leaf, source)."""
    rows = []
    for path, col in leaves(cols):
        sources = sorted(col.sources) or [("(constant)", "")]
        for table, column in sources:
            rows.append(
                {
                    "target_table": target_table,
                    "target_column": path,
                    "source_table": table,
                    "source_column": column,
                    "transform": col.expr[:_MAX_EXPR],
                }
            )
    return rows


def _identifier(text: str) -> list[str]:
    parts = re.findall(r"`((?:[^`]|``)*)`|([^.`]+)", text)
    return [(a.replace("``", "`") if a else b) for a, b in parts]


def _union(cols: Iterable[Col]) -> frozenset[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for c in cols:
        out |= c.sources
    return frozenset(out)


def _merge_fields(cols: Iterable[Col]) -> dict[str, Col]:
    merged: dict[str, Col] = {}
    for c in cols:
        for name, f in c.fields.items():
            if name in merged:
                m = merged[name]
                merged[name] = Col(
                    name, m.sources | f.sources, m.expr, _merge_fields([m, f]) or m.fields
                )
            else:
                merged[name] = f
    return merged


class _Analysis:
    def __init__(self, resolve: Resolver):
        self.resolve = resolve
        self.by_plan_id: dict[int, list[Col]] = {}
        self.aliases: dict[str, list[Col]] = {}

    # ------------------------------------------------------------------ relations
    def relation(self, rel) -> list[Col]:
        kind = rel.WhichOneof("rel_type")
        handler = getattr(self, f"_rel_{kind}", None)
        if handler is None:
            if kind in _PASSTHROUGH:  # rows change, columns do not
                out = self.relation(getattr(rel, kind).input)
            else:
                log.debug("column lineage: relation %s not analysed", kind)
                out = []
        else:
            out = handler(getattr(rel, kind))
        if rel.HasField("common") and rel.common.HasField("plan_id"):
            self.by_plan_id[rel.common.plan_id] = out
        return out

    def _rel_read(self, read) -> list[Col]:
        if read.HasField("data_source"):
            ds = read.data_source
            options = dict(ds.options)
            path = ds.paths[0] if ds.paths else options.get("path", "")
            known = self.resolve(path, options)
            if known is not None:
                return known
            if ds.HasField("schema") and ds.schema:
                return [Col(n) for n in _schema_names(ds.schema)]
        return []

    def _rel_project(self, p) -> list[Col]:
        scope = self.relation(p.input) if p.HasField("input") else []
        return self._outputs(p.expressions, scope)

    def _rel_filter(self, f) -> list[Col]:
        return self.relation(f.input)

    def _rel_join(self, j) -> list[Col]:
        left, right = self.relation(j.left), self.relation(j.right)
        kind = j.JoinType.Name(j.join_type)
        if kind in ("JOIN_TYPE_LEFT_ANTI", "JOIN_TYPE_LEFT_SEMI"):
            return left  # rows of the left side only, with its columns
        using = list(j.using_columns)
        if not using:
            return left + right
        # a USING key is the left side's (the right's in a right join; both in a full join)
        by_right = {c.name: c for c in right}
        out = []
        for c in left:
            other = by_right.get(c.name) if c.name in using else None
            if other is not None and kind == "JOIN_TYPE_RIGHT_OUTER":
                c = other
            elif other is not None and kind == "JOIN_TYPE_FULL_OUTER":
                c = Col(c.name, c.sources | other.sources, c.expr, c.fields or other.fields)
            out.append(c)
        return out + [c for c in right if c.name not in using]

    def _rel_set_op(self, s) -> list[Col]:
        left, right = self.relation(s.left_input), self.relation(s.right_input)
        if s.by_name:
            by = {c.name: c for c in right}
            pairs = [(c, by.get(c.name)) for c in left]
        else:
            pairs = list(zip(left, right + [None] * (len(left) - len(right)), strict=False))
        left_keys = {a.name: a.literal for a, _ in pairs if a.literal is not None}
        right_keys = {
            a.name: b.literal for a, b in pairs if b is not None and b.literal is not None
        }
        out = []
        for a, b in pairs:
            cases = _merge_cases(a.cases, b.cases if b else {})
            for keys, side in ((left_keys, a), (right_keys, b)):
                for key, value in keys.items():
                    if side is not None and key != a.name:
                        branch = cases.setdefault(key, {})
                        branch[value] = branch.get(value, frozenset()) | side.sources
            out.append(
                Col(a.name, a.sources | (b.sources if b else frozenset()), a.expr,
                    _merge_fields([a, b] if b else [a]), None, cases)
            )  # fmt: skip
        return out

    def _rel_aggregate(self, a) -> list[Col]:
        scope = self.relation(a.input)
        return self._outputs([*a.grouping_expressions, *a.aggregate_expressions], scope)

    def _rel_with_columns(self, w) -> list[Col]:
        scope = self.relation(w.input)
        out = list(scope)
        for alias in w.aliases:
            col = self.expression(alias.expr, scope).renamed(alias.name[0])
            names = [c.name for c in out]
            if col.name in names:
                out[names.index(col.name)] = col
            else:
                out.append(col)
        return out

    def _rel_with_columns_renamed(self, w) -> list[Col]:
        scope = self.relation(w.input)
        renames = {r.col_name: r.new_col_name for r in w.renames}
        renames.update(dict(w.rename_columns_map))
        return [c.renamed(renames.get(c.name, c.name)) for c in scope]

    def _rel_drop(self, d) -> list[Col]:
        scope = self.relation(d.input)
        names = set(d.column_names)
        for e in d.columns:
            if e.WhichOneof("expr_type") == "unresolved_attribute":
                names.add(_identifier(e.unresolved_attribute.unparsed_identifier)[-1])
        return [c for c in scope if c.name not in names]

    def _rel_to_df(self, t) -> list[Col]:
        scope = self.relation(t.input)
        return [c.renamed(n) for c, n in zip(scope, t.column_names, strict=False)]

    def _rel_subquery_alias(self, s) -> list[Col]:
        out = self.relation(s.input)
        self.aliases[s.alias] = out
        return out

    def _rel_local_relation(self, r) -> list[Col]:
        if r.HasField("schema") and r.schema:
            return [Col(n, expr="(local data)") for n in _schema_names(r.schema)]
        if r.HasField("data") and r.data:
            import pyarrow as pa

            return [Col(n, expr="(local data)") for n in pa.ipc.open_stream(r.data).schema.names]
        return []

    # ------------------------------------------------------------------ expressions
    def _outputs(self, expressions, scope: list[Col]) -> list[Col]:
        out = []
        for e in expressions:
            if e.WhichOneof("expr_type") == "unresolved_star":
                target = e.unresolved_star.unparsed_target.rstrip(".*").strip(".")
                if target:
                    base = self._resolve(_identifier(target), scope, None)
                    out.extend(base.fields.values() if base.fields else [base])
                else:
                    out.extend(scope)
                continue
            out.append(self.expression(e, scope))
        return out

    def expression(self, e, scope: list[Col], *, lambdas: dict[str, Col] | None = None) -> Col:
        kind = e.WhichOneof("expr_type")
        lambdas = lambdas or {}
        if kind == "alias":
            hint = _lineage_hint(e.alias)
            if hint is not None:
                return self._hinted(hint, e, scope).renamed(e.alias.name[0])
            return self.expression(e.alias.expr, scope, lambdas=lambdas).renamed(e.alias.name[0])
        if kind == "unresolved_attribute":
            a = e.unresolved_attribute
            return self._resolve(
                _identifier(a.unparsed_identifier),
                scope,
                a.plan_id if a.HasField("plan_id") else None,
            )
        if kind == "unresolved_named_lambda_variable":
            parts = list(e.unresolved_named_lambda_variable.name_parts)
            base = lambdas.get(parts[0], Col(parts[0]))
            for p in parts[1:]:
                base = base.fields.get(p, base)
            return base.renamed(parts[-1])
        if kind == "literal":
            lit = e.literal
            value = lit.string if lit.WhichOneof("literal_type") == "string" else None
            return Col("lit", expr=_render(e), literal=value)
        if kind == "cast":
            inner = self.expression(e.cast.expr, scope, lambdas=lambdas)
            return Col(inner.name, inner.sources, _render(e), inner.fields, None, inner.cases)
        if kind == "unresolved_extract_value":
            child = self.expression(e.unresolved_extract_value.child, scope, lambdas=lambdas)
            key = e.unresolved_extract_value.extraction
            name = key.literal.string if key.WhichOneof("expr_type") == "literal" else ""
            if name and name in child.fields:
                return child.fields[name]
            if name:
                return Col(name, child.sources, _render(e), {})
            # a lookup by a computed key (a code table map[code]): the key's columns count
            index = self.expression(key, scope, lambdas=lambdas)
            return Col(child.name, child.sources | index.sources, _render(e), {})
        if kind in ("unresolved_function", "call_function"):
            f = getattr(e, kind)
            return self._function(f.function_name, list(f.arguments), scope, lambdas, e)
        if kind == "common_inline_user_defined_function":
            f = e.common_inline_user_defined_function
            return self._function(f.function_name, list(f.arguments), scope, lambdas, e)
        if kind == "lambda_function":
            return self.expression(e.lambda_function.function, scope, lambdas=lambdas)
        # window, sort order, update_fields, named arguments…: everything they reference
        subs = [self.expression(s, scope, lambdas=lambdas) for s in _sub_expressions(e)]
        return Col(subs[0].name if subs else kind, _union(subs), _render(e), _merge_fields(subs))

    def _hinted(self, hint: str | dict[str, str], e, scope: list[Col]) -> Col:
        """The lineage an alias's hint names: one column (``"value"``, ``"_key.value"``) or
        several kept apart as fields (``{"value": "value", "source_id": "source_id"}``)."""
        if isinstance(hint, str):
            col = self._resolve(_identifier(hint), scope, None)
            return Col(col.name, col.sources, _render(e), col.fields, None, col.cases)
        fields = {k: self._resolve(_identifier(v), scope, None).renamed(k) for k, v in hint.items()}
        return Col("hint", _union(fields.values()), _render(e), fields)

    def _function(self, name: str, args, scope, lambdas, e) -> Col:
        name = name.lower()
        # a lambda's variables stand for the elements of the function's first argument
        first = self.expression(args[0], scope, lambdas=lambdas) if args else None
        bound = dict(lambdas)
        for a in args:
            if a.WhichOneof("expr_type") == "lambda_function" and first is not None:
                for var in a.lambda_function.arguments:
                    bound[var.name_parts[0]] = first
        values = [first] if first is not None else []
        values += [self.expression(a, scope, lambdas=bound) for a in args[1:]]
        if name == "when" and len(values) == 2:
            case = _case(args[0], values[1], self, scope, lambdas)
            if case is not None:  # when(attribute == 'name', value): that branch's sources
                return Col(name, case, _render(e))
        if name == "struct":
            fields = {v.name: v for v in values}
        elif name == "named_struct":
            fields = {args[i].literal.string: values[i + 1] for i in range(0, len(args) - 1, 2)}
        elif name in _SHAPE_KEEPING or name in ("transform", "aggregate"):
            fields = _merge_fields(values)
        else:
            fields = {}
        return Col(name, _union(values), _render(e), fields)

    def _resolve(self, parts: list[str], scope: list[Col], plan_id: int | None) -> Col:
        candidates = self.by_plan_id.get(plan_id, scope) if plan_id is not None else scope
        lookup = {c.name.lower(): c for c in candidates}
        col = lookup.get(parts[0].lower())
        rest = parts[1:]
        if col is None and len(parts) > 1 and parts[0] in self.aliases:
            col = {c.name.lower(): c for c in self.aliases[parts[0]]}.get(parts[1].lower())
            rest = parts[2:]
        if col is None:
            return Col(parts[-1], expr=".".join(parts))
        for p in rest:
            col = col.fields.get(p, Col(p, col.sources, f"{col.expr}.{p}"))
        return col


_PASSTHROUGH = {
    "sort", "limit", "offset", "sample", "repartition", "repartition_by_expression", "hint",
    "tail", "deduplicate", "with_watermark", "drop_na", "fill_na", "replace", "to_schema",
    "cached_remote_relation", "collect_metrics",
}  # fmt: skip


def _lineage_hint(alias) -> str | dict[str, str] | None:
    """``LINEAGE_HINT`` in an alias's metadata (``Column.alias(name, metadata=...)``)."""
    if not alias.HasField("metadata") or not alias.metadata:
        return None
    try:
        hint = json.loads(alias.metadata).get(LINEAGE_HINT)
    except (ValueError, AttributeError):
        return None
    ok = isinstance(hint, str) or (
        isinstance(hint, dict) and all(isinstance(v, str) for v in hint.values())
    )
    return hint if ok else None


def _merge_cases(a: dict, b: dict) -> dict:
    out = {k: dict(v) for k, v in a.items()}
    for key, values in b.items():
        branch = out.setdefault(key, {})
        for lit, sources in values.items():
            branch[lit] = branch.get(lit, frozenset()) | sources
    return out


def _case(condition, value: Col, analysis: _Analysis, scope, lambdas):
    """The sources of ``value`` where ``condition`` is ``<discriminator> == '<literal>'``."""
    if condition.WhichOneof("expr_type") != "unresolved_function":
        return None
    f = condition.unresolved_function
    if f.function_name not in ("==", "=", "<=>") or len(f.arguments) != 2:
        return None
    sides = [analysis.expression(a, scope, lambdas=lambdas) for a in f.arguments]
    column = next((c for c in sides if c.literal is None), None)
    literal = next((c.literal for c in sides if c.literal is not None), None)
    if column is None or literal is None:
        return None
    return value.cases.get(column.name, {}).get(literal)


def _schema_names(text: str) -> list[str]:
    try:
        return [f["name"] for f in json.loads(text)["fields"]]
    except (ValueError, KeyError, TypeError):
        # a DDL string: "a STRING, b INT"
        return [p.strip().split()[0].strip("`") for p in text.split(",") if p.strip()]


def _sub_expressions(e) -> Iterable:
    for fd, value in e.ListFields():
        values = (
            value if isinstance(value, Iterable) and not hasattr(value, "ListFields") else [value]
        )
        for v in values:
            if hasattr(v, "WhichOneof") and v.DESCRIPTOR.name == "Expression":
                yield v
            elif hasattr(v, "ListFields") and fd.name != "common":
                yield from _sub_expressions(v)


def _render(e, depth: int = 0) -> str:
    """A short readable form of an expression (the edge's ``transform``)."""
    if depth > 4:
        return "…"
    kind = e.WhichOneof("expr_type")
    if kind == "unresolved_attribute":
        return e.unresolved_attribute.unparsed_identifier
    if kind == "literal":
        lit = e.literal
        which = lit.WhichOneof("literal_type")
        if which in ("date", "timestamp", "timestamp_ntz"):
            # the run's date or time: the derivation is the same whichever run it was
            return f"<{which}>"
        value = getattr(lit, which) if which else None
        return repr(value) if which not in (None, "null") else "NULL"
    if kind == "alias":
        return _render(e.alias.expr, depth)
    if kind == "cast":
        t = e.cast
        target = (
            t.type_str if t.WhichOneof("cast_to_type") == "type_str" else t.type.WhichOneof("kind")
        )
        return f"cast({_render(t.expr, depth + 1)} as {target})"
    if kind in ("unresolved_function", "call_function", "common_inline_user_defined_function"):
        f = getattr(e, kind)
        args = ", ".join(_render(a, depth + 1) for a in f.arguments)
        return f"{f.function_name}({args})"[:_MAX_EXPR]
    if kind == "unresolved_extract_value":
        return f"{_render(e.unresolved_extract_value.child, depth + 1)}[{_render(e.unresolved_extract_value.extraction, depth + 1)}]"
    if kind == "lambda_function":
        lf = e.lambda_function
        args = ", ".join(".".join(v.name_parts) for v in lf.arguments)
        return f"({args}) -> {_render(lf.function, depth + 1)}"
    if kind == "unresolved_named_lambda_variable":
        return ".".join(e.unresolved_named_lambda_variable.name_parts)
    return kind or "?"
