"""Hostile landing zones built by code from a clean sample city (docs/security.md).

An attacker with write access to one department's folder can replace files, add links, folders
and odd names, and shape every byte of a delivery. Each helper here makes one such change to a
copy of a clean landing zone; the tests then ingest it and look at the lake.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

from jobs.platform import delta
from samplecity.main import GenerateOptions, generate

D = dt.date(2026, 11, 2)
SECRET = "TOP-SECRET-7f3a9c-不应出现"  # planted outside the landing zone; must never reach the lake
CLEAN = GenerateOptions(
    persons=300,
    days=1,
    seed=5,
    start=D,
    value_fault_rate=0.0,
    parse_fault_rate=0.0,
    file_fault_rate=0.0,
    conflict_rate=0.0,
    correction=False,
)


def clean_city(root: Path) -> Path:
    landing = root / "landing"
    generate(landing, CLEAN, log=lambda m: None)
    return landing


def copy_landing(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("_truth"))
    return dst


def day_dir(landing: Path, source: str, date: dt.date = D) -> Path:
    return landing / source / date.isoformat()


def the_file(landing: Path, source: str) -> Path:
    """The one data file a clean delivery of ``source`` has on ``D``."""
    files = [p for p in day_dir(landing, source).iterdir() if not p.name.endswith(".ok")]
    assert len(files) == 1, files
    return files[0]


def manifest(data_file: Path) -> dict:
    return json.loads(data_file.with_name(data_file.name + ".ok").read_text())


def redeliver(data_file: Path, data: bytes, **over) -> Path:
    """Replace a delivered file's bytes, with a matching manifest (``over`` changes keys;
    ``rows`` defaults to the old count)."""
    ok = data_file.with_name(data_file.name + ".ok")
    doc = {**manifest(data_file), "md5": hashlib.md5(data).hexdigest(), **over}
    data_file.write_bytes(data)
    ok.write_text(json.dumps(doc, ensure_ascii=False))
    return data_file


def write_ok(ok: Path, doc_text: str) -> None:
    ok.write_text(doc_text, encoding="utf-8")


def outside_secret(root: Path) -> Path:
    """A file outside the landing zone holding :data:`SECRET` in CSV, JSON and text shapes."""
    secret = root / "outside" / "secret.csv"
    secret.parent.mkdir(parents=True, exist_ok=True)
    line = f"{SECRET},{SECRET}\n"
    secret.write_text(line * 3 + json.dumps({"djlx": SECRET}) + "\n", encoding="utf-8")
    return secret


def lake_bytes_hold(lake_root: Path, needle: str) -> list[str]:
    """Files under the lake (Parquet, logs, JSON, HTML) whose bytes contain ``needle``."""
    raw = needle.encode()
    return [
        str(p.relative_to(lake_root))
        for p in Path(lake_root).rglob("*")
        if p.is_file() and raw in p.read_bytes()
    ]


def slice_rows(lake, table: str, source: str, date: dt.date = D) -> list[dict]:
    """A source-date's rows of a bronze, quarantine or audit table (delta-rs, no Spark)."""
    if not lake.exists(table):
        return []
    date_col, source_col = (
        ("_business_date", "_source_id")
        if table.startswith(("bronze.", "quarantine.rows"))
        else ("business_date", "source_id")
    )
    return delta.query(
        lake.root,
        {"t": (table, None)},
        sql=f"SELECT * FROM t WHERE {date_col} = DATE '{date}' AND {source_col} = '{source}'",
    )


def reasons(lake, table: str, source: str) -> dict[str, str]:
    """{file or row: reason_code} of a source-date's quarantine.files or quarantine.rows."""
    rows = slice_rows(lake, table, source)
    if table == "quarantine.files":
        return {r["file"]: r["reason_code"] for r in rows}
    return {r["_row_number"]: r["reason_code"] for r in rows}


def consistent(lake, source: str, date: dt.date = D) -> bool:
    """A source-date's bronze slice, quarantine rows and audit rows agree: every batch and file
    in bronze/quarantine is an accepted file of audit.deliveries, with matching counts."""
    audit = slice_rows(lake, "audit.deliveries", source, date)
    accepted = {a["file"]: a for a in audit if a["status"] == "accepted"}
    bronze = slice_rows(lake, f"bronze.{source}", source, date)
    quarantined = slice_rows(lake, "quarantine.rows", source, date)
    for rows, key in ((bronze, "rows_accepted"), (quarantined, "rows_quarantined")):
        by_file: dict[str, int] = {}
        for r in rows:
            by_file[r["_file"]] = by_file.get(r["_file"], 0) + 1
        if any(f not in accepted or accepted[f][key] != n for f, n in by_file.items()):
            return False
        if any(a[key] != by_file.get(f, 0) for f, a in accepted.items()):
            return False
    return True
