"""Write hand-made deliveries (data file + .ok manifest) into a landing zone for tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path


def deliver(
    landing: Path,
    source: str,
    date: dt.date,
    nn: int,
    ext: str,
    data: bytes,
    rows: int,
    *,
    delivery: str = "D1",
    parts: int = 1,
    mode: str = "full",
    hour: int = 2,
    ok: bool = True,
    **manifest_over,
) -> Path:
    folder = landing / source / date.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{source}_{date:%Y%m%d}_{nn:02d}.{ext}"
    (folder / name).write_bytes(data)
    if ok:
        doc = {
            "file": name,
            "rows": rows,
            "md5": hashlib.md5(data).hexdigest(),
            "mode": mode,
            "delivery": delivery,
            "parts": parts,
            "delivered_at": f"{date + dt.timedelta(days=1)}T{hour:02d}:00:00+08:00",
            **manifest_over,
        }
        (folder / f"{name}.ok").write_text(json.dumps(doc))
    return folder / name


def swdj(
    *rows: str, header: str = "NSRSBH|NSRMC|FDDBRXM|FDDBRSFZJHM|NSRZTDM|DJRQ|ZGSWJGMC|SCJYDZ|LXDH"
) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()
