"""The pipeline against a single-node reference, on whole generated cities (`make bench`).

    python bench/city_bench.py --persons 100000 1000000 --days 3

For each size: generate the city once (cached under var/bench/), run `govlake run` over all its
dates in a fresh lake, and run bench/reference.py (DuckDB, the same core work) on the same
landing zone, each in its own process measured with wait4() (wall time, peak resident memory).
Prints one table: stage × size × first date and later dates (mean), records delivered per
second, then per size the totals, the peaks and the ratio to the reference, and the targets of
issue 17 with how far each is. Prints figures; it is not a test.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_bench import bench_args, bench_dirs, measured  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STEP = re.compile(r"^== (\d{4}-\d{2}-\d{2}) (\w+):")
SECONDS = re.compile(r"^   \((\d+(?:\.\d+)?)s\)$")


def _stage_seconds(output: str) -> dict[tuple[str, str], float]:
    """(date, stage) → seconds, from `govlake run`'s lines."""
    out, step = {}, None
    for line in output.splitlines():
        if m := STEP.match(line):
            step = (m.group(1), m.group(2))
        elif (m := SECONDS.match(line)) and step:
            out[step] = float(m.group(1))
            step = None
    return out


def _records(landing: Path, day: str) -> int:
    return sum(json.loads(ok.read_text())["rows"] for ok in landing.glob(f"*/{day}/*.ok"))


def _city(n: int, days: int, seed: int, start: str) -> Path:
    city, _ = bench_dirs(n, seed)
    city = city.with_name(f"{city.name}_{days}d")
    if not (city / "_truth" / "params.json").exists():
        shutil.rmtree(city, ignore_errors=True)
        cmd = [sys.executable, "-m", "samplecity", "--persons", str(n), "--days", str(days)]
        measured([*cmd, "--seed", str(seed), "--start", start, "--out", str(city)])
    return city


def _pipeline(city: Path, lake: Path) -> tuple[float, float, dict]:
    shutil.rmtree(lake, ignore_errors=True)
    log = lake.with_suffix(".out")
    with open(log, "w") as f:
        cmd = [sys.executable, "-m", "jobs.serving.cli", "run", "--landing", str(city)]
        seconds, gib = measured([*cmd, "--lake", str(lake)], stdout=f)
    return seconds, gib, _stage_seconds(log.read_text())


def _reference(city: Path, out: Path) -> tuple[float, float]:
    shutil.rmtree(out, ignore_errors=True)
    return measured([sys.executable, str(ROOT / "bench" / "reference.py"), str(city), str(out)])


def main() -> None:
    ap = bench_args(__doc__)
    days = 3
    rows, totals = [], []
    for n in ap.persons:
        city = _city(n, days, ap.seed, ap.start)
        lake = ROOT / "var" / "bench" / f"lake_city_{n}"
        t0 = time.time()
        p_s, p_gib, steps = _pipeline(city, lake)
        r_s, r_gib = _reference(city, lake.with_name(f"reference_{n}"))
        dates = sorted({d for d, _ in steps})
        for stage in dict.fromkeys(s for _, s in steps):
            first = steps.get((dates[0], stage))
            later = [steps[(d, stage)] for d in dates[1:] if (d, stage) in steps]
            rows.append((n, stage, first, sum(later) / len(later) if later else None, city, dates))
        first_total = sum(s for (d, _), s in steps.items() if d == dates[0])
        later_totals = [sum(s for (d, _), s in steps.items() if d == day) for day in dates[1:]]
        totals.append((n, p_s, p_gib, r_s, r_gib, first_total, later_totals, time.time() - t0))
    _print(rows, totals)


def _print(rows, totals) -> None:
    print(
        f"{'persons':>9} {'stage':<9} {'first s':>8} {'later s':>8} {'first rec/s':>12} {'later rec/s':>12}"
    )
    for n, stage, first, later, city, dates in rows:
        rec_first = _records(city, dates[0])
        rec_later = sum(_records(city, d) for d in dates[1:]) / max(len(dates) - 1, 1)
        print(
            f"{n:>9,} {stage:<9} {first or 0:>8.1f} {later or 0:>8.1f} "
            f"{rec_first / first if first else 0:>12,.0f} {rec_later / later if later else 0:>12,.0f}"
        )
    print()
    print(
        f"{'persons':>9} {'govlake s':>10} {'peak GiB':>9} {'reference s':>12} {'peak GiB':>9} {'ratio':>6} {'later/first':>12}"
    )
    for n, p_s, p_gib, r_s, r_gib, first, later, _ in totals:
        share = max(later) / first if later and first else float("nan")
        print(
            f"{n:>9,} {p_s:>10.1f} {p_gib:>9.2f} {r_s:>12.1f} {r_gib:>9.2f} {p_s / r_s:>6.1f} {share:>12.0%}"
        )
    print()
    by = {t[0]: t for t in totals}
    print("targets (issue 17):")
    if 100_000 in by:
        print(
            f"  100k × 3 dates, govlake ≤ 3× the reference: {by[100_000][1] / by[100_000][3]:.1f}×"
        )
    if 1_000_000 in by:
        big = by[1_000_000]
        print(f"  1M × 3 dates ≤ 12 min: {big[1] / 60:.1f} min; peak ≤ 6 GiB: {big[2]:.2f} GiB")
        print(f"  later dates at 1M ≤ 20% of the first: {max(big[6]) / big[5]:.0%}")
        if 100_000 in by:
            print(f"  growth 1M/100k ≤ 11×: {big[1] / by[100_000][1]:.1f}×")


if __name__ == "__main__":
    main()
