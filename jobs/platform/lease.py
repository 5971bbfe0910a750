"""The lake's writer lease: one writer at a time (docs/lake.md).

Every command that writes the lake (``govlake run``, the Airflow tasks, ``govlake maintain``,
``govlake doctor --repair``, ``govlake vacuum --apply``) holds the lease for as long as it
writes. A second writer fails at once with a message naming the holder, or waits (``--wait``).

On a local or shared POSIX filesystem the lease is an exclusive ``flock`` on
``<lake>/_govlake/writer.lock``, held by the writer process; the holder's description (host,
pid, command, since) is kept beside it in ``writer.json``. The operating system releases the
lock when its process ends, however it ends, so a dead holder can never block the lake: the next
writer finds the lock free but the description still there, logs that it takes over from that
holder, and goes on. Object storage has no ``flock``: docs/lake.md says how the same contract is
kept there (a conditional-put lease object, or an external lock).

The lease is per process and re-entrant: several :class:`jobs.platform.lake.Lake` objects of one process
share it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

FOLDER = "_govlake"
_LOCK = "writer.lock"
_HOLDER = "writer.json"
_held: dict[Path, _Held] = {}
_guard = threading.Lock()


class LeaseHeld(Exception):
    """Another process writes the lake."""


@dataclass
class _Held:
    fd: int
    count: int
    holder: dict


def _holder_file(root: Path) -> Path:
    return root / FOLDER / _HOLDER


def describe(holder: dict | None) -> str:
    """A holder as a person reads it."""
    if not holder:
        return "an unknown process"
    return (
        f"pid {holder.get('pid')} on {holder.get('host')}, running "
        f"`{holder.get('command')}` since {holder.get('since')}"
    )


def current_holder(root: Path) -> dict | None:
    """The description the holder (or the last holder) left, if any."""
    try:
        return json.loads(_holder_file(Path(root)).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def is_free(root: Path) -> bool:
    """Whether no live process holds the lease (this one included)."""
    root = Path(root).resolve()
    if root in _held:
        return False
    path = root / FOLDER / _LOCK
    if not path.exists():
        return True
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def acquire(root: Path, *, command: str | None = None, wait: float | None = None) -> None:
    """Take the lease (re-entrant within a process). ``wait``: seconds to wait for it (None:
    fail at once). Raises LeaseHeld naming the holder."""
    root = Path(root).resolve()
    with _guard:
        if root in _held:
            _held[root].count += 1
            return
        (root / FOLDER).mkdir(parents=True, exist_ok=True)
        fd = os.open(root / FOLDER / _LOCK, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o644)
        deadline = None if wait is None else time.monotonic() + wait
        try:
            _lock(fd, root, deadline)
        except BaseException:
            os.close(fd)
            raise
        previous = current_holder(root)
        if previous and not previous.get("released"):
            log.warning(
                "took over the lake's writer lease from %s, which ended without releasing it",
                describe(previous),
            )
        holder = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "command": command or " ".join(["govlake", *sys.argv[1:]])[:300],
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        _write_holder(root, holder)
        _held[root] = _Held(fd, 1, holder)


def _lock(fd: int, root: Path, deadline: float | None) -> None:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if deadline is None or time.monotonic() >= deadline:
                who = describe(current_holder(root))
                hint = "" if deadline is not None else " (or pass --wait SECONDS)"
                raise LeaseHeld(
                    f"another writer holds the lake {root}: {who}. Try again when it ends{hint}."
                ) from None
            time.sleep(0.5)


def _write_holder(root: Path, holder: dict) -> None:
    tmp = root / FOLDER / f".{_HOLDER}.{os.getpid()}"
    tmp.write_text(json.dumps(holder, ensure_ascii=False), "utf-8")
    os.replace(tmp, _holder_file(root))


def release(root: Path) -> None:
    """Give the lease back (when the last user in this process releases it)."""
    root = Path(root).resolve()
    with _guard:
        held = _held.get(root)
        if held is None:
            return
        held.count -= 1
        if held.count:
            return
        del _held[root]
        with contextlib.suppress(OSError):
            _write_holder(root, {**held.holder, "released": dt.datetime.now(dt.UTC).isoformat()})
        os.close(held.fd)


def holds(root: Path) -> bool:
    """Whether this process holds the lease."""
    return Path(root).resolve() in _held


@contextlib.contextmanager
def writer(root: Path, *, command: str | None = None, wait: float | None = None) -> Iterator[None]:
    """Hold the lease for the block."""
    acquire(root, command=command, wait=wait)
    try:
        yield
    finally:
        release(root)


def stale(root: Path) -> dict | None:
    """The description of a holder that ended without releasing the lease (for doctor), or
    None when the lease is free and clean, or held by a live process."""
    holder = current_holder(root)
    if not holder or holder.get("released") or not is_free(root):
        return None
    return holder


def clear_stale(root: Path) -> dict | None:
    """Mark a dead holder's lease released (doctor --repair); returns what it cleared."""
    holder = stale(root)
    if holder:
        with writer(root, command="govlake doctor --repair"):
            pass  # taking and releasing it logs the takeover and marks it released
    return holder
