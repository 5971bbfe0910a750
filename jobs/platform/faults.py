"""Fault injection for the crash-safety tests (docs/lake.md, "Crash safety").

``GOVLAKE_TEST_KILL_AT_WRITE=N`` makes the process kill itself with SIGKILL just before its
N-th write to the lake (a Delta commit, a merge, a publication), so that a test can stop a run
between any two commits, including inside a step that writes several tables. Unset, it costs
one integer comparison per write.
"""

from __future__ import annotations

import os
import signal

_kill_at = int(os.environ.get("GOVLAKE_TEST_KILL_AT_WRITE", "0") or 0)
_writes = 0


def before_write() -> None:
    """Count a lake write; die here if this is the write the test asked to die at."""
    global _writes
    _writes += 1
    if _kill_at and _writes == _kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
