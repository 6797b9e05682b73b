"""Rotates a PostgreSQL password kept in an RDS database secret: a Secrets Manager rotation
function, in one of two strategies (``ROTATION_STRATEGY``).

- ``single-user`` (the master user's secret): the user logs in with its current password and
  sets the new one. Nothing logs in as the master user but the rotations and the
  database-user function, so the moment between the change and ``AWSCURRENT`` is harmless.
- ``multi-user`` (the application's secret): the new version names the other of two users,
  ``<user>`` and ``<user>_clone``; the master user (``masterarn`` in the secret) gives that one
  the new password, creating it as a member of ``<user>`` the first time, so it has the same
  rights and the tables it touches stay owned by ``<user>``. The tasks keep logging in as the
  current user until they are rolled onto the new version, so none is ever refused.

The secrets keep the format of RDS database secrets (``engine``, ``host``, ``port``,
``username``, ``password``, ``dbname``, ``masterarn``), which Secrets Manager's own rotation
functions for PostgreSQL read and write: a secret they rotated before goes on from where it
is, ``<user>_clone`` included. ``dbname`` is optional there; where a secret has none, the
functions work in the database the stack names (``DATABASE_NAME``).

- createSecret puts the new version (a random password of 40 letters and digits) as
  ``AWSPENDING``.
- setSecret does nothing when the pending version already logs in; otherwise it sets the
  password with a SCRAM verifier (the password itself never reaches the server, nor its
  logs). It refuses when the version it logs in with is refused: the password was changed
  outside the rotation, and the README says how to recover.
- testSecret logs in with the pending version and runs a query.
- finishSecret makes the pending version current (``rotation_steps.py``).

One more step is the operator's, never Secrets Manager's: ``restorePasswords`` (multi-user
only) gives the users of the secret's current and previous versions the passwords those
versions hold, as the master user, where the database refuses them: after someone changed one
by hand, or after a restore brought back older passwords (README, "Database credentials").
It sets nothing the secret does not already say, and only whoever may invoke this function
(an operator; none of the service's own roles) can ask for it: the repair psql would
otherwise need, from a network no operator's machine reaches. The operator's other step,
``transferOwnership`` (multi-user only), gives the application's user (``<user>``) what the
master user owns in the application's database (``ownership.py``): the tables a service made
while its tasks logged in as the master user, which its migrations, now run as ``<user>``,
could not alter.

Standard library only, besides the runtime's boto3: PostgreSQL over TLS verified against the
RDS certificate authorities (``wire.py``); nothing secret is logged.
"""

from __future__ import annotations

import json
import os
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

# Lambda loads the function's files as top-level modules; tests and type checks import them
# as a package. The same siblings either way.
if TYPE_CHECKING or __package__:
    from .create_database_user import RDS_CA_BUNDLE_URL, rds_ssl_context
    from .ownership import membership_statement, owned_objects_query, transfer_statement
    from .rotation_steps import STEPS, Rotation, RotationError, log, missing
    from .scram import scram_verifier
    from .wire import (
        INVALID_PASSWORD,
        Connection,
        PostgresError,
        quote_identifier,
        quote_literal,
    )
else:
    from create_database_user import RDS_CA_BUNDLE_URL, rds_ssl_context
    from ownership import membership_statement, owned_objects_query, transfer_statement
    from rotation_steps import STEPS, Rotation, RotationError, log, missing
    from scram import scram_verifier
    from wire import (
        INVALID_PASSWORD,
        Connection,
        PostgresError,
        quote_identifier,
        quote_literal,
    )

__all__ = [
    "RESTORE_STEP",
    "STEPS",
    "TRANSFER_STEP",
    "PasswordRotation",
    "RotationError",
    "on_rotation",
]

Strategy = Literal["single-user", "multi-user"]
STRATEGIES: tuple[Strategy, ...] = ("single-user", "multi-user")
CLONE_SUFFIX = "_clone"
STEP_EVENT_KEYS = ("Step", "SecretId", "ClientRequestToken")
PASSWORD_LENGTH = 40
APPLICATION_NAME = "rotate-database-password"
RESTORE_STEP = "restorePasswords"
TRANSFER_STEP = "transferOwnership"
OPERATOR_STEPS = (RESTORE_STEP, TRANSFER_STEP)
# How long the ownership transfer waits for each object's lock (a change of owner takes a
# table's whole, for a moment; the service's queries on that table queue behind the wait).
LOCK_TIMEOUT = "3s"


def other_user(username: str) -> str:
    """``app`` -> ``app_clone`` -> ``app``: the multi-user rotation's two users."""
    if username.endswith(CLONE_SUFFIX):
        return username.removesuffix(CLONE_SUFFIX)
    return username + CLONE_SUFFIX


def password_refused(username: str) -> RotationError:
    """A rotation that cannot log in with a password it must use: changed outside it."""
    return RotationError(
        f"the current password of {username!r} is refused: it was changed outside this "
        "rotation (README, 'Database credentials')"
    )


def password_statement(*, username: str, password: str, create_in_role: str | None) -> str:
    """The statement that gives ``username`` the password, as a SCRAM verifier; with
    ``create_in_role``, it creates the user as a member of that role, with nothing more."""
    role = quote_identifier(username)
    verifier = "'" + scram_verifier(password) + "'"  # base64 and '$:': nothing to escape
    if create_in_role is None:
        return f"ALTER ROLE {role} WITH PASSWORD {verifier}"
    return (
        f"CREATE ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT"
        f" PASSWORD {verifier} IN ROLE {quote_identifier(create_in_role)}"
    )


@dataclass
class PasswordRotation(Rotation):
    """The steps for one database secret."""

    secrets: Any
    strategy: Strategy
    ssl_context: ssl.SSLContext
    lock_timeout: str = LOCK_TIMEOUT
    # The application's database, where a secret names none (``DATABASE_NAME``).
    database_name: str | None = None

    def database_of(self, secret: dict[str, Any]) -> str:
        """The database a secret's user works in: its ``dbname``, else the stack's."""
        name = secret.get("dbname") or self.database_name
        if not name:
            raise RotationError("the secret names no database (dbname) and DATABASE_NAME is unset")
        return str(name)

    def secret(self, secret_id: str, **version: str) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(self.value(secret_id, **version)))

    def create_secret(self, secret_id: str, token: str) -> None:
        current = self.secret(secret_id, VersionStage="AWSCURRENT")
        if self.pending_exists(secret_id, token):
            log("password_already_created", version=token)
            return
        username = current["username"]
        if self.strategy == "multi-user":
            username = other_user(username)
        password = self.secrets.get_random_password(
            PasswordLength=PASSWORD_LENGTH, ExcludePunctuation=True, IncludeSpace=False
        )["RandomPassword"]
        self.put_pending(
            secret_id, token, json.dumps(current | {"username": username, "password": password})
        )
        log("password_created", version=token, username=username)

    def set_secret(self, secret_id: str, token: str) -> None:
        pending = self.secret(secret_id, VersionId=token, VersionStage="AWSPENDING")
        if self.logs_in(pending):
            log("password_already_set", version=token, username=pending["username"])
            return
        current = self.secret(secret_id, VersionStage="AWSCURRENT")
        if self.strategy == "single-user":
            # The user changes its own password.
            if pending["username"] != current["username"]:
                raise RotationError("a single-user rotation must keep the username")
            statement = password_statement(
                username=pending["username"], password=pending["password"], create_in_role=None
            )
            self.run_as(current, statement)
        else:
            self.set_as_master(
                self.master_login(current["masterarn"]), current=current, pending=pending
            )
        log("password_set", version=token, username=pending["username"])

    def master_login(self, master_arn: str) -> dict[str, Any]:
        """The master user's secret as the database takes it now: its current version or,
        while the master's own rotation is between setting its new password and making it
        current, its pending one. The two secrets' schedules start together (the first deploy
        creates both), so their rotations can run at the same moment."""
        current = self.secret(master_arn, VersionStage="AWSCURRENT")
        if self.logs_in(current):
            return current
        try:
            pending = self.secret(master_arn, VersionStage="AWSPENDING")
        except self.secrets.exceptions.ResourceNotFoundException:
            pending = None
        if pending is not None and self.logs_in(pending):
            log("master_password_pending", username=pending["username"])
            return pending
        raise password_refused(current["username"])

    def set_as_master(
        self, master: dict[str, Any], *, current: dict[str, Any], pending: dict[str, Any]
    ) -> None:
        if other_user(current["username"]) != pending["username"]:
            raise RotationError(
                f"the pending user {pending['username']!r} is not the other of"
                f" {current['username']!r}"
            )
        self.check_master_may_set(master, current=current, target=pending)
        # Whoever may write this secret must also know a working password of it: otherwise
        # the master user would act for them (the confused deputy Secrets Manager's own
        # multi-user rotation guards against the same way).
        if not self.logs_in(current):
            raise password_refused(current["username"])
        self.give_password(master, pending)

    def check_master_may_set(
        self, master: dict[str, Any], *, current: dict[str, Any], target: dict[str, Any]
    ) -> None:
        """The master user sets passwords of the application's two users only, on its own
        database: never its own, nor one that would make a user a member of it."""
        base = target["username"].removesuffix(CLONE_SUFFIX)
        if master["username"] in (target["username"], base, current["username"]):
            raise RotationError("the multi-user rotation must not rotate the master user")
        if (master["host"], int(master["port"])) != (target["host"], int(target["port"])):
            raise RotationError("the secret and its master secret name different databases")

    def give_password(self, master: dict[str, Any], secret: dict[str, Any]) -> None:
        """As the master user, gives the secret's user its password; a clone that does not
        exist yet is created as a member of its base user."""
        username = secret["username"]
        base = username.removesuffix(CLONE_SUFFIX)
        connection = self.connect(master, database=self.database_of(secret))
        try:
            rows = connection.query(
                f"SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = {quote_literal(username)}"
            )
            if not rows and username == base:
                raise RotationError(
                    f"the user {username!r} does not exist (the first deploy's database-user"
                    " function creates it)"
                )
            create_in_role = base if not rows else None
            statement = password_statement(
                username=username, password=secret["password"], create_in_role=create_in_role
            )
            connection.query(statement)
        finally:
            connection.close()
        if create_in_role is not None:
            log("user_created", username=username, member_of=base)

    def restore_passwords(self, secret_id: str) -> list[str]:
        """The operator's repair (``RESTORE_STEP``): the users of the current and previous
        versions get the passwords those versions hold where the database refuses them, the
        current's last; returns the users whose password it set."""
        if self.strategy != "multi-user":
            raise RotationError(
                "only the application's secret is restored this way; the master user's "
                "password is set through RDS (README, 'Database credentials')"
            )
        current = self.secret(secret_id, VersionStage="AWSCURRENT")
        versions = [current]
        try:
            previous = self.secret(secret_id, VersionStage="AWSPREVIOUS")
        except self.secrets.exceptions.ResourceNotFoundException:
            previous = None
        # The tasks not yet rolled onto the current version log in with the previous one.
        if previous is not None and previous["username"] == other_user(current["username"]):
            versions.insert(0, previous)
        master = self.master_login(current["masterarn"])
        restored: list[str] = []
        for version in versions:
            self.check_master_may_set(master, current=current, target=version)
            if self.logs_in(version):
                log("password_works", username=version["username"])
                continue
            self.give_password(master, version)
            log("password_restored", username=version["username"])
            restored.append(version["username"])
        return restored

    def transfer_ownership(self, secret_id: str) -> dict[str, list[str]]:
        """The operator's other step (``TRANSFER_STEP``): what the master user owns in the
        application's database becomes the application's user's (``<user>``, whichever of
        the two is current), one object at a time; answers what it moved and what it kept
        (``ownership.py``), each as "<kind> <name>", or fails naming what it could not move
        (a lock it waited for past ``lock_timeout``) after moving the rest."""
        if self.strategy != "multi-user":
            raise RotationError(
                "ownership goes to the user of the application's secret; this function "
                "rotates the master user's"
            )
        current = self.secret(secret_id, VersionStage="AWSCURRENT")
        owner = current["username"].removesuffix(CLONE_SUFFIX)
        master = self.master_login(current["masterarn"])
        self.check_master_may_set(master, current=current, target=current)
        # As for a rotation: whoever may write the secret must also know a working password
        # of it, or they would choose whom the master user gives everything to.
        if not self.logs_in(current):
            raise password_refused(current["username"])
        connection = self.connect(master, database=self.database_of(current))
        moved: list[str] = []
        kept: list[str] = []
        failed: list[str] = []
        try:
            if not connection.query(
                f"SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = {quote_literal(owner)}"
            ):
                raise RotationError(
                    f"the user {owner!r} does not exist (the first deploy's database-user"
                    " function creates it)"
                )
            to_move: list[tuple[str, str]] = []
            for kind, name, movable in connection.query(owned_objects_query(owner)):
                label = f"{kind} {name}"
                statement = transfer_statement(str(kind), str(name), to=owner)
                if statement is None or movable != "t":
                    kept.append(label)
                else:
                    to_move.append((label, statement))
            if to_move:
                # The master user stays a member of <user>, and so keeps its rights on what
                # it gave: the database-user function's grants, run again at an update of
                # its resource, need them.
                connection.query(membership_statement(owner, member=master["username"]))
                # Each change of owner is its own transaction: it holds the object's lock
                # for a moment only, and waits for it at most lock_timeout.
                connection.query(f"SET lock_timeout = {quote_literal(self.lock_timeout)}")
            for label, statement in to_move:
                try:
                    connection.query(statement)
                except PostgresError as error:
                    failed.append(f"{label} ({error})")
                    continue
                moved.append(label)
        finally:
            connection.close()
            log("ownership_transferred", owner=owner, moved=moved, kept=kept, failed=failed)
        if failed:
            raise RotationError(
                f"not moved: {'; '.join(failed)}. Moved: {', '.join(moved) or 'nothing'}."
                " Run the step again when nothing holds their locks."
            )
        return {"transferred": moved, "kept": kept}

    def test_secret(self, secret_id: str, token: str) -> None:
        pending = self.secret(secret_id, VersionId=token, VersionStage="AWSPENDING")
        connection = self.connect(pending)
        try:
            [[user]] = connection.query("SELECT current_user")
        finally:
            connection.close()
        if user != pending["username"]:
            raise RotationError(f"logged in as {user!r}, not {pending['username']!r}")
        log("password_tested", version=token, username=user)

    def connect(self, secret: dict[str, Any], *, database: str | None = None) -> Connection:
        return Connection(
            host=secret["host"],
            port=int(secret["port"]),
            user=secret["username"],
            password=secret["password"],
            database=database or self.database_of(secret),
            ssl_context=self.ssl_context,
            application_name=APPLICATION_NAME,
        )

    def logs_in(self, secret: dict[str, Any]) -> bool:
        """Whether the secret's user logs in with its password; a refused login is False, and
        any other failure (network, TLS) raises: it says nothing about the password."""
        try:
            self.connect(secret).close()
        except PostgresError as error:
            if error.sqlstate == INVALID_PASSWORD:
                return False
            raise
        return True

    def run_as(self, secret: dict[str, Any], statement: str) -> None:
        try:
            connection = self.connect(secret)
        except PostgresError as error:
            if error.sqlstate == INVALID_PASSWORD:
                raise password_refused(secret["username"]) from error
            raise
        try:
            connection.query(statement)
        finally:
            connection.close()


def on_rotation(event: dict[str, Any], context: Any) -> dict[str, list[str]] | None:
    """Secrets Manager's entry point: {"Step", "SecretId", "ClientRequestToken"}; and the
    operator's two steps: {"Step": "restorePasswords", "SecretId"}, which answers
    {"restored": [the users whose password it set]}, and {"Step": "transferOwnership",
    "SecretId"}, which answers {"transferred": [what it gave the application's user],
    "kept": [what it does not move]}."""
    operator_step = event.get("Step") in OPERATOR_STEPS
    absent = missing(event, ("Step", "SecretId") if operator_step else STEP_EVENT_KEYS)
    if absent:
        raise RotationError(f"the event lacks {', '.join(absent)}")
    strategy = os.environ.get("ROTATION_STRATEGY", "")
    if strategy not in STRATEGIES:
        raise RotationError(f"ROTATION_STRATEGY is {strategy!r}, not one of {STRATEGIES}")
    import boto3  # type: ignore[import-not-found]  # the Lambda runtime's SDK

    rotation = PasswordRotation(
        secrets=boto3.client("secretsmanager"),
        strategy=strategy,
        ssl_context=rds_ssl_context(os.environ.get("CA_BUNDLE_URL", RDS_CA_BUNDLE_URL)),
        database_name=os.environ.get("DATABASE_NAME"),
    )
    if event["Step"] == RESTORE_STEP:
        log("restore_passwords", secret=event["SecretId"])
        return {"restored": rotation.restore_passwords(event["SecretId"])}
    if event["Step"] == TRANSFER_STEP:
        log("transfer_ownership", secret=event["SecretId"])
        return rotation.transfer_ownership(event["SecretId"])
    log("rotation_step", step=event["Step"], version=event["ClientRequestToken"])
    rotation.run(step=event["Step"], secret_id=event["SecretId"], token=event["ClientRequestToken"])
    return None
