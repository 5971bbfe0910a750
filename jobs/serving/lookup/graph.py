"""`govlake lineage`: the lineage graph of a table or column, upstream or downstream, as text or DOT.

Tables are linked by lineage.table_edges (what each run read and wrote); columns by
lineage.column_edges (derived from the plans of the writes, lineage/columns.py). Both are read
with delta-rs: no Spark session is needed to look at lineage.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from deltalake import DeltaTable

from jobs.platform import publication
from jobs.platform.delta import read_table


@dataclass(frozen=True)
class Edge:
    source: str  # layer.table or layer.table.column
    target: str
    how: str  # the job (tables) or the transform (columns)


def _rows(root: Path, table: str) -> list[dict]:
    """A lineage table's rows: the column edges as published (a run in progress may be
    rewriting them), the run logs whole (jobs/platform/publication.py)."""
    path = root / table.replace(".", "/")
    if not DeltaTable.is_deltatable(str(path)):
        raise LookupError(f"{root}: no {table} yet (run the pipeline first)")
    version = None
    if table not in publication.UNPINNED:
        try:
            version = publication.current(root).version(table)
        except publication.NotPublished:
            version = None  # lineage of a lake built before publications: the latest
    return read_table(path, version).to_pylist()


def table_edges(root: Path) -> list[Edge]:
    """source table → target table, with the jobs that made the link (latest code)."""
    jobs = {r["run_id"]: r["job"] for r in _rows(root, "lineage.runs")}
    how: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in _rows(root, "lineage.table_edges"):
        how[(r["source_table"], r["target_table"])].add(jobs.get(r["run_id"], "?"))
    return [Edge(s, t, ", ".join(sorted(j))) for (s, t), j in sorted(how.items())]


def column_edges(root: Path) -> list[Edge]:
    out = []
    for r in _rows(root, "lineage.column_edges"):
        source = (
            f"{r['source_table']}.{r['source_column']}"
            if r["source_table"] != "(constant)"
            else "(constant)"
        )
        out.append(Edge(source, f"{r['target_table']}.{r['target_column']}", r["transform"] or ""))
    return out


def _is_table(name: str) -> bool:
    return name.count(".") == 1


def graph(root: Path, node: str, *, direction: str) -> tuple[list[Edge], str]:
    """The edges reachable from ``node`` (a table, or a table's column) in ``direction``.

    Returns the edges and the node as found (a column name is matched case-sensitively).
    """
    edges = table_edges(root) if _is_table(node) else column_edges(root)
    known = {e.source for e in edges} | {e.target for e in edges}
    if node not in known:
        raise LookupError(f"{node} is not in the lake's lineage")
    step = defaultdict(list)
    for e in edges:
        if direction == "upstream":
            step[e.target].append(e)
        else:
            step[e.source].append(e)
    seen, out, todo = {node}, [], [node]
    while todo:
        current = todo.pop()
        for e in step[current]:
            out.append(e)
            nxt = e.source if direction == "upstream" else e.target
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return out, node


def as_text(edges: list[Edge], node: str, *, direction: str) -> str:
    """An indented tree; a node met again is shown once with ``(see above)``."""
    step = defaultdict(list)
    for e in edges:
        step[e.target if direction == "upstream" else e.source].append(e)
    arrow = "←" if direction == "upstream" else "→"
    lines = [node]
    shown: set[str] = set()

    def walk(current: str, depth: int) -> None:
        for e in sorted(step[current], key=lambda e: (e.source, e.target)):
            nxt = e.source if direction == "upstream" else e.target
            again = nxt in shown
            how = f"  [{e.how}]" if e.how else ""
            lines.append(f"{'  ' * depth}{arrow} {nxt}{how}{'  (see above)' if again else ''}")
            if not again:
                shown.add(nxt)
                walk(nxt, depth + 1)

    walk(node, 1)
    return "\n".join(lines) + "\n"


def as_dot(edges: list[Edge], node: str) -> str:
    """Graphviz DOT: `govlake lineage … --format dot | dot -Tsvg > lineage.svg`."""

    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["digraph lineage {", "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
    lines.append(f"  {q(node)} [style=filled, fillcolor=lightyellow];")
    for e in sorted(set(edges), key=lambda e: (e.source, e.target)):
        label = f" [label={q(e.how[:60])}, fontsize=8]" if e.how else ""
        lines.append(f"  {q(e.source)} -> {q(e.target)}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"
