"""SCRAM-SHA-256 (RFC 5802, RFC 7677), server side, over a stored verifier.

Only the verifier is stored, in PostgreSQL's text form
``SCRAM-SHA-256$<iterations>:<b64 salt>$<b64 StoredKey>:<b64 ServerKey>``; never the password.
scramp makes verifiers. Its server side is not used: from 1.4.18 it rejects the empty user name
(``n=,``) that libpq and JDBC send (the user comes from the startup message), and the user name
is part of the signed AuthMessage, so it cannot be rewritten (docs/research/pgwire.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from scramp import ScramMechanism

MECHANISM = "SCRAM-SHA-256"
DEFAULT_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)
MIN_ITERATIONS = 4096
_MAX_ATTR = 1024  # a client-first or client-final message longer than this is refused


class ScramError(ValueError):
    """The exchange failed: malformed message, wrong nonce, or wrong password."""


@dataclass(frozen=True)
class Verifier:
    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes

    def text(self) -> str:
        b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
        return (
            f"{MECHANISM}${self.iterations}:{b64(self.salt)}"
            f"${b64(self.stored_key)}:{b64(self.server_key)}"
        )

    @classmethod
    def parse(cls, text: str) -> Verifier:
        """PostgreSQL's text form; ValueError when it is not one."""
        try:
            mech, params, keys = text.split("$")
            iterations, salt = params.split(":")
            stored, server = keys.split(":")
            verifier = cls(
                int(iterations),
                base64.b64decode(salt, validate=True),
                base64.b64decode(stored, validate=True),
                base64.b64decode(server, validate=True),
            )
        except (ValueError, binascii.Error):
            raise ValueError("not a SCRAM-SHA-256 verifier") from None
        if mech != MECHANISM or len(verifier.stored_key) != 32 or len(verifier.server_key) != 32:
            raise ValueError("not a SCRAM-SHA-256 verifier")
        if verifier.iterations < 1 or not verifier.salt:
            raise ValueError("not a SCRAM-SHA-256 verifier")
        return verifier


def make_verifier(password: str, iterations: int = DEFAULT_ITERATIONS) -> Verifier:
    """A new verifier with a random salt (scramp's make_auth_info)."""
    salt, stored, server, n = ScramMechanism(MECHANISM).make_auth_info(
        password, iteration_count=iterations
    )
    return Verifier(n, salt, stored, server)


def dummy_verifier() -> Verifier:
    """A verifier no password matches: unknown and disabled users go through the same exchange."""
    return Verifier(
        DEFAULT_ITERATIONS,
        secrets.token_bytes(16),
        secrets.token_bytes(32),
        secrets.token_bytes(32),
    )


def _attrs(message: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in message.split(","):
        key, sep, value = part.partition("=")
        if not sep or len(key) != 1:
            raise ScramError("malformed SCRAM message")
        out.setdefault(key, value)
    return out


class ScramServer:
    """One exchange: ``first(client_first) -> server_first``, ``final(client_final) -> server_final``.

    ``final`` raises ScramError unless the client proved it knows the password.
    """

    def __init__(self, verifier: Verifier):
        self.verifier = verifier
        self._nonce = ""
        self._gs2 = ""
        self._bare = ""
        self._server_first = ""

    def first(self, client_first: str) -> str:
        if len(client_first) > _MAX_ATTR:
            raise ScramError("SCRAM message too long")
        # n,, : no channel binding; y,, : client supports it but we did not offer -PLUS
        if not client_first.startswith(("n,,", "y,,")):
            raise ScramError("channel binding is not supported")
        self._gs2, self._bare = client_first[:3], client_first[3:]
        client_nonce = _attrs(self._bare).get("r", "")
        if not client_nonce or not client_nonce.isprintable() or "," in client_nonce:
            raise ScramError("malformed client nonce")
        self._nonce = client_nonce + base64.b64encode(secrets.token_bytes(18)).decode()
        salt = base64.b64encode(self.verifier.salt).decode()
        self._server_first = f"r={self._nonce},s={salt},i={self.verifier.iterations}"
        return self._server_first

    def final(self, client_final: str) -> str:
        if not self._server_first:
            raise ScramError("SCRAM exchange out of order")
        if len(client_final) > _MAX_ATTR:
            raise ScramError("SCRAM message too long")
        without_proof, sep, proof_b64 = client_final.rpartition(",p=")
        if not sep:
            raise ScramError("malformed client-final message")
        attrs = _attrs(without_proof)
        try:
            binding = base64.b64decode(attrs.get("c", ""), validate=True)
            proof = base64.b64decode(proof_b64, validate=True)
        except binascii.Error:
            raise ScramError("malformed client-final message") from None
        nonce_ok = hmac.compare_digest(attrs.get("r", "").encode(), self._nonce.encode())
        if not nonce_ok or binding != self._gs2.encode() or len(proof) != 32:
            raise ScramError("nonce or channel-binding mismatch")
        auth_message = f"{self._bare},{self._server_first},{without_proof}".encode()
        signature = hmac.new(self.verifier.stored_key, auth_message, hashlib.sha256).digest()
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.sha256(client_key).digest(), self.verifier.stored_key):
            raise ScramError("wrong password")
        server_signature = hmac.new(self.verifier.server_key, auth_message, hashlib.sha256)
        return "v=" + base64.b64encode(server_signature.digest()).decode()


def verify_password(verifier: Verifier, password: str) -> bool:
    """Whether ``password`` is the one ``verifier`` was made from (a login form's check: the
    client sent the password itself, over TLS or the loopback)."""
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode("utf-8"), verifier.salt, verifier.iterations
    )
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), verifier.stored_key)
