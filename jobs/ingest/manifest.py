"""Delivery manifests (the ``.ok`` completion marker) and the landing-zone layout."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from jobs.ingest.readers import FileRejected

DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Manifest:
    file: str
    rows: int
    md5: str
    mode: str
    delivery: str
    parts: int
    delivered_at: dt.datetime


def load_manifest(ok_path: Path, data_name: str) -> Manifest:
    """Parse and validate a ``.ok`` manifest; raises FileRejected('manifest_invalid')."""
    try:
        doc = json.loads(ok_path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FileRejected("manifest_invalid", f"{ok_path.name} is not UTF-8 JSON: {e}") from e
    if not isinstance(doc, dict):
        raise FileRejected("manifest_invalid", f"{ok_path.name} is not a JSON object")
    problems = []
    if doc.get("file") != data_name:
        problems.append(f"file is {doc.get('file')!r}, expected {data_name!r}")
    if not isinstance(doc.get("rows"), int) or doc["rows"] < 0:
        problems.append("rows must be a non-negative integer")
    if not isinstance(doc.get("md5"), str) or not re.fullmatch(r"[0-9a-fA-F]{32}", doc["md5"]):
        problems.append("md5 must be 32 hex digits")
    if doc.get("mode") not in ("full", "incremental"):
        problems.append("mode must be full or incremental")
    if not isinstance(doc.get("delivery"), str) or not doc["delivery"]:
        problems.append("delivery id missing")
    if not isinstance(doc.get("parts"), int) or doc["parts"] < 1:
        problems.append("parts must be a positive integer")
    try:
        delivered_at = dt.datetime.fromisoformat(str(doc.get("delivered_at")))
        if delivered_at.tzinfo is None:
            problems.append("delivered_at has no UTC offset")
    except ValueError:
        problems.append(f"delivered_at {doc.get('delivered_at')!r} is not ISO 8601")
        delivered_at = None
    if problems:
        raise FileRejected("manifest_invalid", f"{ok_path.name}: " + "; ".join(problems))
    return Manifest(
        doc["file"],
        doc["rows"],
        doc["md5"].lower(),
        doc["mode"],
        doc["delivery"],
        doc["parts"],
        delivered_at,
    )


def md5_of(path: Path) -> str:
    h = hashlib.md5()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def business_dates(landing: Path) -> list[dt.date]:
    """Every business date delivered by any source, in order."""
    dates = set()
    for source_dir in landing.iterdir():
        if source_dir.is_dir() and not source_dir.name.startswith(("_", ".")):
            for d in source_dir.iterdir():
                if d.is_dir() and DATE_DIR.match(d.name):
                    dates.add(dt.date.fromisoformat(d.name))
    return sorted(dates)


def delivered_sources(landing: Path, business_date: dt.date) -> list[str]:
    """The source directories with a folder for this date (hidden and ``_`` folders skipped)."""
    return sorted(
        p.name
        for p in landing.iterdir()
        if p.is_dir()
        and not p.name.startswith(("_", "."))
        and (p / business_date.isoformat()).is_dir()
    )
