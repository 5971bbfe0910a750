"""Quality-stage benchmark: time and peak memory of the `quality` stage (suites, rules, findings,
scores) and of `govlake report` for the first date of the cities that bench/ingest_bench.py and
bench/base_bench.py built (run those first), beside the base build it checks. Prints figures,
including the share of the stage spent inside Great Expectations.

    python bench/quality_bench.py --persons 100000 1000000
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_bench import bench_args, bench_dirs, measured, stage_command  # noqa: E402


def main() -> None:
    args = bench_args(__doc__)
    print(
        f"{'persons':>9} {'quality s':>10} {'peak GiB':>9} {'in GX s':>8} {'GX %':>6} {'report s':>9}"
    )
    for n in args.persons:
        city, lake = bench_dirs(n, args.seed)
        if not (lake / "silver").is_dir():
            raise SystemExit(f"{lake} has no silver: run bench/base_bench.py first")
        shutil.rmtree(lake / "quality", ignore_errors=True)
        shutil.rmtree(lake / "_gx", ignore_errors=True)
        out = lake.parent / f"{lake.name}-quality.out"
        cmd = stage_command(city, lake, "quality", args.start)
        with out.open("w") as f:
            seconds, gib = measured(cmd, stdout=f)
        text = out.read_text("utf-8")
        m = re.search(r"inside Great Expectations ([0-9.]+)s", text)
        gx = float(m.group(1)) if m else float("nan")
        t0 = time.time()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "jobs.serving.cli",
                "report",
                "--lake",
                str(lake),
                "--out",
                str(lake.parent / f"report_{n}"),
            ],
            check=True,
            capture_output=True,
        )
        report = time.time() - t0
        print(
            f"{n:>9,} {seconds:>10.1f} {gib:>9.2f} {gx:>8.1f} {100 * gx / seconds:>5.0f}% {report:>9.1f}",
            flush=True,
        )
    print(
        "target: the quality stage takes no longer than the base build it checks (bench/base_bench.py)"
    )


if __name__ == "__main__":
    main()
