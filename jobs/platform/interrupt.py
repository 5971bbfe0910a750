"""Stopping a writer at a safe point: SIGTERM and Ctrl-C (SIGINT) ask, safe points act.

A signal arriving in the middle of a Delta commit or a Spark plan must not cut it short: the
handlers installed by :func:`safe_points` only record the request, and the writer calls
:func:`check` where stopping leaves the lake whole (between two sources of a date, between two
stages). A second signal while waiting stops at once (the lake is then repaired by the next
run, as after a crash).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_requested: str | None = None


class Interrupted(Exception):
    """The run was asked to stop and stopped at a safe point."""


def _handler(signum, frame) -> None:
    global _requested
    name = signal.Signals(signum).name
    if _requested is not None:  # asked twice: stop now
        raise KeyboardInterrupt(f"{name} again: stopping at once")
    _requested = name


@contextlib.contextmanager
def safe_points() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM ask the writer to stop at its next safe point."""
    global _requested
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are only delivered to the main thread
        return
    _requested = None
    old = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        _requested = None


def check(where: str) -> None:
    """Stop here if asked to (raises Interrupted naming the signal and the point)."""
    if _requested is not None:
        raise Interrupted(f"{_requested} received: stopped at a safe point, {where}")
