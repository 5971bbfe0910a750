"""Ingestion benchmark: rows per second and peak memory of `govlake run` (bronze stage) on the
first delivery date of generated cities. Prints figures; it is not a test.

    python bench/ingest_bench.py --persons 100000 1000000

Each step runs in its own process and is measured with wait4(): wall time and peak resident
memory (the embedded Sail engine runs inside that process, so its memory is included).
Cities are cached under var/bench/ by their parameters.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measured(cmd: list[str], stdout=subprocess.DEVNULL) -> tuple[float, float]:
    """Run a command; return (seconds, peak RSS in GiB). Raises if it fails."""
    t0 = time.time()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.time() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()[-3000:]}")
    return seconds, usage.ru_maxrss / 1024 / 1024  # ru_maxrss is in KiB on Linux


def bench_args(doc: str) -> argparse.Namespace:
    """The options every benchmark takes: city sizes, seed and the first business date."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--persons", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", default="2026-11-02")
    return ap.parse_args()


def bench_dirs(persons: int, seed: int) -> tuple[Path, Path]:
    """(landing zone, lake) of the benchmark city of that size."""
    return (
        ROOT / "var" / "bench" / f"city_{persons}_{seed}",
        ROOT / "var" / "bench" / f"lake_{persons}",
    )


def stage_command(city: Path, lake: Path, stage: str, day: str) -> list[str]:
    """`govlake run` of one stage for one business date."""
    cmd = [
        sys.executable,
        "-m",
        "jobs.serving.cli",
        "run",
        "--landing",
        str(city),
        "--lake",
        str(lake),
    ]
    return cmd + ["--stage", stage, "--from", day, "--to", day]


def manifest_rows(landing: Path, date: str) -> int:
    return sum(json.loads(ok.read_text())["rows"] for ok in landing.glob(f"*/{date}/*.ok"))


def main() -> None:
    args = bench_args(__doc__)
    govlake = [sys.executable, "-m", "jobs.serving.cli"]
    print(
        f"{'persons':>9} {'gen s':>7} {'gen GiB':>8} {'rows':>10} {'files':>6} {'ingest s':>9} "
        f"{'rows/s':>9} {'peak GiB':>9}"
    )
    for n in args.persons:
        city, lake = bench_dirs(n, args.seed)
        if not (city / "_truth" / "params.json").exists():
            gen_s, gen_gib = measured(
                [
                    sys.executable,
                    "-m",
                    "samplecity",
                    "--persons",
                    str(n),
                    "--days",
                    "1",
                    "--seed",
                    str(args.seed),
                    "--start",
                    args.start,
                    "--out",
                    str(city),
                ]
            )
        else:
            gen_s, gen_gib = float("nan"), float("nan")
        shutil.rmtree(lake, ignore_errors=True)
        rows = manifest_rows(city, args.start)
        files = len(list(city.glob(f"*/{args.start}/*.ok")))
        ing_s, ing_gib = measured(
            [
                *govlake,
                "run",
                "--landing",
                str(city),
                "--lake",
                str(lake),
                "--from",
                args.start,
                "--to",
                args.start,
            ]
        )
        print(
            f"{n:>9,} {gen_s:>7.1f} {gen_gib:>8.2f} {rows:>10,} {files:>6} {ing_s:>9.1f} "
            f"{rows / ing_s:>9,.0f} {ing_gib:>9.2f}",
            flush=True,
        )
    print("targets (1M persons, first date): ingest < 300 s, peak < 6 GiB")


if __name__ == "__main__":
    main()
