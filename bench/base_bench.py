"""Base-library build benchmark: time and peak memory of the `base` stage for the first date of
the cities that bench/ingest_bench.py generated and ingested (run that first). Prints figures.

    python bench/base_bench.py --persons 100000 1000000
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_bench import ROOT, measured  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", default="2026-11-02")
    args = ap.parse_args()
    print(f"{'persons':>9} {'references':>11} {'base s':>8} {'peak GiB':>9}")
    for n in args.persons:
        city = ROOT / "var" / "bench" / f"city_{n}_{args.seed}"
        lake = ROOT / "var" / "bench" / f"lake_{n}"
        if not (lake / "bronze").is_dir():
            raise SystemExit(f"{lake} has no bronze: run `make bench` (ingestion) first")
        shutil.rmtree(lake / "silver", ignore_errors=True)
        seconds, gib = measured(
            [
                sys.executable,
                "-m",
                "jobs.cli",
                "run",
                "--landing",
                str(city),
                "--lake",
                str(lake),
                "--stage",
                "base",
                "--from",
                args.start,
                "--to",
                args.start,
            ]
        )
        from deltalake import DeltaTable

        refs = len(
            DeltaTable(str(lake / "silver" / "person_link"))
            .to_pyarrow_dataset()
            .to_table(columns=["role"])
        )
        print(f"{n:>9,} {refs:>11,} {seconds:>8.1f} {gib:>9.2f}", flush=True)
    print("target (1M persons): base build < 300 s, peak < 8 GiB")


if __name__ == "__main__":
    main()
