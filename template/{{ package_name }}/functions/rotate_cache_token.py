"""Rotates the Redis AUTH token of one ElastiCache replication group: a Secrets Manager
rotation function (createSecret, setSecret, testSecret, finishSecret).

ElastiCache keeps at most two AUTH tokens. Its ROTATE strategy adds a new token and keeps the
newest one it had, which the running tasks hold: both authenticate while ECS rolls the tasks
onto the new one (Secrets Manager's ``Secret Label Updated`` event starts that roll, see
``secret_rollout.py``). The token before stops working at the next rotation, 30 days later.

- createSecret puts a new random token (64 letters and digits) as ``AWSPENDING``.
- setSecret hands it to ElastiCache with ROTATE, once: when the pending token already
  authenticates, or a modification is under way, it does not ask again (a second ROTATE with
  the same token would drop the one the tasks hold). It refuses to rotate when the current
  token does not authenticate: something outside this rotation changed the group.
- testSecret waits until the group is available again, then logs in to every node with the
  pending token (AUTH and PING over TLS, verified against the runtime's certificate
  authorities) and fails unless each answers.
- finishSecret moves ``AWSCURRENT`` to the pending version: the tasks are rolled.

The protocol's checks and its last step are ``rotation_steps.py``'s; every step is safe to
repeat. Standard library only, besides the runtime's boto3; nothing secret is logged.
"""

from __future__ import annotations

import os
import socket
import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

# Lambda loads the function's files as top-level modules; tests and type checks import them
# as a package. The same sibling either way.
if TYPE_CHECKING or __package__:
    from .rotation_steps import STEPS, Rotation, RotationError, log, missing
else:
    from rotation_steps import STEPS, Rotation, RotationError, log, missing

__all__ = ["STEPS", "RotationError", "TokenRotation", "on_rotation"]

TIMEOUT_SECONDS = 10
# How often testSecret and setSecret look whether ElastiCache finished a modification.
POLL_SECONDS = 15
# What a step leaves of the function's time for its last checks and its answer.
SAFETY_MARGIN_SECONDS = 60
# ElastiCache accepts 16 to 128 printable characters, and only some punctuation.
TOKEN_LENGTH = 64


# ---------------------------------------------------------------- Redis


class RedisError(Exception):
    """Redis answered with an error, or not as RESP says it should."""


def encode_command(*parts: str) -> bytes:
    """One command in RESP, as an array of bulk strings."""
    encoded = [part.encode() for part in parts]
    return b"".join(
        [f"*{len(encoded)}\r\n".encode()]
        + [f"${len(part)}\r\n".encode() + part + b"\r\n" for part in encoded]
    )


def read_simple_reply(stream: Any) -> str:
    """One simple-string reply ('+OK'); an error reply ('-WRONGPASS ...') raises."""
    line: bytes = stream.readline(4096)
    if not line.endswith(b"\r\n"):
        raise RedisError("the connection closed before a whole reply")
    text = line[:-2].decode("utf-8", "replace")
    if text.startswith("-"):
        raise RedisError(text[1:])
    if not text.startswith("+"):
        raise RedisError(f"unexpected reply type {text[:1]!r}")
    return text[1:]


def auth_and_ping(
    *, host: str, port: int, token: str, ssl_context: ssl.SSLContext, timeout: float
) -> None:
    """Log in with ``token`` over TLS and PING; raises unless Redis answers OK and PONG."""
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        ssl_context.wrap_socket(raw, server_hostname=host) as connection,
    ):
        connection.sendall(encode_command("AUTH", token) + encode_command("PING"))
        stream = connection.makefile("rb")
        try:
            if read_simple_reply(stream) != "OK":
                raise RedisError("AUTH did not answer OK")
            if read_simple_reply(stream) != "PONG":
                raise RedisError("PING did not answer PONG")
        finally:
            stream.close()


def authenticates(endpoint: Endpoint, token: str, ssl_context: ssl.SSLContext) -> bool:
    """Whether ``token`` logs in at ``endpoint``; a refused token is False, and a network or
    TLS failure raises (it says nothing about the token)."""
    try:
        auth_and_ping(
            host=endpoint.host,
            port=endpoint.port,
            token=token,
            ssl_context=ssl_context,
            timeout=TIMEOUT_SECONDS,
        )
    except RedisError as error:
        # WRONGPASS (Redis 6 and later) or "invalid password" (ElastiCache, older Redis).
        message = str(error).upper()
        if "WRONGPASS" in message or "INVALID PASSWORD" in message or "NOAUTH" in message:
            return False
        raise
    return True


# ---------------------------------------------------------------- ElastiCache


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int


@dataclass(frozen=True)
class Group:
    """What one DescribeReplicationGroups answer says about the group."""

    status: str
    modifying_token: bool
    primary: Endpoint
    nodes: tuple[Endpoint, ...]

    @property
    def ready(self) -> bool:
        return self.status == "available" and not self.modifying_token

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """The primary endpoint, then every node's own."""
        return (self.primary, *(node for node in self.nodes if node != self.primary))


def describe_group(elasticache: Any, group_id: str) -> Group:
    answer = elasticache.describe_replication_groups(ReplicationGroupId=group_id)
    group = answer["ReplicationGroups"][0]
    node_group = group["NodeGroups"][0]
    primary = node_group["PrimaryEndpoint"]
    return Group(
        status=group["Status"],
        modifying_token="AuthTokenStatus" in group.get("PendingModifiedValues", {}),
        primary=Endpoint(primary["Address"], int(primary["Port"])),
        nodes=tuple(
            Endpoint(member["ReadEndpoint"]["Address"], int(member["ReadEndpoint"]["Port"]))
            for member in node_group.get("NodeGroupMembers", [])
            if "ReadEndpoint" in member
        ),
    )


# ---------------------------------------------------------------- the rotation


class Clock(Protocol):
    def remaining_seconds(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


@dataclass
class LambdaClock:
    """The function's own time: Lambda's context says how much is left."""

    context: Any

    def remaining_seconds(self) -> float:
        return float(self.context.get_remaining_time_in_millis()) / 1000

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class TokenRotation(Rotation):
    """The steps for one secret and one replication group."""

    secrets: Any
    elasticache: Any
    group_id: str
    ssl_context: ssl.SSLContext
    clock: Clock

    def create_secret(self, secret_id: str, token: str) -> None:
        self.value(secret_id, VersionStage="AWSCURRENT")  # it must exist
        if self.pending_exists(secret_id, token):
            log("token_already_created", version=token)
            return
        new = self.secrets.get_random_password(
            PasswordLength=TOKEN_LENGTH, ExcludePunctuation=True, IncludeSpace=False
        )["RandomPassword"]
        self.put_pending(secret_id, token, new)
        log("token_created", version=token)

    def set_secret(self, secret_id: str, token: str) -> None:
        pending = self.value(secret_id, VersionId=token, VersionStage="AWSPENDING")
        group = describe_group(self.elasticache, self.group_id)
        if not group.ready:
            # A modification is under way, perhaps this rotation's own ROTATE: never a
            # second one. Wait for it, then look again.
            group = self._wait_until_ready()
        if authenticates(group.primary, pending, self.ssl_context):
            log("token_already_set", version=token, group=self.group_id)
            return
        current = self.value(secret_id, VersionStage="AWSCURRENT")
        if not authenticates(group.primary, current, self.ssl_context):
            raise RotationError(
                f"the current token does not log in to {self.group_id}: it was changed "
                "outside this rotation; rotating now could drop the token the tasks hold "
                "(README, 'Redis AUTH token')"
            )
        self.elasticache.modify_replication_group(
            ReplicationGroupId=self.group_id,
            AuthToken=pending,
            AuthTokenUpdateStrategy="ROTATE",
            ApplyImmediately=True,
        )
        log("token_rotate_requested", version=token, group=self.group_id)
        self._wait_until_ready()

    def test_secret(self, secret_id: str, token: str) -> None:
        pending = self.value(secret_id, VersionId=token, VersionStage="AWSPENDING")
        group = self._wait_until_ready()
        refused = [
            endpoint.host
            for endpoint in group.endpoints
            if not authenticates(endpoint, pending, self.ssl_context)
        ]
        if refused:
            raise RotationError(f"the pending token does not log in at {', '.join(refused)}")
        # The tasks still hold the current token until they are rolled: say whether it works.
        current = self.value(secret_id, VersionStage="AWSCURRENT")
        current_works = authenticates(group.primary, current, self.ssl_context)
        log(
            "token_tested",
            version=token,
            group=self.group_id,
            nodes=len(group.endpoints),
            current_still_valid=current_works,
        )
        if not current_works:
            # Finishing now rolls the tasks onto the token that works.
            log("current_token_refused", group=self.group_id)

    def _wait_until_ready(self) -> Group:
        """The group once no modification is under way; raises when the function's time
        runs out first (Secrets Manager then retries the rotation)."""
        while True:
            group = describe_group(self.elasticache, self.group_id)
            if group.ready:
                return group
            if self.clock.remaining_seconds() < SAFETY_MARGIN_SECONDS + POLL_SECONDS:
                raise RotationError(f"{self.group_id} is still {group.status}")
            log("waiting_for_group", group=self.group_id, status=group.status)
            self.clock.sleep(POLL_SECONDS)


def on_rotation(event: dict[str, Any], context: Any) -> None:
    """Secrets Manager's entry point: {"Step", "SecretId", "ClientRequestToken"}."""
    absent = missing(event, ("Step", "SecretId", "ClientRequestToken"))
    if absent:
        raise RotationError(f"the event lacks {', '.join(absent)}")
    import boto3  # type: ignore[import-not-found]  # the Lambda runtime's SDK

    context_tls = ssl.create_default_context()
    context_tls.minimum_version = ssl.TLSVersion.TLSv1_2
    rotation = TokenRotation(
        secrets=boto3.client("secretsmanager"),
        elasticache=boto3.client("elasticache"),
        group_id=os.environ["REPLICATION_GROUP_ID"],
        ssl_context=context_tls,
        clock=LambdaClock(context),
    )
    log("rotation_step", step=event["Step"], version=event["ClientRequestToken"])
    rotation.run(step=event["Step"], secret_id=event["SecretId"], token=event["ClientRequestToken"])
