"""A minimal client for PostgreSQL's wire protocol, version 3.0: TLS first (verified by the
caller's context), SCRAM-SHA-256 only, simple queries. Standard library only: the Lambda
runtime has no PostgreSQL driver."""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

# Lambda loads the function's files as top-level modules; tests and type checks import them
# as a package. The same sibling either way.
if TYPE_CHECKING or __package__:
    from .scram import ScramClient, ScramError
else:
    from scram import ScramClient, ScramError

TIMEOUT_SECONDS = 15
# PostgreSQL identifiers this function creates or grants to: plain lowercase names only.
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
PROTOCOL_VERSION = 196608  # 3.0
SSL_REQUEST_CODE = 80877103


# The SQLSTATE of a refused login: PostgreSQL gives it for a wrong password and, so as not to
# tell which users exist, for a user that does not exist.
INVALID_PASSWORD = "28P01"  # pragma: allowlist secret


class PostgresError(Exception):
    """An ErrorResponse from the server (its SQLSTATE in ``sqlstate``), or a protocol the
    client does not speak (``sqlstate`` empty)."""

    def __init__(self, message: str, sqlstate: str = "") -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class Connection:
    """One PostgreSQL session over TLS: simple queries only."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        user: str,
        password: str,
        database: str,
        ssl_context: ssl.SSLContext,
        application_name: str,
    ) -> None:
        raw = socket.create_connection((host, port), timeout=TIMEOUT_SECONDS)
        # Each message is sent as soon as it is written, as libpq does: otherwise Nagle's
        # algorithm holds a small one until the server's delayed ACK, 40 ms per exchange.
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            raw.sendall(struct.pack("!ii", 8, SSL_REQUEST_CODE))
            if raw.recv(1) != b"S":
                raise PostgresError("the server refused TLS")
            self._socket = ssl_context.wrap_socket(raw, server_hostname=host)
        except BaseException:
            raw.close()
            raise
        self._buffer = b""
        try:
            self._start(user, password, database, application_name)
        except BaseException:
            self.close()
            raise

    def _send(self, kind: bytes, payload: bytes) -> None:
        self._socket.sendall(kind + struct.pack("!i", len(payload) + 4) + payload)

    def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = self._socket.recv(65536)
            if not chunk:
                raise PostgresError("the server closed the connection")
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _receive(self) -> tuple[bytes, bytes]:
        kind = self._read_exactly(1)
        (length,) = struct.unpack("!i", self._read_exactly(4))
        payload = self._read_exactly(length - 4)
        if kind == b"E":
            fields = _error_fields(payload)
            raise PostgresError(_error_text(fields), fields.get("C", ""))
        return kind, payload

    def _start(self, user: str, password: str, database: str, application_name: str) -> None:
        parameters = b"".join(
            key.encode() + b"\0" + value.encode() + b"\0"
            for key, value in (
                ("user", user),
                ("database", database),
                ("application_name", application_name),
            )
        )
        startup = struct.pack("!i", PROTOCOL_VERSION) + parameters + b"\0"
        self._socket.sendall(struct.pack("!i", len(startup) + 4) + startup)
        scram: ScramClient | None = None
        while True:
            kind, payload = self._receive()
            if kind == b"R":
                (code,) = struct.unpack("!i", payload[:4])
                data = payload[4:]
                if code == 0:  # AuthenticationOk
                    continue
                if code == 10:  # AuthenticationSASL: the mechanisms offered
                    if b"SCRAM-SHA-256\0" not in data:
                        raise PostgresError("the server offers no SCRAM-SHA-256")
                    scram = ScramClient(password)
                    first = scram.first_message().encode()
                    self._send(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first)
                elif code == 11 and scram is not None:  # AuthenticationSASLContinue
                    self._send(b"p", _scram_step(scram.final_message, data))
                elif code == 12 and scram is not None:  # AuthenticationSASLFinal
                    _scram_step(scram.verify_server, data)
                else:
                    # Clear-text and MD5 passwords are refused: SCRAM or nothing.
                    raise PostgresError(f"unsupported authentication request {code}")
            elif kind == b"Z":  # ReadyForQuery
                if scram is None or not scram.server_signature:
                    raise PostgresError("the server did not authenticate with SCRAM")
                return
            # ParameterStatus, BackendKeyData and notices need no answer.

    def query(self, sql: str) -> list[list[str | None]]:
        """Run one simple query; the rows of its result (as text), if any."""
        self._send(b"Q", sql.encode() + b"\0")
        rows: list[list[str | None]] = []
        error: PostgresError | None = None
        while True:
            try:
                kind, payload = self._receive()
            except PostgresError as raised:
                error = raised  # the server still sends ReadyForQuery
                continue
            if kind == b"D":
                rows.append(_data_row(payload))
            elif kind == b"Z":
                if error is not None:
                    raise error
                return rows

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send(b"X", b"")
        self._socket.close()


def _scram_step(step: Callable[[str], str | None], data: bytes) -> bytes:
    """One step of the exchange; a SCRAM failure is a failed connection, like any other."""
    try:
        answer = step(data.decode())
    except ScramError as error:
        raise PostgresError(str(error)) from error
    return (answer or "").encode()


def _error_fields(payload: bytes) -> dict[str, str]:
    return {
        part[:1].decode(): part[1:].decode(errors="replace")
        for part in payload.split(b"\0")
        if part
    }


def _error_text(fields: dict[str, str]) -> str:
    return f"{fields.get('S', 'ERROR')} {fields.get('C', '')}: {fields.get('M', '')}"


def _data_row(payload: bytes) -> list[str | None]:
    (count,) = struct.unpack("!h", payload[:2])
    offset, values = 2, list[str | None]()
    for _ in range(count):
        (length,) = struct.unpack("!i", payload[offset : offset + 4])
        offset += 4
        if length < 0:
            values.append(None)
        else:
            values.append(payload[offset : offset + length].decode())
            offset += length
    return values


def quote_identifier(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise ValueError(f"not a plain lowercase PostgreSQL name: {name!r}")
    return f'"{name}"'


def quote_literal(value: str) -> str:
    if "\0" in value or "\\" in value:
        raise ValueError("refusing a literal with NUL or backslash")
    return "'" + value.replace("'", "''") + "'"
