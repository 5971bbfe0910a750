"""The incremental build gives the lake a full rebuild gives (slow).

The shared sample city is built by ``govlake run`` as a user runs it: from its second date on,
the person profiles are built for the persons the date's changes can touch. A fourth date
re-delivers 户籍 with corrections (a name, a household's relation), a person moved to another
household and records deleted; the same four dates built with ``--full`` must give the same
lake, table by table, including when each row last changed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from pathlib import Path

import pytest

from tests.dags.lake_compare import differences
from tests.integration.landing_kit import deliver

pytestmark = pytest.mark.slow

LAST = dt.date(2026, 11, 4)
NEXT = LAST + dt.timedelta(days=1)


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("gb18030", "surrogateescape"))))
    return rows[0], rows[1:]


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue().encode("gb18030", "surrogateescape")


def _next_hjrk(landing: Path) -> dict[str, str]:
    """户籍 for NEXT: the last snapshot with corrections, a move and deletions; what changed."""
    parts = sorted((landing / "gaj_hjrk" / LAST.isoformat()).glob("*.csv"))
    header, first = _rows(parts[0])
    col = {h: i for i, h in enumerate(header)}
    id_, name, hh, rel = (col[h] for h in ("公民身份号码", "姓名", "户号", "与户主关系"))
    heads = [r for r in first if r[rel] == "02"]
    changed = {
        "renamed": first[3][id_],
        "moved": first[5][id_],
        "relation": first[8][id_],
        "deleted": first[10][id_],
    }
    first[3][name] = first[3][name] + "某"
    first[5][hh] = heads[-1][hh]  # moves into the last household of the part
    first[8][rel] = "10" if first[8][rel] != "10" else "20"
    kept = [r for r in first if r[id_] not in {changed["deleted"], heads[0][id_]}]
    changed["deleted_head"] = heads[0][id_]
    files = [(_csv(header, kept), len(kept))]
    for part in parts[1:]:
        h, rows = _rows(part)
        files.append((_csv(h, rows), len(rows)))
    for n, (data, count) in enumerate(files, start=1):
        deliver(
            landing, "gaj_hjrk", NEXT, n, "csv", data, count,
            delivery=f"D{NEXT:%Y%m%d}000001", parts=len(files),
        )  # fmt: skip
    return changed


def test_incremental_profiles_equal_a_full_rebuild(city, city_lake_path, tmp_path, spark):
    from jobs.pipeline.runner import run_pipeline

    landing = tmp_path / "landing"
    shutil.copytree(city, landing)
    changed = _next_hjrk(landing)

    incremental = tmp_path / "incremental"
    shutil.copytree(city_lake_path, incremental)
    said: list[str] = []
    run_pipeline(landing, incremental, echo=said.append)
    built = [line for line in said if "gold.person_profile" in line and "built" in line]
    assert built and "persons in scope since 2026-11-04" in built[-1], said

    full = tmp_path / "full"
    said_full: list[str] = []
    run_pipeline(landing, full, full=True, echo=said_full.append)
    assert all(
        "all persons" in line
        for line in said_full
        if "gold.person_profile" in line and "built" in line
    )

    assert differences(full, incremental) == []

    # the date's changes reached the profiles (the comparison is not of two unchanged lakes)
    from jobs.platform.delta import read_table

    profiles = {
        r["person_id"]: r for r in read_table(incremental / "gold" / "person_profile").to_pylist()
    }
    assert profiles[changed["renamed"]]["identity"]["name"].endswith("某")
    assert profiles[changed["moved"]]["_changed_on"] == NEXT
