"""The landing zone, read as untrusted input (docs/security.md).

Departments write their extracts here from old systems, by hand, or from accounts someone else
may control, so nothing below the landing root is trusted:

* every entry is reached by name from the real landing root, one folder at a time, through
  directory descriptors opened with ``O_NOFOLLOW``: a symbolic link is never followed, at any
  level, even one swapped in between listing a folder and reading it;
* a file is opened ``O_NOFOLLOW | O_NONBLOCK`` and checked with ``fstat`` on the open
  descriptor before a byte is read: a regular file with a single link and no bigger than the
  bound. A symbolic or hard link may name a file outside the zone, a FIFO would block the run,
  a device would stream for ever: each is rejected unread, so nothing of an outside file (its
  content, hash or size) reaches the lake, the logs or the run summary;
* every entry that is not part of a well-formed delivery folder is recorded as an
  :class:`Entry` with a reason code, never skipped in silence;
* names are shown through :func:`printable`: an entry named with control characters or bytes
  that are not UTF-8 cannot rewrite a terminal line or break a table.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import re
import stat
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from jobs.pipeline.ingest.records import FileRejected

DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
TEMPORARY_SUFFIXES = (
    ".tmp", ".temp", ".part", ".partial", ".crdownload", ".filepart", ".swp", ".bak", ".lock", "~",
)  # fmt: skip
LINK_REASON = "a symbolic link: links are never followed, and nothing it names was read"


def printable(name: str) -> str:
    """A file name safe to store and print: bytes that are not UTF-8 and control characters
    (including bidirectional overrides) shown as ``\\xNN`` / ``\\uNNNN`` escapes."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def kind_of(mode: int) -> str:
    """What an entry is, from its ``lstat`` mode."""
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "other"


def not_a_file(kind: str) -> FileRejected | None:
    """The rejection of an entry that is not a regular file (None for a regular file)."""
    if kind == "file":
        return None
    if kind == "symlink":
        return FileRejected("symbolic_link", LINK_REASON)
    if kind == "directory":
        return FileRejected("nested_folder", "a folder inside a date folder is not a delivery")
    return FileRejected("special_file", f"a {kind}, not a regular file: not read")


def is_temporary(name: str) -> bool:
    """Editors', uploaders' and operating systems' leftovers: hidden, ``~$`` or a temp suffix."""
    lower = name.lower()
    return name.startswith((".", "~")) or lower.endswith(TEMPORARY_SUFFIXES)


@dataclass(frozen=True)
class Entry:
    """An entry of the landing zone that is not (part of) a well-formed delivery folder."""

    path: str  # relative to the landing root, printable
    kind: str  # file | directory | symlink | fifo | socket | device | other
    source_id: str | None
    business_date: dt.date | None
    reason_code: str
    reason: str


@dataclass(frozen=True)
class Listed:
    """One name in a folder, with what it is (from ``lstat``: links are not followed)."""

    name: str
    kind: str
    links: int  # st_nlink: a regular file with more than one may be a hard link from outside
    size: int = 0  # st_size


class LandingError(Exception):
    """The landing root itself cannot be used."""


class Folder:
    """An open folder of the landing zone; names inside it are opened relative to it."""

    def __init__(self, fd: int, relpath: str):
        self.fd = fd
        self.relpath = relpath

    def list(self) -> list[Listed]:
        """The folder's entries, sorted by name (nothing is followed or opened)."""
        out = []
        with os.scandir(self.fd) as it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except FileNotFoundError:  # removed while listing
                    continue
                out.append(Listed(e.name, kind_of(st.st_mode), st.st_nlink, st.st_size))
        return sorted(out, key=lambda x: x.name)

    @contextlib.contextmanager
    def folder(self, name: str) -> Iterator[Folder]:
        """A sub-folder, opened without following a link (FileRejected otherwise)."""
        fd = _open(name, _DIR_FLAGS, self.fd)
        try:
            yield Folder(fd, f"{self.relpath}{name}/")
        finally:
            os.close(fd)

    def read(self, name: str, *, max_bytes: int) -> bytes:
        """The bytes of a regular file of this folder, or FileRejected without reading any
        (a link, a special file, a file with other hard links, one over ``max_bytes``)."""
        fd = _open(name, _FILE_FLAGS, self.fd)
        with os.fdopen(fd, "rb", closefd=True) as f:
            st = os.fstat(f.fileno())
            rejected = not_a_file(kind_of(st.st_mode))
            if rejected:
                raise rejected
            if st.st_nlink > 1:
                raise hard_link()
            if st.st_size > max_bytes:
                raise FileRejected(
                    "file_too_large", f"{st.st_size:,} bytes, over the bound of {max_bytes:,}"
                )
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:  # it grew while being read
            raise FileRejected("file_too_large", f"over the bound of {max_bytes:,} bytes")
        return data


def hard_link() -> FileRejected:
    """The rejection of a file with more than one link (it may be another's data)."""
    return FileRejected(
        "hard_link",
        "the file has other hard links, which may name a file outside the landing zone: not read",
    )


def _open(name: str, flags: int, dir_fd: int) -> int:
    if "/" in name or name in (".", ".."):
        raise FileRejected("bad_file_name", "a name must not hold a path")
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as e:
        if e.errno == errno.ELOOP or (e.errno == errno.ENOTDIR and _is_link(name, dir_fd)):
            raise FileRejected("symbolic_link", LINK_REASON) from None
        if e.errno == errno.ENOTDIR:
            raise FileRejected("not_a_folder", "expected a folder") from None
        raise FileRejected("unreadable_file", f"cannot be opened: {e.strerror}") from None


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


@dataclass
class LandingScan:
    """What the landing zone holds: well-formed delivery folders, and every other entry."""

    folders: dict[dt.date, list[str]] = field(default_factory=dict)  # date → onboarded sources
    entries: list[Entry] = field(default_factory=list)

    def dates(self) -> list[dt.date]:
        """The business dates with delivery folders, oldest first."""
        return sorted(self.folders)

    def sources_on(self, business_date: dt.date) -> list[str]:
        """The sources with a folder for the date."""
        return sorted(self.folders.get(business_date, []))


class LandingZone:
    """The landing root, resolved once; everything below it is reached through :class:`Folder`."""

    def __init__(self, root: str | Path):
        self.root = Path(os.path.realpath(root))  # the operator's path may be a link; below, none
        if not self.root.is_dir():
            raise LandingError(f"landing zone {root} is not a folder")

    @contextlib.contextmanager
    def open(self) -> Iterator[Folder]:
        """The date's source folders, each opened by descriptor below the root (no link followed)."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            yield Folder(fd, "")
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def day(self, source_id: str, business_date: dt.date) -> Iterator[Folder | None]:
        """The source's folder for the date, or None when there is none (a link is none:
        :meth:`scan` records it)."""
        with contextlib.ExitStack() as stack:
            root = stack.enter_context(self.open())
            try:
                src = stack.enter_context(root.folder(source_id))
                day = stack.enter_context(src.folder(business_date.isoformat()))
            except FileRejected:
                day = None
            yield day

    def scan(self, sources: Collection[str]) -> LandingScan:
        """Walk the zone two levels down: ``<source_id>/<YYYY-MM-DD>/``. Onboarded sources'
        date folders are deliveries; everything else above the date folders is an Entry."""
        scan = LandingScan()
        with self.open() as root:
            for item in root.list():
                path = printable(item.name)
                if item.kind != "directory":
                    scan.entries.append(_stray(item, path, None))
                elif item.name.startswith(("_", ".")):
                    why = "folders starting with _ or . are not sources: not read"
                    scan.entries.append(_folder(path, None, "reserved_name", why))
                elif item.name not in sources:
                    why = (
                        f"no source {path!r} is onboarded (schemas/extracts/, conf/catalog/): "
                        "not read"
                    )
                    scan.entries.append(_folder(path, None, "unknown_source", why))
                else:
                    self._scan_source(root, item.name, scan)
        return scan

    def _scan_source(self, root: Folder, source_id: str, scan: LandingScan) -> None:
        try:
            with root.folder(source_id) as src:
                items = src.list()
        except FileRejected as e:  # replaced by a link since it was listed
            scan.entries.append(
                Entry(f"{source_id}/", "symlink", None, None, e.reason_code, e.reason)
            )
            return
        for item in items:
            path = f"{source_id}/{printable(item.name)}"
            if item.kind != "directory":
                scan.entries.append(_stray(item, path, source_id))
                continue
            date = business_date_of(item.name)
            if date is None:
                why = "the folder's name is not a business date (YYYY-MM-DD): not read"
                scan.entries.append(_folder(path, source_id, "bad_date_folder", why))
            else:
                scan.folders.setdefault(date, []).append(source_id)


def _folder(path: str, source_id: str | None, code: str, reason: str) -> Entry:
    return Entry(f"{path}/", "directory", source_id, None, code, reason)


def _stray(item: Listed, path: str, source_id: str | None) -> Entry:
    rejected = not_a_file(item.kind)
    if rejected:
        code, reason = rejected.reason_code, rejected.reason
    elif is_temporary(item.name):
        code, reason = "temporary_file", "a temporary or hidden file, not a delivery: not read"
    else:
        where = "inside a source's folder" if source_id else "at the landing root"
        code, reason = "stray_file", f"a file {where}: deliveries go in <source>/<date>/"
    return Entry(path, item.kind, source_id, None, code, reason)


def business_date_of(name: str) -> dt.date | None:
    """The date a folder name gives, or None (``2026-02-30`` and ``2026-1-2`` are not dates)."""
    if not DATE_DIR.match(name):
        return None
    try:
        return dt.date.fromisoformat(name)
    except ValueError:
        return None
