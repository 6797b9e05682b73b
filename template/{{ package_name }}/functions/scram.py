"""SCRAM-SHA-256 (RFC 7677), the client side and the verifier PostgreSQL stores: standard
library only. The password never crosses the wire; PostgreSQL proves it knows it too."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

SCRAM_ITERATIONS = 4096


class ScramError(Exception):
    """The server's side of the exchange is not what SCRAM requires."""


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def salted_password(password: str, salt: bytes, iterations: int) -> bytes:
    # SASLprep leaves printable ASCII unchanged; the generated passwords are printable ASCII.
    if not password.isascii() or not password.isprintable():
        raise ValueError("only printable ASCII passwords are supported")
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)


def scram_verifier(
    password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS
) -> str:
    """What PostgreSQL stores for a SCRAM password: `CREATE ROLE ... PASSWORD '<verifier>'`
    sets it without the password ever crossing the wire."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = salted_password(password, salt, iterations)
    stored_key = hashlib.sha256(_hmac(salted, b"Client Key")).digest()
    server_key = _hmac(salted, b"Server Key")
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"


@dataclass
class ScramClient:
    """The client side of one SCRAM-SHA-256 exchange (no channel binding)."""

    password: str
    nonce: str = ""
    # PostgreSQL takes the user from the startup message: its SCRAM user name stays empty.
    username: str = ""

    def __post_init__(self) -> None:
        self.nonce = self.nonce or _b64(secrets.token_bytes(18))
        self.client_first_bare = f"n={self.username},r={self.nonce}"
        self.server_signature = b""

    def first_message(self) -> str:
        return "n,," + self.client_first_bare

    def final_message(self, server_first: str) -> str:
        attributes = dict(item.split("=", 1) for item in server_first.split(","))
        server_nonce, salt, iterations = attributes["r"], attributes["s"], int(attributes["i"])
        if not server_nonce.startswith(self.nonce):
            raise ScramError("SCRAM: the server's nonce does not extend ours")
        salted = salted_password(self.password, base64.b64decode(salt), iterations)
        client_key = _hmac(salted, b"Client Key")
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={server_nonce}"
        auth_message = f"{self.client_first_bare},{server_first},{without_proof}".encode()
        signature = _hmac(stored_key, auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        self.server_signature = _hmac(_hmac(salted, b"Server Key"), auth_message)
        return f"{without_proof},p={_b64(proof)}"

    def verify_server(self, server_final: str) -> None:
        attributes = dict(item.split("=", 1) for item in server_final.split(","))
        if "v" not in attributes or not hmac.compare_digest(
            base64.b64decode(attributes["v"]), self.server_signature
        ):
            raise ScramError("SCRAM: the server did not prove it knows the password")
