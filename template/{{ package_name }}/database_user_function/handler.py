"""Creates the application's PostgreSQL user: a CloudFormation custom resource's Lambda.

Secrets Manager's multi-user rotation logs in as the application's current user before it
clones it, so that user must exist, with the password its secret holds, before the first
rotation. This function runs once per create (and per update of its properties): it connects
as the master user and makes sure the user exists and may log in with the secret's password
and use the database; it never deletes anything.

Standard library only (the Lambda runtime has no PostgreSQL driver): a minimal client for
PostgreSQL's wire protocol, version 3.0, over TLS verified against the RDS certificate
authorities, authenticated with SCRAM-SHA-256. The password reaches PostgreSQL as a SCRAM
verifier, never in clear; nothing secret is logged.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import ssl
import struct
import urllib.request
from dataclasses import dataclass
from typing import Any

# Where RDS publishes the certificate authorities of its database certificates.
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
SCRAM_ITERATIONS = 4096
TIMEOUT_SECONDS = 15
# PostgreSQL identifiers this function creates or grants to: plain lowercase names only.
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
PROTOCOL_VERSION = 196608  # 3.0
SSL_REQUEST_CODE = 80877103


class PostgresError(Exception):
    """An ErrorResponse from the server, or a protocol the client does not speak."""


def log(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


# ---------------------------------------------------------------- SCRAM-SHA-256 (RFC 7677)


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
            raise PostgresError("SCRAM: the server's nonce does not extend ours")
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
            raise PostgresError("SCRAM: the server did not prove it knows the password")


# ---------------------------------------------------------------- the wire protocol


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
    ) -> None:
        raw = socket.create_connection((host, port), timeout=TIMEOUT_SECONDS)
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
            self._start(user, password, database)
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
            raise PostgresError(_error_text(payload))
        return kind, payload

    def _start(self, user: str, password: str, database: str) -> None:
        parameters = b"".join(
            key.encode() + b"\0" + value.encode() + b"\0"
            for key, value in (
                ("user", user),
                ("database", database),
                ("application_name", "create-database-user"),
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
                    self._send(b"p", scram.final_message(data.decode()).encode())
                elif code == 12 and scram is not None:  # AuthenticationSASLFinal
                    scram.verify_server(data.decode())
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


def _error_text(payload: bytes) -> str:
    fields = {
        part[:1].decode(): part[1:].decode(errors="replace")
        for part in payload.split(b"\0")
        if part
    }
    return f"{fields.get('S', 'ERROR')} {fields.get('C', '')}: {fields.get('M', '')}"


def _data_row(payload: bytes) -> list[str | None]:
    (count,) = struct.unpack("!h", payload[:2])
    offset, values = 2, []
    for _ in range(count):
        (length,) = struct.unpack("!i", payload[offset : offset + 4])
        offset += 4
        if length < 0:
            values.append(None)
        else:
            values.append(payload[offset : offset + length].decode())
            offset += length
    return values


# ---------------------------------------------------------------- the user


def quote_identifier(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise ValueError(f"not a plain lowercase PostgreSQL name: {name!r}")
    return f'"{name}"'


def quote_literal(value: str) -> str:
    if "\0" in value or "\\" in value:
        raise ValueError("refusing a literal with NUL or backslash")
    return "'" + value.replace("'", "''") + "'"


def user_statements(*, username: str, password: str, database: str, exists: bool) -> list[str]:
    """The statements that leave `username` able to log in with `password` and to work in
    `database`: connect, temporary tables, its own objects in schema public, and the rows of
    the tables already there (a service whose tasks used the master user created those).
    Nothing more: no superuser, no role membership, no other database."""
    role = quote_identifier(username)
    verifier = quote_literal(scram_verifier(password))
    verb = "ALTER" if exists else "CREATE"
    return [
        f"{verb} ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {verifier}",
        f"GRANT CONNECT, TEMPORARY ON DATABASE {quote_identifier(database)} TO {role}",
        f"GRANT USAGE, CREATE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
    ]


def ensure_user(
    *,
    host: str,
    port: int,
    database: str,
    master: dict[str, str],
    user: dict[str, str],
    ssl_context: ssl.SSLContext,
) -> bool:
    """Create or update the user; True when it had to be created."""
    username = user["username"]
    if username == master["username"]:
        raise ValueError("the application user must not be the master user")
    connection = Connection(
        host=host,
        port=port,
        user=master["username"],
        password=master["password"],
        database=database,
        ssl_context=ssl_context,
    )
    try:
        rows = connection.query(
            f"SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = {quote_literal(username)}"
        )
        exists = bool(rows)
        for statement in user_statements(
            username=username, password=user["password"], database=database, exists=exists
        ):
            connection.query(statement)
    finally:
        connection.close()
    return not exists


def rds_ssl_context(bundle_url: str = RDS_CA_BUNDLE_URL) -> ssl.SSLContext:
    """TLS that trusts only the RDS certificate authorities and checks the host name. The
    bundle is fetched over HTTPS, itself verified against the runtime's public CAs."""
    with urllib.request.urlopen(bundle_url, timeout=TIMEOUT_SECONDS) as response:
        bundle = response.read().decode("ascii")
    context = ssl.create_default_context(cadata=bundle)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


# ---------------------------------------------------------------- CloudFormation


def _secret(client: Any, arn: str) -> dict[str, str]:
    value = client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    return json.loads(value["SecretString"])


def _respond(event: dict[str, Any], status: str, reason: str, physical_id: str) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:1000],
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "NoEcho": False,
            "Data": {},
        }
    ).encode()
    request = urllib.request.Request(
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        response.read()


def on_event(event: dict[str, Any], context: Any) -> None:
    """Create and Update make sure the user exists; Delete leaves the database alone (it is
    snapshotted or retained, and its users with it)."""
    properties = event["ResourceProperties"]
    physical_id = event.get("PhysicalResourceId") or f"{properties['DatabaseName']}-user"
    status, reason = "SUCCESS", "ok"
    try:
        if event["RequestType"] in ("Create", "Update"):
            import boto3  # the Lambda runtime's; imported here so tests need no AWS SDK

            client = boto3.client("secretsmanager")
            master = _secret(client, properties["MasterSecretArn"])
            user = _secret(client, properties["UserSecretArn"])
            created = ensure_user(
                host=properties["Host"],
                port=int(properties["Port"]),
                database=properties["DatabaseName"],
                master=master,
                user=user,
                ssl_context=rds_ssl_context(os.environ.get("CA_BUNDLE_URL", RDS_CA_BUNDLE_URL)),
            )
            log("database_user_ready", username=user["username"], created=created)
    except Exception as error:  # every failure must reach CloudFormation, or it waits an hour
        status, reason = "FAILED", f"{type(error).__name__}: {error}"
        log("database_user_failed", error=reason)
    _respond(event, status, reason, physical_id)
