"""The suite's shared sample city: generated and run through the pipeline once per test run.

However many pytest-xdist workers ask, the first to take the folder's lock builds it and the
others wait for it and use what it built (callers copy a lake before writing to it). Under
xdist the first worker also starts ``python -m tests.shared_city ROOT`` at once, so the build
runs beside the first tests instead of after them.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from samplecity.main import GenerateOptions, generate

CITY_OPTIONS = GenerateOptions(
    persons=2500,
    days=3,
    seed=7,
    start=dt.date(2026, 11, 2),
    value_fault_rate=0.02,
    parse_fault_rate=0.003,
    file_fault_rate=0.3,
    conflict_rate=0.02,
    event_scale=20.0,
)


def built_once(root: Path, name: str, build: Callable[[Path], None]) -> Path:
    """``root/shared-<name>``, made by ``build`` unless another process made it already."""
    target = root / f"shared-{name}"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / f"shared-{name}.done").exists():
            shutil.rmtree(target, ignore_errors=True)
            build(target)
            (root / f"shared-{name}.done").touch()
    return target


def city(root: Path) -> Path:
    """The landing zone of the sample city."""
    built = built_once(
        root, "city", lambda out: generate(out / "landing", CITY_OPTIONS, log=lambda m: None)
    )
    return built / "landing"


def city_lake(root: Path) -> Path:
    """The lake of the sample city (``govlake run`` over all its dates)."""
    from jobs.pipeline.runner import run_pipeline

    landing = city(root)
    built = built_once(
        root, "city-lake", lambda out: run_pipeline(landing, out / "lake", echo=lambda m: None)
    )
    return built / "lake"


if __name__ == "__main__":
    city_lake(Path(sys.argv[1]))
