"""Delivery manifests (the ``.ok`` completion marker) and a date folder's files.

Manifests are validated as strict types (docs/security.md): ``rows`` and ``parts`` are JSON
integers (never ``true``, ``5.0`` or ``"5"``), ``md5`` 32 hex characters, ``mode`` one of the
contract's, ``delivered_at`` ISO 8601 with an offset. A key given twice is invalid; keys the
contract does not know are recorded in the file's notes.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from jobs.pipeline.ingest.landing import (
    Folder,
    LandingError,
    LandingZone,
    hard_link,
    is_temporary,
    not_a_file,
    printable,
)
from jobs.pipeline.ingest.records import FileRejected
from jobs.platform.config import ingest_limits


class _ManifestDoc(BaseModel):
    """The ``.ok`` document of spec/extracts.md, read strictly (JSON types only)."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    file: str
    rows: int = Field(ge=0)
    md5: str = Field(pattern=r"^[0-9a-fA-F]{32}$")
    mode: Literal["full", "incremental"]
    delivery: str = Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")
    parts: int = Field(ge=1, le=99)  # <NN> is two digits
    delivered_at: AwareDatetime


@dataclass(frozen=True)
class Manifest:
    """A validated ``.ok`` manifest: the file it completes, its rows, md5 and parts."""

    file: str
    rows: int
    md5: str
    mode: str
    delivery: str
    parts: int
    delivered_at: dt.datetime
    notes: tuple[str, ...] = ()


def _no_repeated_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    repeated = sorted({printable(k) for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"key(s) given more than once: {repeated}")
    return dict(pairs)


def _shown(value: object) -> str:
    text = printable(json.dumps(value, ensure_ascii=False, default=str))
    return text if len(text) <= 40 else text[:37] + "..."


def parse_manifest(data: bytes, ok_name: str, *, data_name: str) -> Manifest:
    """Validate a ``.ok`` manifest's bytes; raises FileRejected('manifest_invalid')."""
    ok_name = printable(ok_name)
    try:
        text = data.decode("utf-8-sig")
        json.loads(text, object_pairs_hook=_no_repeated_keys)
        doc = _ManifestDoc.model_validate_json(text)
    except UnicodeDecodeError as e:
        raise FileRejected("manifest_invalid", f"{ok_name} is not UTF-8: {e.reason}") from None
    except ValidationError as e:
        problems = [
            f"{'.'.join(str(x) for x in err['loc']) or 'document'}: {err['msg']}"
            + (f" (got {_shown(err['input'])})" if err["type"] != "missing" else "")
            for err in e.errors()
        ]
        raise FileRejected("manifest_invalid", f"{ok_name}: " + "; ".join(problems)) from None
    except (ValueError, RecursionError) as e:  # not JSON, or a key repeated
        raise FileRejected("manifest_invalid", f"{ok_name} is not a valid manifest: {e}") from None
    if doc.file != data_name:
        raise FileRejected(
            "manifest_invalid",
            f"{ok_name}: file is {_shown(doc.file)}, expected {_shown(data_name)}",
        )
    unknown = sorted(printable(k) for k in doc.model_extra or {})
    notes = (f"manifest key(s) the contract does not know, not used: {unknown}",) if unknown else ()
    return Manifest(
        doc.file, doc.rows, doc.md5.lower(), doc.mode, doc.delivery, doc.parts,
        doc.delivered_at, notes,
    )  # fmt: skip


def business_dates(landing: Path) -> list[dt.date]:
    """Every business date with a well-formed folder of an onboarded source, in order."""
    from jobs.platform.config import extract_schemas

    return LandingZone(landing).scan(set(extract_schemas())).dates()


@dataclass
class DayFiles:
    """A source's folder for one business date: its data files paired with their manifests,
    and every other entry with the reason it is not a delivery file."""

    manifests: dict[str, Manifest] = field(default_factory=dict)  # data file → valid manifest
    unmarked: list[str] = field(default_factory=list)  # named like a part, no .ok (yet)
    orphans: list[str] = field(default_factory=list)  # .ok files whose data file is absent
    invalid: dict[str, FileRejected] = field(default_factory=dict)  # .ok unusable
    blocked: dict[str, FileRejected] = field(default_factory=dict)  # has a .ok, cannot be read
    others: dict[str, FileRejected] = field(default_factory=dict)  # not delivery files at all

    @property
    def empty(self) -> bool:
        """Whether the folder holds nothing at all."""
        return not (self.manifests or self.unmarked or self.orphans or self.invalid or self.others)


def pair_files(day: Folder | None, source_id: str, *, business_date: dt.date) -> DayFiles:
    """Pair the data files of a date folder with their manifests; classify everything else.

    Nothing is followed and no data file is read here: only the small ``.ok`` manifests, and
    only when they are regular files.
    """
    out = DayFiles()
    if day is None:
        return out
    items = {i.name: i for i in day.list()}
    oks = {n[:-3]: i for n, i in items.items() if n.endswith(".ok") and len(n) > 3}
    part_prefix = f"{source_id}_{business_date:%Y%m%d}_"
    for name, item in items.items():
        if name.endswith(".ok") and name[:-3] in items:
            continue  # read with its data file below
        if name.endswith(".ok") and len(name) > 3:
            problem = not_a_file(item.kind)
            if problem:
                out.others[name] = problem
            else:
                out.orphans.append(name[:-3])
            continue
        problem = not_a_file(item.kind) or (hard_link() if item.links > 1 else None)
        if name in oks:
            _pair(day, name, oks[name].kind, out)
            if problem:
                out.blocked[name] = problem
        elif problem:
            out.others[name] = problem
        elif is_temporary(name):
            out.others[name] = FileRejected(
                "temporary_file", "a temporary or hidden file, not a delivery file: not read"
            )
        elif name.startswith(part_prefix):
            out.unmarked.append(name)
        else:
            out.others[name] = FileRejected(
                "stray_file",
                f"not named {part_prefix}<NN>.<ext> and without a .ok manifest: not read",
            )
    return out


def _pair(day: Folder, name: str, ok_kind: str, out: DayFiles) -> None:
    if ok_kind != "file":
        problem = not_a_file(ok_kind)
        out.invalid[name] = FileRejected(
            problem.reason_code, f"its manifest {printable(name)}.ok: {problem.reason}"
        )
        return
    try:
        raw = day.read(f"{name}.ok", max_bytes=ingest_limits().max_manifest_bytes)
        out.manifests[name] = parse_manifest(raw, f"{name}.ok", data_name=name)
    except FileRejected as e:
        if e.reason_code == "file_too_large":
            e = FileRejected("manifest_invalid", f"{printable(name)}.ok: {e.reason}")
        out.invalid[name] = e


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


def delivery_state(landing: Path, source_id: str, *, business_date: dt.date) -> DeliveryState:
    """``complete`` when the latest delivery's every part has arrived with its ``.ok`` and no
    file named like a part is still without one; ``incomplete`` when something arrived but not
    all of it; ``absent`` when nothing did. Reads only the small ``.ok`` files."""
    where = Path(landing) / source_id / business_date.isoformat()
    try:
        with LandingZone(landing).day(source_id, business_date) as day:
            files = pair_files(day, source_id, business_date=business_date)
    except LandingError:
        files = DayFiles()
    if files.empty:
        return DeliveryState("absent", f"nothing delivered in {where}")
    delivery = latest_delivery(files.manifests)
    latest = [m for m in files.manifests.values() if m.delivery == delivery]
    parts = max((m.parts for m in latest), default=0)
    waiting = []
    if files.unmarked:
        names = [printable(n) for n in files.unmarked]
        waiting.append(f"{len(names)} file(s) without a .ok yet: {names}")
    if len(latest) < parts:
        waiting.append(f"delivery {printable(delivery)}: {len(latest)} of {parts} parts")
    if not latest:
        waiting.append("no file with a valid .ok")
    if waiting:
        return DeliveryState("incomplete", "; ".join(waiting))
    return DeliveryState("complete", f"delivery {printable(delivery)}: {len(latest)} part(s)")
