"""The lake's working area, ``<lake>/_staging``: parsed deliveries and checkpoints of a run.

What is staged holds personal data (ID numbers as delivered), so nothing in it may outlive the
process that wrote it (docs/security.md):

* each process stages under a folder of its own, ``_staging/<host>-<pid>-<token>/``, readable by
  its owner only, and holds an exclusive ``flock`` on ``.owner`` inside it while it lives;
* each job removes its sub-folder when it ends (an ingestion after its source and date, a stage
  run after its writes), so at any time the area holds one job's data per writer: at most one
  source-date's parsed files (each bounded by ``max_file_bytes``) or one stage's checkpoints;
* the folder is removed when the process exits, and :func:`sweep`, run when a writer starts,
  removes every folder whose owner is gone: a process killed with SIGKILL leaves nothing
  behind past the next run.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import shutil
import socket
import time
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

STAGING = "_staging"
_OWNER = ".owner"
_YOUNG_SECONDS = 60  # a folder this new may be between its mkdir and its lock


class Staging:
    """One process's staging folder under a lake (created on first use)."""

    def __init__(self, lake_root: Path):
        self.area = Path(lake_root) / STAGING
        self._dir: Path | None = None
        self._lock: int | None = None

    @property
    def dir(self) -> Path:
        """The run's own staging folder, made on first use."""
        if self._dir is None:
            self.area.mkdir(parents=True, exist_ok=True)
            folder = self.area / f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            folder.mkdir(mode=0o700)
            self._dir, self._lock = folder, hold(folder)
            atexit.register(self.close)
        return self._dir

    def job(self, name: str) -> Path:
        """A fresh sub-folder for one job (remove it with :meth:`discard` when the job ends)."""
        path = self.dir / f"{name}-{uuid.uuid4().hex[:8]}"
        path.mkdir(mode=0o700)
        return path

    @staticmethod
    def discard(path: Path) -> None:
        """Remove a staged folder and everything in it."""
        shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        """Remove this process's folder (also at exit)."""
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        if self._lock is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock)
            self._lock = None
        with contextlib.suppress(OSError):
            self.area.rmdir()  # only when empty: other writers' folders stay


def sweep(lake_root: Path) -> list[str]:
    """Remove the staging folders whose owner process is gone; returns their names.

    A folder is in use while its ``.owner`` lock is held (the lock goes when its process dies,
    however it dies). Folders without one (older layouts) are removed unless just created.
    """
    area = Path(lake_root) / STAGING
    if not area.is_dir():
        return []
    removed = []
    for folder in sorted(area.iterdir()):
        if folder.is_symlink() or not folder.is_dir():
            folder.unlink(missing_ok=True)
            removed.append(folder.name)
        elif is_abandoned(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    if removed:
        log.warning("removed staging left by processes that ended: %s", removed)
    with contextlib.suppress(OSError):
        area.rmdir()
    return removed


def abandoned(lake_root: Path) -> list[str]:
    """The staging folders whose owner process is gone (what :func:`sweep` would remove)."""
    area = Path(lake_root) / STAGING
    if not area.is_dir():
        return []
    return [
        f.name
        for f in sorted(area.iterdir())
        if f.is_symlink() or not f.is_dir() or is_abandoned(f)
    ]


def hold(folder: Path) -> int:
    """Mark ``folder`` as in use by this process while the returned descriptor stays open (an
    exclusive ``flock`` on its ``.owner``; it goes when the process dies, however it dies)."""
    fd = os.open(folder / _OWNER, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def is_abandoned(folder: Path) -> bool:
    """Whether no living process holds ``folder`` (see :func:`hold`)."""
    owner = folder / _OWNER
    try:
        fd = os.open(owner, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return time.time() - folder.stat().st_mtime > _YOUNG_SECONDS
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # its owner is alive
    finally:
        os.close(fd)
    return True
