"""Base-library build benchmark: time and peak memory of the `base` stage for the first date of
the cities that bench/ingest_bench.py generated and ingested (run that first). Prints figures.

    python bench/base_bench.py --persons 100000 1000000
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_bench import bench_args, bench_dirs, measured, stage_command  # noqa: E402


def main() -> None:
    args = bench_args(__doc__)
    print(f"{'persons':>9} {'references':>11} {'base s':>8} {'peak GiB':>9}")
    for n in args.persons:
        city, lake = bench_dirs(n, args.seed)
        if not (lake / "bronze").is_dir():
            raise SystemExit(f"{lake} has no bronze: run `make bench` (ingestion) first")
        shutil.rmtree(lake / "silver", ignore_errors=True)
        seconds, gib = measured(stage_command(city, lake, "base", args.start))
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
