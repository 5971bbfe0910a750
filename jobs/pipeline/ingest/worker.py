"""Staging workers: processes that read and stage sources' deliveries (``bronze.stage_source``)
so that a large date's files are parsed on every core while the run writes the sources already
staged.

A :class:`WorkerPool` keeps one worker process per thread of its executor, started once
(``python -m jobs.pipeline.ingest.worker``): the thread writes a request (JSON: the landing zone,
the source, the date, the staging folder and the file for the outcome) as a line to the
worker's stdin, and the worker answers a line when the outcome file is written: a pickle of
``("ok", (IngestResult, quarantined rows))`` or ``("error", message)``. Both files live in the
run's own staging folder (owner-only), and the run reads outcomes back only from there.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import pickle
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path


class StagingFailed(Exception):
    """The worker could not stage the source (its message says why)."""


class WorkerPool:
    """``workers`` staging processes, each driven by a thread of an executor."""

    def __init__(self, workers: int):
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="govlake-staging")
        self.local = threading.local()
        self.lock = threading.Lock()
        self.processes: list[subprocess.Popen] = []
        self.tags = itertools.count()  # one outcome file per request of a file

    def submit(
        self,
        *,
        landing: Path,
        source_id: str,
        business_date: dt.date,
        stage_dir: Path,
        planned: dict | None = None,
    ) -> Future:
        """Stage the source into ``stage_dir``; the future's result is (IngestResult,
        quarantined rows), or it raises StagingFailed. With ``planned`` (a file's name, and
        the delivery and md5 of its manifest) only that file is staged: the result is a
        bronze.FileStaged."""
        tag = f".{next(self.tags)}" if planned else ""
        request = {
            "landing": str(landing),
            "source_id": source_id,
            "business_date": business_date.isoformat(),
            "stage_dir": str(stage_dir),
            "outcome": str(stage_dir.with_name(stage_dir.name + tag + ".outcome")),
            "planned": planned,
        }
        return self.executor.submit(self._stage, request)

    def _process(self) -> subprocess.Popen:
        process = getattr(self.local, "process", None)
        if process is None or process.poll() is not None:
            # -P: the worker imports what the run imported, never a jobs/ folder that happens
            # to be in the working directory (which `python -m` would put first on the path)
            process = subprocess.Popen(
                [sys.executable, "-P", "-m", "jobs.pipeline.ingest.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                start_new_session=True,  # a Ctrl-C is the run's to handle
            )
            with self.lock:
                self.processes.append(process)
            self.local.process = process
        return process

    def _stage(self, request: dict):
        process = self._process()
        outcome = Path(request["outcome"])
        try:
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            answer = process.stdout.readline()
            if not answer or not outcome.exists():
                raise StagingFailed(f"the staging worker ended (exit code {process.poll()})")
            status, value = pickle.loads(outcome.read_bytes())
        finally:
            outcome.unlink(missing_ok=True)
        if status != "ok":
            raise StagingFailed(value)
        return value

    def close(self) -> None:
        """Cancel what has not started, stop the workers (at once if one is still busy)."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        with self.lock:
            processes = list(self.processes)
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            process.wait()
        self.executor.shutdown(wait=True)


def serve() -> int:
    """Answer requests from stdin, one line each, until stdin closes."""
    import signal

    from jobs.pipeline.ingest.bronze import stage_file, stage_source

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr  # nothing else may write to the answer channel
    for line in sys.stdin:
        request = json.loads(line)
        try:
            where = {
                "source_id": request["source_id"],
                "business_date": dt.date.fromisoformat(request["business_date"]),
                "stage_dir": Path(request["stage_dir"]),
            }
            if request.get("planned"):
                staged = stage_file(Path(request["landing"]), planned=request["planned"], **where)
            else:
                staged = stage_source(Path(request["landing"]), **where)
            value = ("ok", staged)
        except Exception as e:  # noqa: BLE001 - reported to the run, which isolates the source
            value = ("error", f"{type(e).__name__}: {e}")
        fd = os.open(request["outcome"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            pickle.dump(value, f)
        answers.write("done\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
