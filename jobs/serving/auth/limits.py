"""Failed-login limits, shared by the SQL server and the workbench: five failures a minute for
one user from one address, then a minute in which every login of that user from there is
refused (the same answer as a wrong password)."""

from __future__ import annotations

import threading
import time
from collections import deque

FAILURES_ALLOWED, FAILURE_WINDOW_S, BACKOFF_S = 5, 60.0, 60.0


class LoginLimiter:
    """Failed logins per (user, address), and per address when ``address_allowed`` is set, in
    a sliding window; past the limit, that key is refused for the back-off period."""

    def __init__(self, *, address_allowed: int | None = None):
        self.address_allowed = address_allowed
        self._fail: dict[tuple[str, str], deque[float]] = {}
        self._blocked: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def blocked(self, user: str, addr: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(self._blocked.get(k, 0.0) > now for k in ((user, addr), ("", addr)))

    def failed(self, user: str, addr: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._fail) > 100_000:  # bound memory under a spray of names
                self._fail.clear()
            if len(self._blocked) > 100_000:
                self._blocked = {k: t for k, t in self._blocked.items() if t > now}
            limits = [((user, addr), FAILURES_ALLOWED)]
            if self.address_allowed:
                limits.append((("", addr), self.address_allowed))
            for key, allowed in limits:
                window = self._fail.setdefault(key, deque())
                window.append(now)
                while window and window[0] < now - FAILURE_WINDOW_S:
                    window.popleft()
                if len(window) >= allowed:
                    self._blocked[key] = now + BACKOFF_S
                    window.clear()

    def succeeded(self, user: str, addr: str) -> None:
        with self._lock:
            self._fail.pop((user, addr), None)
