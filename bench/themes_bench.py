"""Theme-library benchmark: time and peak memory of the `themes` stage (一人一档, 一企一档 and
their suites) for the first date of the cities that bench/ingest_bench.py, base_bench.py and
quality_bench.py built (run those first). Prints figures.

    python bench/themes_bench.py --persons 100000 1000000
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_bench import bench_args, bench_dirs, measured, stage_command  # noqa: E402


def main() -> None:
    args = bench_args(__doc__)
    print(f"{'persons':>9} {'profiles':>10} {'themes s':>9} {'peak GiB':>9}")
    for n in args.persons:
        city, lake = bench_dirs(n, args.seed)
        if not (lake / "quality").is_dir():
            raise SystemExit(f"{lake} has no quality tables: run bench/quality_bench.py first")
        shutil.rmtree(lake / "gold", ignore_errors=True)
        # the themes and the scores stage after them (the gold suites, as the themes did before)
        cmd = stage_command(city, lake, "themes", args.start) + ["--stage", "scores"]
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
