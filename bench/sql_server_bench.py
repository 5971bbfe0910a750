"""SQL server benchmark: latency over the PostgreSQL wire protocol (`govlake serve sql`), as BI
tools see it, on the lakes the other benches built (run bench/themes_bench.py first).

For 1, 10 and 20 concurrent psycopg clients, each running the same query over and over on its
own connection, prints p50 and p95 latency of a point lookup (one person by key) and of a
grouped query. The server runs in its own process on 127.0.0.1 and is stopped at the end.

    python bench/sql_server_bench.py --persons 1000000
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_bench import bench_args, bench_dirs  # noqa: E402

CLIENTS = (1, 10, 20)
SECONDS = 15  # per (query, clients) cell, after one warm-up query per client
PASSWORD = "bench-password-1234"
ROLES = {"analyst": "city_analyst", "officer": "quality_officer"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(lake: Path, users: Path, port: int, env: dict) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "jobs.serving.cli", "serve", "sql", "--lake", str(lake)]
    cmd += ["--users", str(users), "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit(server.stdout.read().decode(errors="replace")) from None
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start within 60 s")


def _cell(port: int, kind: str, sql: str, params: list, clients: int) -> list[float]:
    import psycopg

    latencies: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)
    errors: list[BaseException] = []

    def client(user: str) -> None:
        try:
            with psycopg.connect(
                host="127.0.0.1", port=port, user=user, password=PASSWORD, dbname="govlake",
                autocommit=True, sslmode="disable",
            ) as con:  # fmt: skip
                con.execute(sql, params).fetchall()  # warm-up: the session opens its views
                start.wait()
                end = time.monotonic() + SECONDS
                mine = []
                while time.monotonic() < end:
                    t = time.perf_counter()
                    con.execute(sql, params).fetchall()
                    mine.append(time.perf_counter() - t)
                with lock:
                    latencies.extend(mine)
        except BaseException as e:  # reported below
            errors.append(e)
            start.abort()

    # one user per client, as analysts connect each with their own name
    threads = [threading.Thread(target=client, args=(f"{kind}{i}",)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return latencies


def main() -> None:
    args = bench_args(__doc__)
    from deltalake import DeltaTable

    from jobs.platform.policy import pseudonym

    print(
        f"{'persons':>9}  {'query':<34} {'role':<16} {'clients':>7} {'queries':>8} "
        f"{'p50 ms':>8} {'p95 ms':>8}"
    )
    for n in args.persons:
        _, lake = bench_dirs(n, args.seed)
        if not (lake / "gold" / "person_profile").is_dir():
            raise SystemExit(f"{lake} has no gold tables: run bench/themes_bench.py first")
        ids = DeltaTable(str(lake / "silver" / "person")).to_pyarrow_dataset()
        person_id = ids.head(n // 2, columns=["person_id"])["person_id"][-1].as_py()
        work = Path(tempfile.mkdtemp(prefix="govlake-sql-bench-"))
        env = dict(os.environ)
        env.setdefault("GOVLAKE_PSEUDONYM_KEY", "bench-only-key-" + "0" * 32)
        users = work / "users.json"
        from jobs.serving.auth import users as user_file

        for kind, role in ROLES.items():
            for i in range(max(CLIENTS)):
                user_file.add(users, name=f"{kind}{i}", role=role, division=None, password=PASSWORD)
        os.environ.update({k: env[k] for k in ("GOVLAKE_PSEUDONYM_KEY",)})
        key = pseudonym(person_id)
        cases = [
            ("point lookup (pseudonym)", "analyst", "SELECT * FROM silver.person WHERE person_id = %s", [key]),
            ("point lookup (ID number)", "officer", "SELECT * FROM silver.person WHERE person_id = %s", [person_id]),
            ("grouped: persons by district", "analyst",
             "SELECT region_code, count(*) AS persons, count(*) FILTER (WHERE is_deceased) AS dead "
             "FROM silver.person GROUP BY region_code ORDER BY region_code", []),
        ]  # fmt: skip
        port = _free_port()
        server = _start(lake, users, port, env)
        try:
            for label, user, sql, params in cases:
                for clients in CLIENTS:
                    lat = sorted(_cell(port, user, sql, params, clients))
                    p50 = statistics.median(lat) * 1000
                    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))] * 1000
                    role = ROLES[user]
                    print(
                        f"{n:>9,}  {label:<34} {role:<16} {clients:>7} {len(lat):>8} "
                        f"{p50:>8.0f} {p95:>8.0f}",
                        flush=True,
                    )
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
    print("target (1M persons): point lookup p95 < 1000 ms at 10 clients")


if __name__ == "__main__":
    main()
