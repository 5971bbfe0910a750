"""Files only their owner may read: the SQL server's users file, the pseudonym key."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def read_private(
    path: str | Path, *, what: str, max_bytes: int, error: type[Exception], hint: str = ""
) -> bytes:
    """The bytes of ``path``, checked on the open descriptor (no race with a swapped name):
    refused, with ``error``, when it is a symbolic link, not a regular file, readable or
    writable by group or others, or larger than ``max_bytes``. ``hint`` follows the message of
    a missing file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise error(f"{path}: no such {what}{hint}") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise error(f"{path}: the {what} is a symbolic link; refusing to follow it") from None
        raise error(f"{path}: {e.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{path}: the {what} is not a regular file")
        if info.st_mode & 0o077:
            raise error(
                f"{path}: the {what} is readable or writable by group or others "
                f"(mode {stat.S_IMODE(info.st_mode):04o}); run `chmod 600 {path}`"
            )
        if info.st_size > max_bytes:
            raise error(f"{path}: the {what} is larger than {max_bytes} bytes")
        return f.read(max_bytes + 1)
