"""The code habits of CONVENTIONS.md, measured on the production code (jobs/, lineage/, dags/;
the sample-city generator is a development package and is left out):

* functions are short: the 90th percentile of function length is at most 30 lines, and no
  function is over 80;
* public functions and methods with three or more parameters take keyword-only arguments
  (at most two positional, the rest after ``*``);
* docstrings on at least 85% of public modules, classes and functions.

Lengths count every line of the definition, decorators aside. Nested functions count for length
but are not public.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOTS = ("jobs", "lineage", "dags")


def _modules():
    for root in ROOTS:
        for path in sorted((REPO / root).rglob("*.py")):
            yield path.relative_to(REPO), ast.parse(path.read_text(encoding="utf-8"))


def _public(tree):
    """(node, kind) of the public classes, functions and methods, nested functions aside."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if not node.name.startswith("_"):
                yield node
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                for m in node.body:
                    if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef):
                        if not m.name.startswith("_"):
                            yield m


def _lengths():
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield node.end_lineno - node.lineno + 1, f"{path}:{node.lineno} {node.name}"


def test_functions_are_short():
    lengths = sorted(_lengths())
    p90 = lengths[int(0.9 * len(lengths))][0]
    assert p90 <= 30, f"p90 function length {p90} lines"
    long = [where for n, where in lengths if n > 80]
    assert not long, f"functions over 80 lines: {long}"


def test_public_functions_with_three_or_more_parameters_are_keyword_only_after_two():
    offenders = []
    for path, tree in _modules():
        for node in _public(tree):
            if isinstance(node, ast.ClassDef):
                continue
            a = node.args
            positional = [x for x in a.posonlyargs + a.args if x.arg not in ("self", "cls")]
            if len(positional) + len(a.kwonlyargs) >= 3 and len(positional) > 2:
                offenders.append(f"{path}:{node.lineno} {node.name}")
    assert not offenders, offenders


def test_docstrings_on_public_modules_classes_and_functions():
    total, documented, missing = 0, 0, []
    for path, tree in _modules():
        for node in [tree, *_public(tree)]:
            total += 1
            if ast.get_docstring(node):
                documented += 1
            else:
                missing.append(f"{path}:{getattr(node, 'lineno', 1)} {getattr(node, 'name', '')}")
    share = documented / total
    assert share >= 0.85, f"{share:.1%} documented; e.g. missing: {missing[:20]}"


def test_the_measures_see_the_code():
    """Guards against measuring nothing: the code base is there and has long-enough parts."""
    lengths = list(_lengths())
    assert len(lengths) > 500
    assert sum(1 for _ in _modules()) > 80


def _aggregates_over_structs(tree):
    """Calls F.min/F.max/F.collect_set whose argument is not a plain column name."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in ("min", "max", "collect_set") or not node.args:
            continue
        if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "F"):
            continue
        arg = node.args[0]
        struct = (
            isinstance(arg, ast.Call)
            and isinstance(arg.func, ast.Attribute)
            and arg.func.attr == "struct"
        )
        if struct or (node.func.attr == "collect_set" and isinstance(arg, ast.Name)):
            yield node.lineno


def test_no_aggregates_over_structs():
    """Sail's min/max over a struct and collect_set of structs are 5 to 10 times slower than a
    sortable string or distinct rows then collect_list (decision 73)."""
    offenders = [
        f"{path}:{line}" for path, tree in _modules() for line in _aggregates_over_structs(tree)
    ]
    assert not offenders, offenders
