"""Theme-library benchmark: time and peak memory of the `themes` stage (一人一档, 一企一档 and
their suites) for the first date of the cities that bench/ingest_bench.py, base_bench.py and
quality_bench.py built (run those first). Prints figures.

    python bench/themes_bench.py --persons 100000 1000000
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
    print(f"{'persons':>9} {'profiles':>10} {'themes s':>9} {'peak GiB':>9}")
    for n in args.persons:
        city = ROOT / "var" / "bench" / f"city_{n}_{args.seed}"
        lake = ROOT / "var" / "bench" / f"lake_{n}"
        if not (lake / "quality").is_dir():
            raise SystemExit(f"{lake} has no quality tables: run bench/quality_bench.py first")
        shutil.rmtree(lake / "gold", ignore_errors=True)
        cmd = [sys.executable, "-m", "jobs.cli", "run", "--landing", str(city), "--lake", str(lake)]
        cmd += ["--stage", "themes", "--from", args.start, "--to", args.start]
        seconds, gib = measured(cmd)
        from deltalake import DeltaTable

        rows = len(
            DeltaTable(str(lake / "gold" / "person_profile"))
            .to_pyarrow_dataset()
            .to_table(columns=["person_id"])
        )
        print(f"{n:>9,} {rows:>10,} {seconds:>9.1f} {gib:>9.2f}", flush=True)
    print("target (1M persons): theme build < 180 s")


if __name__ == "__main__":
    main()
