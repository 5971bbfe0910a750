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


@dataclass
class DayFiles:
    """A source's folder for one business date, its files paired with their ``.ok`` manifests."""

    manifests: dict[str, Manifest]  # data file → its valid manifest
    unmarked: list[str]  # data files without a .ok: still being written (or never marked)
    orphans: list[str]  # .ok files whose data file is absent
    invalid: dict[str, FileRejected]  # data files whose .ok could not be read

    @property
    def empty(self) -> bool:
        return not (self.manifests or self.unmarked or self.orphans or self.invalid)


def pair_files(day_dir: Path) -> DayFiles:
    """Pair the data files of a date folder with their manifests (hidden files skipped)."""
    if not day_dir.is_dir():
        return DayFiles({}, [], [], {})
    names = sorted(p.name for p in day_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    data = [n for n in names if not n.endswith(".ok")]
    oks = {n[:-3] for n in names if n.endswith(".ok")}
    out = DayFiles({}, [n for n in data if n not in oks], sorted(oks - set(data)), {})
    for name in data:
        if name in oks:
            try:
                out.manifests[name] = load_manifest(day_dir / f"{name}.ok", name)
            except FileRejected as e:
                out.invalid[name] = e
    return out


def latest_delivery(manifests: dict[str, Manifest]) -> str | None:
    """The delivery id of the latest delivery (by ``delivered_at``): it replaces earlier ones."""
    if not manifests:
        return None
    latest = max(manifests.items(), key=lambda kv: (kv[1].delivered_at, kv[0]))
    return latest[1].delivery


@dataclass(frozen=True)
class DeliveryState:
    """Whether a source's delivery for a date has fully arrived (for the ingestion DAGs)."""

    status: str  # "complete" | "incomplete" | "absent"
    detail: str


def delivery_state(landing: Path, source_id: str, business_date: dt.date) -> DeliveryState:
    """``complete`` when the latest delivery's every part has arrived with its ``.ok`` and no
    data file is still without one; ``incomplete`` when something arrived but not all of it;
    ``absent`` when nothing did. Reads only the small ``.ok`` files."""
    day_dir = Path(landing) / source_id / business_date.isoformat()
    files = pair_files(day_dir)
    if files.empty:
        return DeliveryState("absent", f"nothing delivered in {day_dir}")
    delivery = latest_delivery(files.manifests)
    latest = [m for m in files.manifests.values() if m.delivery == delivery]
    parts = max((m.parts for m in latest), default=0)
    waiting = []
    if files.unmarked:
        waiting.append(f"{len(files.unmarked)} file(s) without a .ok yet: {files.unmarked}")
    if len(latest) < parts:
        waiting.append(f"delivery {delivery}: {len(latest)} of {parts} parts")
    if not latest:
        waiting.append("no file with a valid .ok")
    if waiting:
        return DeliveryState("incomplete", "; ".join(waiting))
    return DeliveryState("complete", f"delivery {delivery}: {len(latest)} part(s)")
