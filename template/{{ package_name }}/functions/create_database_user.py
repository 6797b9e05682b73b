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

import json
import os
import ssl
import urllib.request
from typing import TYPE_CHECKING, Any, cast

# Lambda loads the function's files as top-level modules; tests and type checks import them
# as a package. The same siblings either way.
if TYPE_CHECKING or __package__:
    from .scram import scram_verifier
    from .wire import TIMEOUT_SECONDS, Connection, quote_identifier, quote_literal
else:
    from scram import scram_verifier
    from wire import TIMEOUT_SECONDS, Connection, quote_identifier, quote_literal

# Where RDS publishes the certificate authorities of its database certificates.
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"


def log(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


# ---------------------------------------------------------------- the user


def user_statements(*, username: str, password: str, database: str, exists: bool) -> list[str]:
    """The statements that leave `username` able to log in with `password` and to work in
    `database`: connect, temporary tables, its own objects in schema public, and the rows of
    the tables already there (a service whose tasks used the master user created those).
    Nothing more: no superuser, no role membership, no other database."""
    role = quote_identifier(username)
    verifier = quote_literal(scram_verifier(password))
    # Only a superuser may name the SUPERUSER attribute, even to leave it off, and the RDS
    # master user is none: an existing user is altered without it (a role the master user
    # made cannot be a superuser, and one that is refuses to be altered by it).
    if exists:
        role_statement = f"ALTER ROLE {role} WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD {verifier}"
    else:
        role_statement = (
            f"CREATE ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {verifier}"
        )
    return [
        role_statement,
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
        application_name="create-database-user",
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
    return cast(dict[str, str], json.loads(value["SecretString"]))


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
            import boto3  # type: ignore[import-not-found]  # the Lambda runtime's SDK

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
