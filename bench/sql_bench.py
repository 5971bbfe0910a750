"""Analyst SQL benchmark: latency of typical queries through `govlake sql`'s session (guard,
masked views, DuckDB, audit row) on the lakes that the other benches built (run
bench/themes_bench.py first). Prints, per query, the first run (which opens the tables) and the
median of the next runs.

    python bench/sql_bench.py --persons 100000 1000000
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_bench import bench_args, bench_dirs  # noqa: E402

REPEAT = 5


def queries(person_id: str) -> list[tuple[str, str, str]]:
    """(name, role, SQL): the queries analysts and officers run most."""
    return [
        (
            "filter by person",
            "quality_officer",
            f"SELECT * FROM silver.person WHERE person_id = '{person_id}'",
        ),
        (
            "count by district",
            "city_analyst",
            "SELECT region_code, count(*) AS persons, count(*) FILTER (WHERE is_deceased) AS dead "
            "FROM silver.person GROUP BY region_code ORDER BY region_code",
        ),
        (
            "profile ⋈ licences",
            "quality_officer",
            "SELECT p.identity.region_code AS region, l.licence_type, count(*) AS n "
            "FROM gold.person_profile p JOIN silver.licence l ON l.holder_code = p.person_id "
            "WHERE l.status = 'valid' GROUP BY ALL ORDER BY n DESC LIMIT 20",
        ),
        (
            "profile licences (masked)",
            "city_analyst",
            "SELECT identity.region_code AS region, count(*) AS holders "
            "FROM gold.person_profile WHERE len(licences) > 0 GROUP BY 1 ORDER BY 1",
        ),
    ]


def main() -> None:
    args = bench_args(__doc__)
    import pyarrow as pa
    from deltalake import DeltaTable, QueryBuilder

    from jobs.serving.sql.session import SqlSession

    print(
        f"{'persons':>9}  {'query':<28} {'role':<16} {'rows':>6} {'first ms':>9} {'median ms':>10}"
    )
    for n in args.persons:
        _, lake = bench_dirs(n, args.seed)
        if not (lake / "gold" / "person_profile").is_dir():
            raise SystemExit(f"{lake} has no gold tables: run bench/themes_bench.py first")
        ids = pa.table(
            QueryBuilder()
            .register("p", DeltaTable(str(lake / "silver" / "person")))
            .execute(f"SELECT person_id FROM p LIMIT {n // 2}")
        )
        person_id = ids["person_id"][-1].as_py()
        sessions: dict[str, SqlSession] = {}
        for name, role, sql in queries(person_id):
            if role not in sessions:
                sessions[role] = SqlSession(lake, role=role, user="bench", client="bench")
            session = sessions[role]
            started = time.perf_counter()
            result = session.query(sql)
            first = (time.perf_counter() - started) * 1000
            times = []
            for _ in range(REPEAT):
                started = time.perf_counter()
                session.query(sql)
                times.append((time.perf_counter() - started) * 1000)
            print(
                f"{n:>9,}  {name:<28} {role:<16} {result.table.num_rows:>6} {first:>9.0f} "
                f"{statistics.median(times):>10.0f}",
                flush=True,
            )
        for s in sessions.values():
            s.close()
    print("target (1M persons): filter by person and count by district < 1000 ms")


if __name__ == "__main__":
    main()
