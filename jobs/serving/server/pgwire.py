"""The PostgreSQL wire protocol (v3.0) in front of SqlSession: the SQL server's security boundary.

One asyncio event loop accepts clients and speaks the protocol; queries run in worker threads,
so that one client never blocks another. Each client, once authenticated (SCRAM-SHA-256 over a
stored verifier, jobs/serving/auth/scram.py), gets one SqlSession with the role and division of the
users file (never from the client), and a catalogue connection (jobs/serving/server/catalog.py) for the
pg_catalog and information_schema queries BI tools send.

Every byte from the client is hostile: message lengths are capped, the startup and
authentication phase is timed out, a malformed message closes that client only, failed logins
are rate-limited per (user, address), and every login attempt is recorded in audit.logins.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import secrets
import ssl
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from jobs.platform.delta import lake_tables
from jobs.platform.policy import role_limits
from jobs.serving.auth import logins
from jobs.serving.auth.limits import LoginLimiter
from jobs.serving.auth.scram import MECHANISM, ScramError, ScramServer, Verifier, dummy_verifier
from jobs.serving.auth.users import UsersCache, UsersFileError
from jobs.serving.server import types as pgt
from jobs.serving.server.catalog import (
    LAYERS,
    SERVER_VERSION,
    Catalogue,
    CatalogueDenied,
    CatalogueError,
    names_lake_table,
    tokens,
)

log = logging.getLogger(__name__)

PROTOCOL_3 = 196608
SSL_REQUEST, GSSENC_REQUEST, CANCEL_REQUEST = 80877103, 80877104, 80877102
MAX_STARTUP = 10_000  # PostgreSQL's own limit for a startup packet
MAX_MESSAGE = 1 << 20  # 1 MiB for any message after startup
AUTH_TIMEOUT_S = 30.0
ROWS_PER_CHUNK = 1000
MAX_CONNECTIONS = 512  # open sockets at once, authenticated or not

# SET parameters a client may change (PostgreSQL's names, lower case). Others are refused
# (42704), as PostgreSQL refuses unknown ones; names with a dot are custom, kept as given.
SETTABLE = {
    "application_name": "",
    "client_encoding": "UTF8",
    "datestyle": "ISO, MDY",
    "timezone": "UTC",
    "extra_float_digits": "1",
    "search_path": '"$user", public',
    "statement_timeout": "0",
    "lock_timeout": "0",
    "idle_in_transaction_session_timeout": "0",
    "idle_session_timeout": "0",
    "intervalstyle": "postgres",
    "client_min_messages": "notice",
    "bytea_output": "hex",
    "default_transaction_isolation": "read committed",
    "transaction_isolation": "read committed",
    "default_transaction_read_only": "on",
    "transaction_read_only": "on",
    "jit": "off",
    "work_mem": "4MB",
    "lc_messages": "C",
    "lc_monetary": "C",
    "lc_numeric": "C",
    "lc_time": "C",
    "geqo": "on",
    "plan_cache_mode": "auto",
    "synchronous_commit": "on",
    "max_parallel_workers_per_gather": "2",
    "row_security": "on",
    "standard_conforming_strings": "on",
    "escape_string_warning": "on",
    "enable_seqscan": "on",
}
READ_ONLY = {
    "server_version": SERVER_VERSION,
    "server_version_num": "160000",
    "server_encoding": "UTF8",
    "integer_datetimes": "on",
    "max_identifier_length": "63",
    "is_superuser": "off",
    "in_hot_standby": "off",
    "lc_collate": "C",
    "lc_ctype": "C",
    "block_size": "8192",
    "max_connections": "100",
}
_CANONICAL = {
    "datestyle": "DateStyle",
    "timezone": "TimeZone",
    "intervalstyle": "IntervalStyle",
}
REPORTED = (
    "server_version",
    "server_encoding",
    "client_encoding",
    "DateStyle",
    "TimeZone",
    "integer_datetimes",
    "standard_conforming_strings",
    "IntervalStyle",
    "is_superuser",
    "application_name",
)
NEVER_SET = {"role", "session_authorization", "session_replication_role"}
_COMMANDS = {
    "BEGIN": "BEGIN",
    "START": "START TRANSACTION",
    "COMMIT": "COMMIT",
    "END": "COMMIT",
    "ROLLBACK": "ROLLBACK",
    "ABORT": "ROLLBACK",
    "SET": "SET",
    "RESET": "RESET",
    "SHOW": "SHOW",
    "DISCARD": "DISCARD",
    "DEALLOCATE": "DEALLOCATE",
    "SAVEPOINT": "SAVEPOINT",
    "RELEASE": "RELEASE",
    "CLOSE": "CLOSE CURSOR",
    "UNLISTEN": "UNLISTEN",
}


class PgError(Exception):
    """An error for the client: SQLSTATE code, message, severity (FATAL closes the connection)."""

    def __init__(self, message: str, code: str = "XX000", severity: str = "ERROR"):
        super().__init__(message)
        self.code, self.severity = code, severity


class _Disconnect(Exception):
    """End this connection quietly (after a FATAL has been sent, or a protocol violation)."""


_GONE = (_Disconnect, asyncio.IncompleteReadError, ConnectionError, ssl.SSLError)


# ---------------------------------------------------------------------------- wire helpers


def msg(tag: bytes, payload: bytes = b"") -> bytes:
    return tag + struct.pack("!i", len(payload) + 4) + payload


def cstr(s: str) -> bytes:
    return s.replace("\0", "").encode("utf-8") + b"\0"


def error_msg(text: str, code: str, *, severity: str = "ERROR", tag: bytes = b"E") -> bytes:
    fields = b"S" + cstr(severity) + b"V" + cstr(severity) + b"C" + cstr(code)
    return msg(tag, fields + b"M" + cstr(text) + b"\0")


def notice_msg(text: str) -> bytes:
    return error_msg(text, "01000", severity="NOTICE", tag=b"N")


def _fmt(formats: list[int], i: int) -> int:
    if not formats:
        return 0
    return formats[0] if len(formats) == 1 else formats[i]


def row_description(schema: pa.Schema, formats: list[int]) -> bytes:
    out = [struct.pack("!h", len(schema))]
    for i, f in enumerate(schema):
        oid = pgt.pg_oid(f.type)
        out.append(
            cstr(f.name) + struct.pack("!ihihih", 0, 0, oid, pgt.typlen(oid), -1, _fmt(formats, i))
        )
    return msg(b"T", b"".join(out))


def _text_description(names: list[str]) -> bytes:
    return row_description(pa.schema([(n, pa.string()) for n in names]), [])


class _Body:
    """A bounds-checked reader over one message body: a short message is a protocol error."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise PgError("malformed message", "08P01", "FATAL")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def int16(self) -> int:
        return struct.unpack("!h", self.take(2))[0]

    def int32(self) -> int:
        return struct.unpack("!i", self.take(4))[0]

    def cstring(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise PgError("malformed message", "08P01", "FATAL")
        out = self.data[self.pos : end]
        self.pos = end + 1
        try:
            return out.decode("utf-8")
        except UnicodeDecodeError:
            raise PgError("invalid UTF-8 in message", "22021", "FATAL") from None


# ---------------------------------------------------------------------------- statements


def split_statements(sql: str) -> list[str]:
    """Statements of a simple Query, split on the tokenizer's semicolons (not inside strings,
    quoted names or comments)."""
    try:
        toks = tokens(sql)
    except TokenError as e:
        raise PgError(f"syntax error: {e}", "42601") from None
    out, start = [], 0
    for t in toks:
        if t.token_type == TokenType.SEMICOLON:
            out.append(sql[start : t.start])
            start = t.end + 1
    out.append(sql[start:])
    return [s.strip() for s in out if s.strip()]


def _first_word(sql: str) -> str:
    m = re.match(r"\s*(?:/\*.*?\*/\s*|--[^\n]*\n\s*)*([A-Za-z_]+)", sql, re.S)
    return m.group(1).upper() if m else ""


def _param_count(sql: str) -> int:
    try:
        toks = tokens(sql)
    except TokenError:
        return 0
    found = [int(t.text[1:]) for t in toks if re.fullmatch(r"\$\d{1,4}", t.text)]
    return max(found, default=0)


def _command_tag(sql: str, rows: int) -> str:
    return f"SELECT {rows}"


def _timeout_ms(value: str) -> int:
    m = re.fullmatch(r"\s*'?\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h)?\s*'?\s*", value, re.I)
    if not m:
        raise PgError(f'invalid value for parameter "statement_timeout": "{value}"', "22023")
    scale = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000}[(m.group(2) or "ms").lower()]
    return int(float(m.group(1)) * scale)


@dataclass
class Statement:
    sql: str
    param_oids: list[int]


@dataclass
class Portal:
    stmt: Statement
    params: list
    formats: list[int]
    result: pa.Table | None = None
    tag: str | None = None
    executed: bool = False
    sent: int = 0
    truncated: bool = False
    notices: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------- the server


@dataclass
class ServerConfig:
    lake: Path
    users_file: Path
    host: str = "127.0.0.1"
    port: int = 5433
    ssl_context: ssl.SSLContext | None = None
    require_tls: bool = False
    auth_timeout_s: float = AUTH_TIMEOUT_S


class SqlServer:
    """The listening server: users, rate limits, cancel keys, and the connections."""

    def __init__(self, config: ServerConfig, session_factory: Callable | None = None):
        if config.require_tls and config.ssl_context is None:
            raise ValueError("--require-tls needs a certificate and key (--tls-cert, --tls-key)")
        self.config = config
        self.users = UsersCache(config.users_file)
        self.session_factory = session_factory or _sql_session
        self.executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="govlake-sql")
        self.connections: dict[int, Connection] = {}  # by backend pid
        self.active: dict[str, int] = {}  # open sessions per user
        self.limiter = LoginLimiter()
        self._audit_lock = asyncio.Lock()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        logins.ensure_table(config.lake)

    async def start(self) -> tuple[str, int]:
        self._server = await asyncio.start_server(
            self._handle, self.config.host, self.config.port, limit=MAX_MESSAGE + 16
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    async def serve_forever(self) -> None:
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def close(self) -> None:
        """Stop listening, stop every running query, close every connection."""
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections.values()):
            conn.interrupt()
            conn.writer.close()
        for task in list(self._tasks):
            if not task.done():
                try:
                    await asyncio.wait_for(asyncio.shield(task), 10)
                except (TimeoutError, asyncio.CancelledError):
                    task.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if len(self._tasks) >= MAX_CONNECTIONS:
            writer.write(error_msg("sorry, too many clients already", "53300", severity="FATAL"))
            writer.close()
            return
        if task is not None:
            self._tasks.add(task)
        try:
            await Connection(self, reader, writer).serve()
        except Exception:  # never let one client take the server down
            log.exception("connection failed")
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # -- failed-login rate limiting ------------------------------------------------------

    async def audit_login(self, row: logins.LoginRow) -> None:
        async with self._audit_lock:
            await self.run(logins.record, self.config.lake, row)


def _sql_session(lake: Path, *, role: str, division: str | None, user: str):
    from jobs.serving.sql.session import SqlSession

    return SqlSession(
        lake,
        role=role,
        division=division,
        user=user,
        client="pgwire",
        max_rows=None,
        timeout_s=None,
        pseudonym_maps=True,  # a long-lived session: lookups by pseudonym use the process's maps
    )


# ---------------------------------------------------------------------------- a connection


class Connection:
    def __init__(
        self, server: SqlServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ):
        self.server, self.reader, self.writer = server, reader, writer
        peer = writer.get_extra_info("peername")
        self.client_addr = str(peer[0]) if isinstance(peer, tuple) else str(peer or "local")
        self.startup: dict[str, str] = {}
        self.params: dict[str, str] = {}
        self.user: str | None = None
        self.session = None
        self.catalogue: Catalogue | None = None
        self.pid = 0
        self.secret = b""
        self.txn = b"I"
        self.statements: dict[str, Statement] = {}
        self.portals: dict[str, Portal] = {}
        self.skip_to_sync = False
        self.running = False
        self.tls = False

    # -- I/O ---------------------------------------------------------------------------

    def send(self, *parts: bytes) -> None:
        for p in parts:
            self.writer.write(p)

    async def read_message(self) -> tuple[bytes, bytes]:
        header = await self.reader.readexactly(5)
        tag, length = header[:1], struct.unpack("!i", header[1:])[0]
        if length < 4 or length - 4 > MAX_MESSAGE:
            raise PgError(f"message length {length} out of bounds", "08P01", "FATAL")
        return tag, await self.reader.readexactly(length - 4)

    async def fatal(self, text: str, code: str) -> None:
        self.send(error_msg(text, code, severity="FATAL"))
        await self.writer.drain()
        raise _Disconnect

    # -- lifecycle -----------------------------------------------------------------------

    async def serve(self) -> None:
        try:
            try:
                user = await asyncio.wait_for(self._startup(), self.server.config.auth_timeout_s)
            except TimeoutError:
                self.send(error_msg("authentication timed out", "08006", severity="FATAL"))
                return
            if user is None:
                return
            await self._open_session(user)
            await self._loop()
        except PgError as e:
            self.send(error_msg(str(e), e.code, severity="FATAL"))
        except (_Disconnect, asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            await self._cleanup()

    async def _cleanup(self) -> None:
        try:
            await asyncio.wait_for(self.writer.drain(), 5)
        except Exception:
            pass
        self.writer.close()
        if self.pid:
            self.server.connections.pop(self.pid, None)
        if self.session is not None:
            self.server.active[self.user] = self.server.active.get(self.user, 1) - 1
            session, catalogue = self.session, self.catalogue
            self.session = self.catalogue = None
            try:
                await self.server.run(_close_quietly, session, catalogue)
            except RuntimeError:  # the executor is gone (interpreter shutting down)
                _close_quietly(session, catalogue)

    def interrupt(self) -> None:
        """Stop the running query (a CancelRequest, or the server shutting down)."""
        if not self.running:
            return
        if self.session is not None:
            self.session.interrupt()
        if self.catalogue is not None:
            self.catalogue.interrupt()

    # -- startup and authentication --------------------------------------------------------

    async def _startup(self):
        """SSL negotiation and authentication; the authenticated user, or None (a cancel)."""
        while True:
            length = struct.unpack("!i", await self.reader.readexactly(4))[0]
            if length < 8 or length > MAX_STARTUP:
                raise PgError("invalid startup packet length", "08P01", "FATAL")
            body = _Body(await self.reader.readexactly(length - 4))
            code = body.int32()
            if code == SSL_REQUEST:
                await self._ssl_request()
            elif code == GSSENC_REQUEST:
                self.send(b"N")
                await self.writer.drain()
            elif code == CANCEL_REQUEST:
                self._cancel(body)
                return None
            elif code >> 16 == 3:
                return await self._login(code, body)
            else:
                raise PgError(
                    f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}", "0A000", "FATAL"
                )

    async def _ssl_request(self) -> None:
        ctx = self.server.config.ssl_context
        if ctx is None or self.tls:
            self.send(b"N")
            await self.writer.drain()
            return
        # bytes sent after SSLRequest and before the handshake would be unencrypted
        # injection (CVE-2021-23214): refuse them
        if len(getattr(self.reader, "_buffer", b"")):
            raise PgError("received unencrypted data after SSL request", "08P01", "FATAL")
        self.send(b"S")
        await self.writer.drain()
        await self.writer.start_tls(ctx)
        self.tls = True

    def _cancel(self, body: _Body) -> None:
        pid = body.int32()
        key = body.take(len(body.data) - body.pos)
        conn = self.server.connections.get(pid)
        # compare even when the pid is unknown, so timing does not tell which pids exist
        expected = conn.secret if conn is not None else secrets.token_bytes(4)
        if secrets.compare_digest(expected, key) and conn is not None:
            conn.interrupt()

    def _parse_startup(self, code: int, body: _Body) -> list[str]:
        unknown_options = []
        while True:
            key = body.cstring()
            if not key:
                break
            value = body.cstring()
            if key.startswith("_pq_."):
                unknown_options.append(key)
            elif len(self.startup) < 64:
                self.startup[key] = value[:1024]
        if (code & 0xFFFF) > 0 or unknown_options:
            payload = struct.pack("!ii", PROTOCOL_3, len(unknown_options))
            self.send(msg(b"v", payload + b"".join(cstr(o) for o in unknown_options)))
        return unknown_options

    async def _login(self, code: int, body: _Body):
        self._parse_startup(code, body)
        name = self.startup.get("user", "")[:128]
        self.user = name
        if self.server.config.require_tls and not self.tls:
            await self._refuse("TLS is required", "28000", "TLS required but not used")
        key = (name, self.client_addr)
        generic = f'password authentication failed for user "{name}"'
        if self.server.limiter.blocked(*key):
            await self._refuse(generic, "28P01", "too many failed logins (back-off)")
        try:
            user = self.server.users.get(name)
        except UsersFileError as e:
            log.error("users file unusable: %s", e)
            await self._refuse(generic, "28P01", "users file unusable")
        verifier = dummy_verifier()
        if user is not None and not user.disabled:
            verifier = Verifier.parse(user.verifier)
        if not await self._scram(verifier):
            self.server.limiter.failed(*key)
            reason = (
                "unknown user"
                if user is None
                else "user disabled"
                if user.disabled
                else "wrong password"
            )
            await self._refuse(generic, "28P01", reason)
        if user is None or user.disabled:  # the proof cannot match a dummy; belt and braces
            await self._refuse(generic, "28P01", "unknown or disabled user")
        return user

    async def _scram(self, verifier: Verifier) -> bool:
        """The SASL exchange; False when the client's proof is wrong or malformed."""
        self.send(msg(b"R", struct.pack("!i", 10) + cstr(MECHANISM) + b"\0"))
        await self.writer.drain()
        try:
            tag, data = await self.read_message()
            body = _Body(data)
            if tag != b"p" or body.cstring() != MECHANISM:
                return False
            n = body.int32()
            scram = ScramServer(verifier)
            server_first = scram.first(body.take(n).decode("utf-8"))
            self.send(msg(b"R", struct.pack("!i", 11) + server_first.encode()))
            await self.writer.drain()
            tag, data = await self.read_message()
            if tag != b"p":
                return False
            self._server_final = scram.final(data.decode("utf-8"))
            return True
        except (ScramError, UnicodeDecodeError, PgError):
            return False
        except (asyncio.IncompleteReadError, ConnectionError):
            # psql asks for the password after a first attempt without one: not a failure
            await self._audit("refused", "disconnected during authentication")
            raise _Disconnect from None

    async def _refuse(self, text: str, code: str, reason: str) -> None:
        await self._audit("refused", reason)
        await self.fatal(text, code)

    async def _audit(self, outcome: str, reason: str | None) -> None:
        row = logins.LoginRow(
            user_name=(self.user or "")[:128],
            client_addr=self.client_addr,
            application_name=self.startup.get("application_name", "")[:256],
            tls=self.tls,
            outcome=outcome,
            reason=reason,
        )
        await self.server.audit_login(row)

    async def _open_session(self, user) -> None:
        options = self.startup.get("options", "")
        if re.search(r"\b(role|session_authorization)\b", options, re.I):
            await self._refuse(
                "the role is taken from the users file; it cannot be set by the client",
                "42501",
                "client tried to set its role",
            )
        limits = role_limits(user.role)
        if self.server.active.get(user.name, 0) >= limits.max_concurrent:
            await self._refuse(
                f"too many connections for user {user.name} (at most {limits.max_concurrent})",
                "53300",
                "too many connections",
            )
        self.server.active[user.name] = self.server.active.get(user.name, 0) + 1
        try:
            self.session = await self.server.run(
                lambda: self.server.session_factory(
                    self.server.config.lake, role=user.role, division=user.division, user=user.name
                )
            )
        except Exception as e:
            self.server.active[user.name] -= 1
            log.warning("session for %s could not open: %s", user.name, e)
            await self._refuse(f"the lake cannot be read: {e}", "XX000", f"session failed: {e}")
        try:
            await self._audit("accepted", None)
        except Exception:
            log.exception("audit.logins could not be written; refusing the login")
            await self.fatal("the login could not be recorded", "XX000")
        self.params = dict(SETTABLE)
        self.params["application_name"] = self.startup.get("application_name", "")
        for key in ("timezone", "extra_float_digits", "search_path"):
            if key in {k.lower() for k in self.startup}:
                value = next(v for k, v in self.startup.items() if k.lower() == key)
                self.params[key] = value
        self.pid = self._new_pid()
        self.secret = secrets.token_bytes(4)
        self.server.connections[self.pid] = self
        self.send(msg(b"R", struct.pack("!i", 12) + self._server_final.encode()))
        self.send(msg(b"R", struct.pack("!i", 0)))
        for name in REPORTED:
            self.send(msg(b"S", cstr(name) + cstr(self._show(name))))
        self.send(msg(b"K", struct.pack("!i", self.pid) + self.secret))
        self.send(msg(b"Z", self.txn))
        await self.writer.drain()

    def _new_pid(self) -> int:
        while True:
            pid = secrets.randbelow(2**31 - 2) + 1
            if pid not in self.server.connections:
                return pid

    # -- the message loop ---------------------------------------------------------------

    async def _loop(self) -> None:
        handlers = {
            b"P": self._parse,
            b"B": self._bind,
            b"D": self._describe,
            b"E": self._execute,
            b"C": self._close,
        }
        while True:
            tag, body = await self.read_message()
            if tag == b"X":
                return
            if tag == b"Q":
                self.skip_to_sync = False
                await self._simple_query(body)
            elif tag == b"S":
                self.skip_to_sync = False
                self.portals.pop("", None)
                self.send(msg(b"Z", self.txn))
            elif tag == b"H":
                pass
            elif tag in handlers:
                if not self.skip_to_sync:
                    try:
                        await handlers[tag](_Body(body))
                    except PgError as e:
                        if e.severity == "FATAL":
                            raise
                        self._failed()
                        self.send(error_msg(str(e), e.code))
                        self.skip_to_sync = True
                    except _GONE:
                        raise
                    except Exception:  # a bug here must not cost the client its session
                        log.exception("message %r failed", tag)
                        self._failed()
                        self.send(error_msg("internal error", "XX000"))
                        self.skip_to_sync = True
            elif tag in (b"d", b"c", b"f"):  # COPY data outside COPY: ignored, as PostgreSQL does
                pass
            else:
                raise PgError(f"invalid frontend message type {tag[0]}", "08P01", "FATAL")
            await self.writer.drain()

    def _failed(self) -> None:
        if self.txn == b"T":
            self.txn = b"E"

    # -- simple query ---------------------------------------------------------------------

    async def _simple_query(self, data: bytes) -> None:
        sql = _Body(data).cstring()
        try:
            statements = split_statements(sql)
        except PgError as e:
            self.send(error_msg(str(e), e.code), msg(b"Z", self.txn))
            return
        if not statements:
            self.send(msg(b"I"))
        for text in statements:
            portal = Portal(Statement(text, []), [], [])
            try:
                await self._run(portal)
                if portal.result is not None:
                    self.send(row_description(portal.result.schema, []))
                    await self._send_rows(portal, 0)
                self._complete(portal)
            except PgError as e:
                if e.severity == "FATAL":
                    raise
                self._failed()
                self.send(error_msg(str(e), e.code))
                break
            except _GONE:
                raise
            except Exception:  # a bug here must not cost the client its session
                log.exception("statement failed")
                self._failed()
                self.send(error_msg("internal error", "XX000"))
                break
        self.send(msg(b"Z", self.txn))

    def _complete(self, portal: Portal) -> None:
        for notice in portal.notices:
            self.send(notice_msg(notice))
        portal.notices.clear()
        tag = portal.tag or _command_tag(portal.stmt.sql, portal.sent)
        self.send(msg(b"C", cstr(tag)))

    # -- extended protocol ----------------------------------------------------------------

    async def _parse(self, body: _Body) -> None:
        name, sql = body.cstring(), body.cstring()
        n = body.int16()
        if n < 0 or n > 65535:
            raise PgError("too many parameters", "08P01", "FATAL")
        oids = [body.int32() for _ in range(n)]
        if len(split_statements(sql)) > 1:
            raise PgError("cannot insert multiple commands into a prepared statement", "42601")
        if name and name in self.statements:
            raise PgError(f'prepared statement "{name}" already exists', "42P05")
        if len(self.statements) >= 10_000:
            raise PgError("too many prepared statements", "54000")
        count = _param_count(sql)
        oids += [0] * (count - len(oids))
        self.statements[name] = Statement(sql.strip(), oids)
        self.send(msg(b"1"))

    async def _bind(self, body: _Body) -> None:
        portal_name, stmt_name = body.cstring(), body.cstring()
        stmt = self.statements.get(stmt_name)
        if stmt is None:
            raise PgError(f'prepared statement "{stmt_name}" does not exist', "26000")
        pformats = [body.int16() for _ in range(body.int16())]
        nparams = body.int16()
        if nparams != len(stmt.param_oids):
            raise PgError(
                f"bind message supplies {nparams} parameters, but prepared statement "
                f'"{stmt_name}" requires {len(stmt.param_oids)}',
                "08P01",
            )
        values = []
        for i in range(nparams):
            length = body.int32()
            raw = None if length == -1 else body.take(length)
            try:
                values.append(pgt.param_from_wire(raw, stmt.param_oids[i], fmt=_fmt(pformats, i)))
            except pgt.UnsupportedFormat as e:
                raise PgError(str(e), "0A000") from None
            except (ValueError, UnicodeDecodeError, struct.error) as e:
                raise PgError(f"invalid value for parameter ${i + 1}: {e}", "22P02") from None
        rformats = [body.int16() for _ in range(body.int16())]
        if any(f not in (0, 1) for f in rformats + pformats):
            raise PgError("invalid format code", "08P01")
        if portal_name and portal_name in self.portals:
            raise PgError(f'portal "{portal_name}" already exists', "42P03")
        self.portals[portal_name] = Portal(stmt, values, rformats)
        self.send(msg(b"2"))

    async def _describe(self, body: _Body) -> None:
        kind, name = body.take(1), body.cstring()
        if kind == b"S":
            stmt = self.statements.get(name)
            if stmt is None:
                raise PgError(f'prepared statement "{name}" does not exist', "26000")
            oids = [o or pgt.TEXT for o in stmt.param_oids]
            self.send(
                msg(
                    b"t",
                    struct.pack("!h", len(oids)) + b"".join(struct.pack("!i", o) for o in oids),
                )
            )
            schema = await self._statement_schema(stmt)
            self.send(row_description(schema, []) if schema is not None else msg(b"n"))
        elif kind == b"P":
            portal = self.portals.get(name)
            if portal is None:
                raise PgError(f'portal "{name}" does not exist', "34000")
            await self._run(portal)
            if portal.result is None:
                self.send(msg(b"n"))
            else:
                self._check_formats(portal)
                self.send(row_description(portal.result.schema, portal.formats))
        else:
            raise PgError("invalid Describe message", "08P01", "FATAL")

    async def _execute(self, body: _Body) -> None:
        name, max_rows = body.cstring(), body.int32()
        portal = self.portals.get(name)
        if portal is None:
            raise PgError(f'portal "{name}" does not exist', "34000")
        await self._run(portal)
        if portal.result is None:
            self._complete(portal)
            return
        self._check_formats(portal)
        await self._send_rows(portal, max_rows)
        if max_rows > 0 and portal.sent < portal.result.num_rows:
            self.send(msg(b"s"))
        else:
            self._complete(portal)

    async def _close(self, body: _Body) -> None:
        kind, name = body.take(1), body.cstring()
        if kind == b"S":
            self.statements.pop(name, None)
        elif kind == b"P":
            self.portals.pop(name, None)
        else:
            raise PgError("invalid Close message", "08P01", "FATAL")
        self.send(msg(b"3"))

    def _check_formats(self, portal: Portal) -> None:
        assert portal.result is not None
        for i, f in enumerate(portal.result.schema):
            if _fmt(portal.formats, i) == 1:
                try:
                    pgt.check_binary(pgt.pg_oid(f.type))
                except pgt.UnsupportedFormat as e:
                    raise PgError(str(e), "0A000") from None

    async def _send_rows(self, portal: Portal, max_rows: int) -> None:
        """DataRows from ``portal.sent``, at most ``max_rows`` (0: all), in chunks."""
        table = portal.result
        assert table is not None
        end = table.num_rows if max_rows <= 0 else min(table.num_rows, portal.sent + max_rows)
        oids = [pgt.pg_oid(f.type) for f in table.schema]
        encoders = [
            pgt.to_binary if _fmt(portal.formats, i) == 1 else pgt.to_text for i in range(len(oids))
        ]
        head = struct.pack("!h", len(oids))
        null = struct.pack("!i", -1)
        pos = portal.sent
        while pos < end:
            chunk = table.slice(pos, min(ROWS_PER_CHUNK, end - pos))
            columns = [c.to_pylist() for c in chunk.columns]
            out = []
            for r in range(chunk.num_rows):
                parts = [head]
                for c, col in enumerate(columns):
                    value = encoders[c](col[r], oids[c])
                    parts.append(null if value is None else struct.pack("!i", len(value)) + value)
                payload = b"".join(parts)
                out.append(b"D" + struct.pack("!i", len(payload) + 4) + payload)
            self.writer.write(b"".join(out))
            await self.writer.drain()
            pos += chunk.num_rows
        portal.sent = end

    # -- running a statement ---------------------------------------------------------------

    async def _run(self, portal: Portal) -> None:
        """Run the portal's statement once (result kept for Describe, then Execute)."""
        if portal.executed:
            return
        portal.executed = True
        sql = portal.stmt.sql
        word = _first_word(sql)
        if self.txn == b"E" and word not in ("COMMIT", "END", "ROLLBACK", "ABORT"):
            raise PgError(
                "current transaction is aborted, commands ignored until end of transaction block",
                "25P02",
            )
        if not sql:
            portal.tag = ""
            return
        if word in _COMMANDS:
            self._command(portal, word)
            return
        await self._query(portal)

    async def _statement_schema(self, stmt: Statement) -> pa.Schema | None:
        word = _first_word(stmt.sql)
        if not stmt.sql or word in _COMMANDS:
            if word == "SHOW":
                portal = Portal(stmt, [], [])
                self._command(portal, word, dry=True)
                return portal.result.schema if portal.result is not None else None
            return None
        params = [None] * len(stmt.param_oids)
        if names_lake_table(stmt.sql, self._layers()):
            describe = functools.partial(self.session.result_schema, params=params)
            return await self._guarded(describe, stmt.sql, "duckdb")
        catalogue = await self._catalogue()
        return await self._guarded(catalogue.schema, stmt.sql, params)

    async def _query(self, portal: Portal) -> None:
        sql, params = portal.stmt.sql, portal.params
        if names_lake_table(sql, self._layers()):
            run = functools.partial(self.session.query, params=params or None)
            result = await self._guarded(run, sql, "duckdb")
            portal.result = result.table
            if result.truncated:
                portal.notices.append(
                    f"the result was cut to {result.table.num_rows} rows (your role's maximum)"
                )
        else:
            catalogue = await self._catalogue()
            portal.result = await self._guarded(catalogue.run, sql, params)
            if portal.result is None:
                portal.tag = _first_word(sql) or "OK"

    def _layers(self) -> set[str]:
        if not hasattr(self, "_layer_names"):
            self._layer_names = set(LAYERS) | {
                t.split(".")[0] for t in lake_tables(self.server.config.lake)
            }
        return self._layer_names

    async def _catalogue(self) -> Catalogue:
        if self.catalogue is None:
            session = self.session
            limits = session.limits

            def build() -> Catalogue:
                return Catalogue(
                    session.tables(),
                    session.columns,
                    user=self.user or "",
                    timeout_s=limits.timeout_s,
                    max_result_bytes=min(limits.max_result_bytes, 64 << 20),
                )

            self.catalogue = await self._guarded(build)
        return self.catalogue

    async def _guarded(self, fn, *args):
        """Run ``fn`` in a worker thread; its errors as PgErrors with their SQLSTATE."""
        from jobs.serving.sql.guard import Denied
        from jobs.serving.sql.session import QueryFailed

        self.running = True
        try:
            return await self.server.run(fn, *args)
        except (Denied, CatalogueDenied) as e:
            raise PgError(str(getattr(e, "reason", e)), "42501") from None
        except (QueryFailed, CatalogueError) as e:
            text = str(e)
            lowered = text.lower()
            if "cancel" in lowered or "interrupt" in lowered or "ran longer than" in lowered:
                raise PgError(f"canceling statement: {text}", "57014") from None
            if "permission" in lowered or "disabled by configuration" in lowered:
                raise PgError(text, "42501") from None
            if "too large" in lowered or "out of memory" in lowered:
                raise PgError(text, "54000") from None
            raise PgError(text, "42000") from None
        except PgError:
            raise
        except Exception as e:
            log.exception("query failed")
            raise PgError(f"internal error: {type(e).__name__}", "XX000") from None
        finally:
            self.running = False

    # -- session commands (answered here, never by the lake) ---------------------------------

    def _command(self, portal: Portal, word: str, dry: bool = False) -> None:
        sql = portal.stmt.sql
        if word in ("BEGIN", "START"):
            self.txn = b"T" if not dry else self.txn
            portal.tag = "BEGIN"
        elif word in ("COMMIT", "END"):
            portal.tag = "ROLLBACK" if self.txn == b"E" else "COMMIT"
            self.txn = b"I" if not dry else self.txn
        elif word in ("ROLLBACK", "ABORT"):
            if re.match(r"\s*ROLLBACK\s+(WORK\s+|TRANSACTION\s+)?TO\b", sql, re.I):
                self.txn = b"T" if self.txn == b"E" else self.txn
            elif not dry:
                self.txn = b"I"
            portal.tag = "ROLLBACK"
        elif word == "SET":
            portal.tag = "SET"
            if not dry:
                self._set(sql)
        elif word == "RESET":
            portal.tag = "RESET"
            if not dry:
                self._reset(sql)
        elif word == "SHOW":
            self._show_command(portal, sql)
        elif word == "DISCARD":
            portal.tag = "DISCARD ALL"
            if not dry:
                self.statements.clear()
                self.portals = {k: v for k, v in self.portals.items() if v is portal}
        elif word == "DEALLOCATE":
            portal.tag = "DEALLOCATE"
            m = re.match(r"\s*DEALLOCATE\s+(?:PREPARE\s+)?(ALL|\"[^\"]+\"|\w+)", sql, re.I)
            if m and not dry:
                target = m.group(1)
                if target.upper() == "ALL":
                    self.statements.clear()
                else:
                    self.statements.pop(target.strip('"'), None)
        else:
            portal.tag = _COMMANDS[word]

    def _set(self, sql: str) -> None:
        body = re.sub(r"^\s*SET\s+(SESSION\s+|LOCAL\s+)?", "", sql, flags=re.I).rstrip("; \t\n")
        if re.match(r"(SESSION\s+)?CHARACTERISTICS|TRANSACTION\b", body, re.I):
            return  # isolation / read only: every session here is read only
        if re.match(r"(ROLE|SESSION\s+AUTHORIZATION)\b", body, re.I):
            raise PgError("the role is taken from the users file; it cannot be set", "42501")
        m = re.match(r"TIME\s+ZONE\s+(.+)$", body, re.I | re.S)
        if m:
            name, value = "timezone", m.group(1)
        elif re.match(r"NAMES\s+", body, re.I):
            name, value = "client_encoding", body.split(None, 1)[1]
        else:
            m = re.match(r'("[^"]+"|[A-Za-z_][\w.]*)\s*(?:=|\bTO\b)\s*(.*)$', body, re.I | re.S)
            if not m:
                raise PgError(f"syntax error in SET: {sql[:200]}", "42601")
            name, value = m.group(1).strip('"').lower(), m.group(2).strip()
        value = value.strip()
        if value.upper() == "DEFAULT":
            self._reset_one(name)
            return
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1].replace("''", "'")
        self._set_one(name, value)

    def _set_one(self, name: str, value: str) -> None:
        if name in NEVER_SET:
            raise PgError("the role is taken from the users file; it cannot be set", "42501")
        if name in READ_ONLY:
            raise PgError(f'parameter "{name}" cannot be changed', "55P02")
        if name not in SETTABLE and "." not in name:
            raise PgError(f'unrecognized configuration parameter "{name}"', "42704")
        if name == "client_encoding" and value.upper().replace("-", "") not in ("UTF8", "UNICODE"):
            raise PgError("only UTF8 is supported as client_encoding", "0A000")
        if name == "datestyle":
            if not value.upper().replace(" ", "").startswith("ISO"):
                raise PgError("only the ISO DateStyle is supported", "0A000")
            value = "ISO, MDY"
        if name == "statement_timeout":
            ms = _timeout_ms(value)
            self.session.set_limits(timeout_s=ms / 1000)
            if self.catalogue is not None and ms:
                self.catalogue.timeout_s = min(self.catalogue.timeout_s, ms / 1000)
            value = str(ms)
        if len(self.params) > 500:
            raise PgError("too many parameters set", "54000")
        self.params[name] = value[:1024]
        canonical = _CANONICAL.get(name, name)
        if canonical in REPORTED:
            self.send(msg(b"S", cstr(canonical) + cstr(self.params[name])))

    def _reset(self, sql: str) -> None:
        target = re.sub(r"^\s*RESET\s+", "", sql, flags=re.I).strip().rstrip(";").strip('"')
        if target.upper() == "ALL":
            for name in list(self.params):
                self._reset_one(name)
        else:
            self._reset_one(target.lower())

    def _reset_one(self, name: str) -> None:
        if name in NEVER_SET or name in READ_ONLY:
            return
        if name == "statement_timeout":
            self.session.set_limits(timeout_s=0)
        if name == "application_name":
            self.params[name] = self.startup.get("application_name", "")
        elif name in SETTABLE:
            self.params[name] = SETTABLE[name]
        else:
            self.params.pop(name, None)

    def _show(self, name: str) -> str:
        key = name.lower()
        if key in READ_ONLY:
            return READ_ONLY[key]
        if key in self.params:
            return self.params[key]
        if name in READ_ONLY:
            return READ_ONLY[name]
        if key in SETTABLE:
            return SETTABLE[key]
        raise PgError(f'unrecognized configuration parameter "{name}"', "42704")

    def _show_command(self, portal: Portal, sql: str) -> None:
        target = re.sub(r"^\s*SHOW\s+", "", sql, flags=re.I).strip().rstrip(";").strip()
        if re.fullmatch(r"TRANSACTION\s+ISOLATION\s+LEVEL", target, re.I):
            target = "transaction_isolation"
        elif re.fullmatch(r"TIME\s+ZONE", target, re.I):
            target = "TimeZone"
        if target.upper() == "ALL":
            names = sorted(set(READ_ONLY) | set(self.params))
            rows = [(n, self._show(n), "") for n in names]
            portal.result = pa.table(
                {
                    "name": [r[0] for r in rows],
                    "setting": [r[1] for r in rows],
                    "description": [r[2] for r in rows],
                }
            )
        else:
            name = target.strip('"')
            portal.result = pa.table({name.lower(): [self._show(name)]})
        portal.tag = "SHOW"


def _close_quietly(session, catalogue) -> None:
    for thing in (catalogue, session):
        if thing is None:
            continue
        try:
            thing.close()
        except Exception:
            log.exception("closing a session failed")


async def serve(config: ServerConfig, *, ready: Callable[[str, int], None] | None = None) -> None:
    """Run the server until cancelled (SIGTERM/SIGINT are handled by the caller)."""
    server = SqlServer(config)
    host, port = await server.start()
    if ready is not None:
        ready(host, port)
    try:
        await server.serve_forever()
    finally:
        await server.close()
