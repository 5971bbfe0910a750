"""A staging worker: ``python -m jobs.pipeline.ingest.worker REQUEST`` reads and stages one
source's delivery of a date (``bronze.stage_source``) in a process of its own, so that a large
date's files are parsed on every core while the run writes the sources already staged.

The request (JSON) names the landing zone, the source, the date, the staging folder and the
file the outcome is written to: a pickle of ``("ok", (IngestResult, quarantined rows))`` or
``("error", message)``. Both files live in the run's own staging folder (owner-only), and the
run reads the outcome back only from there.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

from jobs.pipeline.ingest.bronze import IngestResult


class StagingFailed(Exception):
    """The worker could not stage the source (its message says why)."""


class WorkerFuture:
    """A worker process staging one source; :meth:`result` waits for it."""

    def __init__(self, *, landing: Path, source_id: str, business_date: dt.date, stage_dir: Path):
        self.outcome = stage_dir.with_name(stage_dir.name + ".outcome")
        request = stage_dir.with_name(stage_dir.name + ".request")
        request.write_text(
            json.dumps(
                {
                    "landing": str(landing),
                    "source_id": source_id,
                    "business_date": business_date.isoformat(),
                    "stage_dir": str(stage_dir),
                    "outcome": str(self.outcome),
                }
            )
        )
        self.files = [request, self.outcome]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jobs.pipeline.ingest.worker", str(request)],
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C is the run's to handle
        )

    def result(self) -> tuple[IngestResult, list[dict]]:
        """The staged source's result and quarantined rows (StagingFailed if it failed)."""
        code = self.process.wait()
        if not self.outcome.exists():
            raise StagingFailed(f"the staging worker ended with exit code {code}, no outcome")
        status, value = pickle.loads(self.outcome.read_bytes())
        if status != "ok":
            raise StagingFailed(value)
        return value

    def cancel(self) -> None:
        """Stop the worker if it still runs, and remove its files."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait()
        for f in self.files:
            f.unlink(missing_ok=True)


def main(request_path: str) -> int:
    """Stage the requested source and write the outcome file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from jobs.pipeline.ingest.bronze import stage_source

    request = json.loads(Path(request_path).read_text())
    try:
        value = (
            "ok",
            stage_source(
                Path(request["landing"]),
                source_id=request["source_id"],
                business_date=dt.date.fromisoformat(request["business_date"]),
                stage_dir=Path(request["stage_dir"]),
            ),
        )
    except Exception as e:  # noqa: BLE001 - reported to the run, which isolates the source
        value = ("error", f"{type(e).__name__}: {e}")
    fd = os.open(request["outcome"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        pickle.dump(value, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
