"""Has a source's delivery for a business date arrived, and is it past its SLA?

Used by the ingestion DAGs' sensor and its trigger. A delivery is *delivered* once complete
(every part with its ``.ok``, nothing still being written); past the SLA deadline
(conf/catalog ``delivery_sla``) an incomplete one is ingested as it is and an absent one is
*missing*. Lateness is never an error here: the ingest task records it and says so.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from jobs.pipeline.ingest.manifest import delivery_state
from jobs.platform.config import delivery_due


def outcome(
    landing: Path, source_id: str, *, business_date: dt.date, now: dt.datetime
) -> dict | None:
    """``{"status": delivered|incomplete|missing, ...}``, or None while it is worth waiting."""
    deadline = delivery_due(source_id, business_date)
    state = delivery_state(landing, source_id, business_date=business_date)
    if state.status == "complete":
        status = "delivered"
    elif now < deadline:
        return None
    else:
        status = "missing" if state.status == "absent" else "incomplete"
    return {
        "source_id": source_id,
        "business_date": business_date.isoformat(),
        "status": status,
        "detail": state.detail,
        "due": deadline.isoformat(),
        "checked_at": now.isoformat(),
    }
