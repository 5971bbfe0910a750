"""The users file of the SQL server: who may log in, with which role and division.

A JSON file (``{"users": [...]}``), one entry per user: name, role, division, a SCRAM-SHA-256
verifier in PostgreSQL's text form (never the password), disabled, created_at, updated_at. The
role and division come from this file only, never from the client.

The file is written atomically (a temporary file in the same directory, fsync, rename) with mode
0600 from its creation. A file that others can read or write, or a symbolic link, is refused:
verifiers allow offline guessing of passwords, and whoever writes the file chooses roles.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from jobs.platform.policy import grant
from jobs.platform.private import read_private
from jobs.serving.auth.scram import DEFAULT_ITERATIONS, MIN_ITERATIONS, Verifier, make_verifier

NAME = re.compile(r"^[a-z][a-z0-9._-]{0,62}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_FILE_BYTES = 16 * 1024 * 1024


class UsersFileError(ValueError):
    """The users file is unsafe or malformed, or a change to it is invalid; the message says why."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    division: str | None
    verifier: str
    disabled: bool
    created_at: str
    updated_at: str
    # the department a department_liaison answers for (added after the first release: older
    # files have no such key and load as None)
    department: str | None = None


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise UsersFileError(
            f"{name!r} is not a valid user name: a lower-case letter, then up to 62 of a-z 0-9 . _ -"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UsersFileError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UsersFileError(f"a password has at most {MAX_PASSWORD} characters")
    return password


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def load(path: str | Path) -> dict[str, User]:
    """The users of ``path`` by name. Raises UsersFileError for an unsafe or malformed file."""
    path = Path(path)
    raw = read_private(
        path,
        what="users file",
        max_bytes=MAX_FILE_BYTES,
        error=UsersFileError,
        hint=" (create it with `govlake users add`)",
    )
    try:
        doc = json.loads(raw.decode("utf-8"))
        entries = doc["users"]
        if not isinstance(entries, list):
            raise TypeError("users is not a list")
        users = {}
        for i, e in enumerate(entries):
            user = User(
                **{k: e[k] for k in User.__dataclass_fields__ if k != "department"},
                department=e.get("department"),
            )
            check_name(user.name)
            Verifier.parse(user.verifier)
            if not isinstance(user.disabled, bool) or user.name in users:
                raise ValueError(f"entry {i} ({user.name}): bad `disabled` or a duplicate name")
            users[user.name] = user
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise UsersFileError(f"{path}: not a valid users file: {e}") from None
    return users


def save(path: str | Path, users: dict[str, User]) -> None:
    """Write ``users`` to ``path`` atomically, mode 0600 from creation."""
    path = Path(path)
    if path.is_symlink():
        raise UsersFileError(f"{path}: the users file is a symbolic link; refusing to follow it")
    doc = {"users": [asdict(u) for _, u in sorted(users.items())]}
    data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()
    directory = path.parent if str(path.parent) else Path(".")
    # mkstemp creates the file with O_EXCL and mode 0600
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _load_or_empty(path: Path) -> dict[str, User]:
    if not os.path.lexists(path):
        return {}
    return load(path)


def _check_role(role: str, division: str | None, department: str | None = None) -> None:
    from jobs.platform.policy import AccessDenied

    try:
        grant(role, division, department=department)
    except AccessDenied as e:
        raise UsersFileError(str(e)) from None


def add(
    path: str | Path,
    *,
    name: str,
    role: str,
    division: str | None,
    password: str,
    iterations: int = DEFAULT_ITERATIONS,
    department: str | None = None,
) -> User:
    """Add a user (the file is created when missing)."""
    path = Path(path)
    check_name(name)
    _check_role(role, division, department)
    check_password(password)
    verifier = make_verifier(password, max(iterations, MIN_ITERATIONS)).text()
    with _editing(path):
        users = _load_or_empty(path)
        if name in users:
            raise UsersFileError(f"user {name} exists already (use `govlake users passwd`)")
        now = _now()
        users[name] = User(
            name, role, division or None, verifier, False, now, now, department or None
        )
        save(path, users)
    return users[name]


@contextlib.contextmanager
def _editing(path: Path):
    """Hold the users file for one read-modify-write: two `govlake users` run at once must not
    lose each other's change (an flock on the folder holding it: no lock file beside it)."""
    fd = os.open(Path(path).parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _change(path: str | Path, name: str, **changes) -> User:
    with _editing(Path(path)):
        users = load(path)
        if name not in users:
            raise UsersFileError(f"{path}: no user {name}")
        users[name] = replace(users[name], updated_at=_now(), **changes)
        save(path, users)
    return users[name]


def set_disabled(path: str | Path, name: str, *, disabled: bool) -> User:
    return _change(path, name, disabled=disabled)


def set_password(
    path: str | Path, name: str, *, password: str, iterations: int = DEFAULT_ITERATIONS
) -> User:
    check_password(password)
    verifier = make_verifier(password, max(iterations, MIN_ITERATIONS)).text()
    return _change(path, name, verifier=verifier)


class UsersCache:
    """The users file, re-read when its mtime, size or inode changes (checked at each login),
    so that ``disable`` and ``passwd`` take effect without a restart. A file that has become
    unsafe or unreadable refuses every login (fail closed) until it is fixed."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._key: tuple | None = None
        self._users: dict[str, User] = {}
        self.get("")  # fail at start when the file is unusable

    def get(self, name: str) -> User | None:
        try:
            st = os.lstat(self.path)
        except OSError as e:
            raise UsersFileError(f"{self.path}: {e.strerror}") from None
        # any change of content, mode or owner (ctime) makes load() check the file again
        key = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_mode)
        if key != self._key:
            self._users = load(self.path)
            self._key = key
        return self._users.get(name)
