"""Maintenance benchmark: table sizes and read latency before and after `govlake maintain` on a
lake of many business dates. Prints figures; it is not a test.

    python bench/maintain_bench.py --persons 2000 --days 30 [--queries 300]

The lake is built once (cached under var/bench/) with `govlake run`; analysts' queries are then
run to grow audit.queries; a copy of the lake is measured, maintained and measured again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUERIES = [
    ("count persons", "city_analyst", "SELECT count(*) FROM silver.person"),
    ("open findings by rule", "quality_officer",
     "SELECT rule_id, count(*) FROM quality.findings WHERE status = 'open' GROUP BY 1"),
    ("deliveries of a source", "platform_admin",
     "SELECT business_date, sum(rows_accepted) FROM audit.deliveries "
     "WHERE source_id = 'gaj_hjrk' GROUP BY 1"),
    ("lineage runs", "platform_admin", "SELECT job, count(*) FROM lineage.runs GROUP BY 1"),
    ("audit of queries", "platform_admin", "SELECT role, count(*) FROM audit.queries GROUP BY 1"),
]  # fmt: skip


def build(persons: int, days: int) -> Path:
    base = ROOT / "var" / "bench" / f"maintain_{persons}_{days}"
    landing, lake = base / "landing", base / "lake"
    if not (lake / "lineage" / "publications").exists():
        shutil.rmtree(base, ignore_errors=True)
        cli = [sys.executable, "-m", "jobs.serving.cli"]
        subprocess.run(
            [sys.executable, "-m", "samplecity", "--persons", str(persons), "--days", str(days), "--out", str(landing)],
            check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        t0 = time.time()
        subprocess.run(
            [*cli, "run", "--landing", str(landing), "--lake", str(lake)],
            check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        print(f"built {days} business dates in {time.time() - t0:.0f} s")
    return lake


def footprint(lake: Path) -> dict[str, tuple[int, int, int]]:
    """{table: (data files read by the latest version, bytes on disk, log files)}."""
    import pyarrow as pa
    from deltalake import DeltaTable

    from jobs.platform.delta import lake_tables

    out = {}
    for t in lake_tables(lake):
        path = lake / t.replace(".", "/")
        live = pa.table(DeltaTable(str(path)).get_add_actions(flatten=True)).num_rows
        disk = sum(p.stat().st_size for p in path.rglob("*.parquet"))
        logs = len(list((path / "_delta_log").glob("*.json")))
        out[t] = (live, disk, logs)
    return out


def latency(lake: Path, repeat: int = 5) -> dict[str, tuple[float, float]]:
    """{query: (first, median of the rest) in ms}, a fresh session each time (as a user has)."""
    from jobs.serving.sql.session import SqlSession

    out = {}
    for name, role, sql in QUERIES:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            SqlSession(lake, role=role, user="bench").query(sql)
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = (times[0], statistics.median(times[1:]))
    return out


def grow_audit(lake: Path, n: int) -> None:
    from jobs.serving.sql.session import SqlSession

    session = SqlSession(lake, role="city_analyst", user="bench")
    for i in range(n):
        session.query(
            f"SELECT count(*) FROM silver.person WHERE birth_date > DATE '1950-01-01' + {i}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=2000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--queries", type=int, default=300, help="analyst queries before measuring")
    args = ap.parse_args()
    source = build(args.persons, args.days)
    lake = source.parent / "measured"
    shutil.rmtree(lake, ignore_errors=True)
    shutil.copytree(source, lake)
    grow_audit(lake, args.queries)
    before, slow = footprint(lake), latency(lake)
    from jobs.platform.maintenance import maintain

    t0 = time.time()
    maintain(lake)
    first = time.time() - t0
    t0 = time.time()
    maintain(lake, min_retention_hours=0)  # the files the first pass replaced, as a day later
    second = time.time() - t0
    after, fast = footprint(lake), latency(lake)
    print(f"\nlake of {args.days} business dates, {args.persons:,} persons, "
          f"{args.queries} analyst queries; maintain {first:.1f} s, again {second:.1f} s "
          f"({dt.date.today()})")  # fmt: skip
    print(f"\n{'table':<28} {'files read':>15} {'MiB on disk':>17} {'log commits':>12}")
    shown = [t for t in before if before[t][0] > 5 or t.startswith(("audit.", "lineage."))]
    for t in shown:
        (f0, d0, l0), (f1, d1, l1) = before[t], after[t]
        print(f"{t:<28} {f0:>7}→{f1:<7} {d0 / 2**20:>8.2f}→{d1 / 2**20:<8.2f} {l0:>5}→{l1:<5}")
    tot = [sum(v[i] for v in before.values()) for i in range(3)]
    tot2 = [sum(v[i] for v in after.values()) for i in range(3)]
    print(f"{'all ' + str(len(before)) + ' tables':<28} {tot[0]:>7}→{tot2[0]:<7} "
          f"{tot[1] / 2**20:>8.2f}→{tot2[1] / 2**20:<8.2f} {tot[2]:>5}→{tot2[2]:<5}")  # fmt: skip
    print(f"\n{'query (fresh session each time)':<34} {'before: first / median ms':>26} "
          f"{'after: first / median ms':>26}")  # fmt: skip
    for name in slow:
        (a, b), (c, d) = slow[name], fast[name]
        print(f"{name:<34} {a:>12.0f} / {b:<11.0f} {c:>12.0f} / {d:<11.0f}")
    # --as-of still reads every published date
    from jobs.platform import publication
    from jobs.serving.sql.session import SqlSession

    dates = sorted({p.business_date for p in publication.publications(lake)})
    for d in dates:
        SqlSession(lake, role="city_analyst", user="bench", as_of=d).query(
            "SELECT count(*) FROM silver.person"
        )
    print(f"\n--as-of read every one of the {len(dates)} published dates after maintenance")


if __name__ == "__main__":
    main()
