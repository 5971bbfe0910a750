"""The workbench at a million findings: how long a page of findings takes (target: under
500 ms), first and deep pages, with filters, through the data layer and over HTTP.

    .venv/bin/python bench/workbench_bench.py [--findings 1000000] [--actions 20000]

Writes a lake of its own under var/bench/workbench (quality.findings, quality.finding_history
and quality.results of one published date, and people's actions), then prints one line per
measure: the median and the slowest of several runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from deltalake import write_deltalake

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jobs.pipeline.quality import actions  # noqa: E402
from jobs.pipeline.quality.rules import rules  # noqa: E402
from jobs.platform import publication  # noqa: E402
from jobs.platform.config import catalog  # noqa: E402

AS_OF = dt.date(2026, 11, 30)


def build(root: Path, n: int, n_actions: int) -> None:
    rng = np.random.default_rng(7)
    rule_ids = np.array(sorted(rules()))
    sources = np.array(sorted(catalog()))
    departments = {s: e.department for s, e in catalog().items()}
    src = sources[rng.integers(0, len(sources), n)]
    first = rng.integers(0, 60, n)
    last = np.minimum(first + rng.integers(0, 60, n), 59)
    day0 = np.datetime64("2026-10-02")
    ids = np.char.add("f", np.arange(n).astype(str))
    person = np.char.add("1309021990", np.char.zfill(np.arange(n).astype(str), 8))
    findings = pa.table(
        {
            "finding_id": ids,
            "rule_id": rule_ids[rng.integers(0, len(rule_ids), n)],
            "dimension": np.full(n, "accuracy"),
            "entity_kind": np.full(n, "person"),
            "entity_id": person,
            "attribute": np.full(n, "name"),
            "source_id": src,
            "department": [departments[s] for s in src],
            "observed": np.full(n, "张三"),
            "expected": np.full(n, "张叁"),
            "authoritative_source": np.full(n, "gaj_hjrk"),
            "first_seen_batch": np.full(n, "b"),
            "last_seen_batch": np.full(n, "b"),
            "first_seen_on": (day0 + first).astype("datetime64[D]"),
            "last_seen_on": (day0 + last).astype("datetime64[D]"),
            "status": np.where(last == 59, "open", "resolved"),
        }
    )
    write_deltalake(str(root / "quality/findings"), findings)
    seen = last == 59
    history = pa.table(
        {
            "finding_id": ids[seen],
            "rule_id": findings["rule_id"].to_numpy(zero_copy_only=False)[seen],
            "source_id": src[seen],
            "observed": np.full(int(seen.sum()), "张三"),
            "expected": np.full(int(seen.sum()), "张叁"),
            "_batch_id": np.full(int(seen.sum()), "b"),
            "_business_date": np.full(int(seen.sum()), np.datetime64(AS_OF, "D")),
        }
    )
    write_deltalake(str(root / "quality/finding_history"), history)
    results = pa.Table.from_pylist(
        [
            {
                "rule_id": r, "dimension": "accuracy", "table": "silver.person", "source_id": s,
                "evaluated": 1_000_000, "failed": 1000, "_business_date": AS_OF,
            }
            for r in rule_ids for s in sources
        ]
    )  # fmt: skip
    write_deltalake(str(root / "quality/results"), results)
    versions = {"quality.findings": 0, "quality.finding_history": 0, "quality.results": 0}
    publication.publish_versions(root, AS_OF, versions=versions, run_id="bench", code_version="b")
    picked = rng.choice(np.flatnonzero(seen), n_actions, replace=False)
    rows = [
        {
            "finding_id": str(ids[i]), "rule_id": "x", "source_id": str(src[i]),
            "department_id": catalog()[str(src[i])].department_id, "action": "dispute",
            "from_status": "open", "to_status": "disputed", "note": "bench", "evidence": None,
            "actor": "bench", "actor_role": "department_liaison", "actor_department": None,
            "effective_date": AS_OF, "client": "bench",
        }
        for i in picked
    ]  # fmt: skip
    actions.append(root, rows)


def timed(label: str, fn, runs: int = 7) -> None:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    print(f"{label:<52} median {statistics.median(times):8.1f} ms   max {max(times):8.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--findings", type=int, default=1_000_000)
    ap.add_argument("--actions", type=int, default=20_000)
    args = ap.parse_args()
    root = Path("var/bench/workbench") / f"lake_{args.findings}"
    if not (root / "quality/findings").exists():
        shutil.rmtree(root, ignore_errors=True)
        t = time.perf_counter()
        build(root, args.findings, args.actions)
        print(f"built a lake of {args.findings:,} findings in {time.perf_counter() - t:.1f} s")

    from jobs.serving.workbench.state import WorkbenchData

    wb = WorkbenchData(root)
    t = time.perf_counter()
    wb.refresh()
    print(
        f"{'first load (findings into memory, pseudonyms)':<52} {1000 * (time.perf_counter() - t):8.1f} ms"
    )
    page = lambda **kw: wb.findings_page(department=None, entity_in_clear=True, **kw)  # noqa: E731
    first = page(filters={})
    print(f"findings: {first.total:,}")
    timed("page 1, no filter", lambda: page(filters={}))
    cursor = first.next_cursor
    for _ in range(200):  # the 201st page, by keyset
        cursor = page(filters={}, cursor=cursor).next_cursor
    timed("page 201, no filter", lambda: page(filters={}, cursor=cursor))
    timed("page 1, status open", lambda: page(filters={"status": "open"}))
    timed("page 1, status disputed", lambda: page(filters={"status": "disputed"}))
    timed(
        "page 1, rule + department",
        lambda: page(filters={"rule": "person_name_mismatch", "department": "rsj"}),
    )
    timed("page 1, one entity", lambda: page(filters={"entity": "130902199000012345"}))
    timed(
        "page 1, date range",
        lambda: page(filters={"date_from": "2026-11-01", "date_to": "2026-11-10"}),
    )
    timed("counts per department (dashboard)", wb.counts_by_department)
    timed("scores of the date (dashboard)", wb.scores)

    from starlette.testclient import TestClient

    from jobs.serving.auth import users
    from jobs.serving.web.app import WebConfig, build_app

    users_file = root.parent / f"users_{args.findings}.json"
    users_file.unlink(missing_ok=True)
    users.add(
        users_file, name="bench", role="quality_officer", division=None, password="bench-password-1"
    )
    client = TestClient(
        build_app(WebConfig(lake=root, users_file=users_file)), base_url="https://testserver"
    )
    form = client.get("/login").text
    tok = form.split('name="login_token" value="')[1].split('"')[0]
    client.post(
        "/login", data={"username": "bench", "password": "bench-password-1", "login_token": tok}
    )
    timed("HTTP GET /findings (rendered, audited)", lambda: client.get("/findings"))
    timed(
        "HTTP GET /findings?status=open&department=rsj",
        lambda: client.get("/findings?status=open&department=rsj"),
    )
    timed("HTTP GET / (dashboard)", lambda: client.get("/"), runs=3)

    users.add(
        users_file, name="liaison", role="department_liaison", division=None,
        department="rsj", password="bench-password-1",
    )  # fmt: skip
    liaison = TestClient(client.app, base_url="https://testserver")
    form = liaison.get("/login").text
    tok = form.split('name="login_token" value="')[1].split('"')[0]
    liaison.post(
        "/login", data={"username": "liaison", "password": "bench-password-1", "login_token": tok}
    )
    csrf = liaison.get("/").text.split('name="csrf" value="')[1].split('"')[0]
    todo = iter(
        r["finding_id"]
        for r in wb.findings_page(
            filters={"status": "open"}, department="rsj", entity_in_clear=True, page_size=20
        ).rows
    )

    def dispute():
        r = liaison.post(
            f"/findings/{next(todo)}/act",
            data={"action": "dispute", "note": "bench", "csrf": csrf},
            headers={"accept": "application/json"},
        )
        assert r.json()["status"] == "disputed", r.text

    timed("HTTP POST a dispute (checked, appended, re-derived)", dispute, runs=5)


if __name__ == "__main__":
    main()
