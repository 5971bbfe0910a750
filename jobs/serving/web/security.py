"""Sessions, CSRF tokens and login rate limits of the workbench.

* A session is a random 256-bit token in a cookie (``__Host-`` prefixed: Secure, Path=/, no
  Domain; HttpOnly; SameSite=Strict), mapped in server memory to the user. It ends at logout,
  after ``idle_s`` without a request, after ``max_s`` in all, and as soon as the users file no
  longer lets the user in with the same role (disabled, removed, role or department changed).
* Every form that changes something carries the session's CSRF token (synchronizer token),
  and every POST must come from the workbench's own origin when the browser says where from.
  The login form, before any session, carries a token that must match its own cookie.
* Failed logins are limited per (user, address) and per address; past the limit every login
  from there is refused for a back-off period, with the same message as a wrong password.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

SESSION_COOKIE = "__Host-govlake"
LOGIN_COOKIE = "__Host-govlake-login"


def token() -> str:
    return secrets.token_urlsafe(32)


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


@dataclass
class Session:
    token: str
    user: str
    role: str
    division: str | None
    department: str | None
    csrf: str
    created: float = field(default_factory=time.monotonic)
    seen: float = field(default_factory=time.monotonic)


class Sessions:
    """The live sessions of one server process (a restart logs everybody out)."""

    def __init__(self, *, idle_s: float = 1800.0, max_s: float = 8 * 3600.0, limit: int = 10000):
        self.idle_s, self.max_s, self.limit = idle_s, max_s, limit
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self, *, user, role, division, department) -> Session:
        s = Session(token(), user, role, division, department, token())
        with self._lock:
            self._expire()
            if len(self._by_token) >= self.limit:  # bound memory: drop the oldest
                oldest = min(self._by_token.values(), key=lambda x: x.seen)
                self._by_token.pop(oldest.token, None)
            self._by_token[s.token] = s
        return s

    def get(self, tok: str | None) -> Session | None:
        if not tok:
            return None
        now = time.monotonic()
        with self._lock:
            s = self._by_token.get(tok)
            if s is None:
                return None
            if now - s.seen > self.idle_s or now - s.created > self.max_s:
                self._by_token.pop(tok, None)
                return None
            s.seen = now
            return s

    def end(self, tok: str | None) -> None:
        with self._lock:
            self._by_token.pop(tok or "", None)

    def end_user(self, user: str) -> None:
        with self._lock:
            for t in [t for t, s in self._by_token.items() if s.user == user]:
                self._by_token.pop(t, None)

    def _expire(self) -> None:
        now = time.monotonic()
        for t, s in list(self._by_token.items()):
            if now - s.seen > self.idle_s or now - s.created > self.max_s:
                self._by_token.pop(t, None)
