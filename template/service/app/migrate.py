"""Schema migrations: `python -m app.migrate` brings the database to this code's schema.

A release runs it before its tasks start; `scripts/dev` runs it locally. It reads the
service's `DB_*` variables (nothing of Redis: see `MigrationSettings`), then:

1. connects and, when `DB_SCHEMA_OWNER` is set, `SET ROLE`s to it, so that role owns every
   table a revision creates, whichever user (`app`, or `app_clone` after a rotation) logged in;
2. takes a session-level advisory lock (one fixed key), waiting at most the statement timeout
   for a run that holds it: runs started together apply each revision once;
3. sets `lock_timeout` and `statement_timeout`: a revision stuck behind another session's lock
   fails the release quickly instead of hanging (and queueing the service's queries behind it);
4. does nothing when the database is at this code's head, or ahead of it (a newer release
   migrated it, and expand/contract keeps this code working on that schema); otherwise applies
   the pending revisions, each in its own transaction.

Exit status: 0 applied, nothing to do, or database ahead; 1 failed (the failing revision rolled
back, the ones before it kept); 2 bad configuration; 130 stopped by Ctrl-C (the same rollback).
Every line on stdout is one JSON object (app/logs.py); the events are listed in README.md,
"Schema migrations".
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import ScriptDirectory
from psycopg import errors
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from app.logs import configure_logging, log_event
from app.settings import LIBPQ_DEAD_PEER_DETECTION, MigrationSettings, SettingsError

EXIT_OK = 0
EXIT_MIGRATION_FAILED = 1
EXIT_CONFIGURATION_ERROR = 2
EXIT_INTERRUPTED = 128 + 2  # SIGINT's number, as a shell reports a process Ctrl-C stopped
# "1": a failed run also prints the exception's traceback on stderr (scripts/dev sets it).
TRACEBACK_VARIABLE = "MIGRATION_TRACEBACK"

# service/migrations; /srv/migrations in the image.
SCRIPT_LOCATION = Path(__file__).resolve().parent.parent / "migrations"
# Every run of every release contends for one lock, whose key is derived from this name.
# Advisory locks are per database: services on other databases never wait for each other.
LOCK_NAME = "app.migrate"
LOCK_KEY = int.from_bytes(hashlib.sha256(LOCK_NAME.encode()).digest()[:8], "big", signed=True)
CONNECT_TIMEOUT_SECONDS = 10
# A database that cannot be reached yet is tried again 1, 2, 4 and then every 8 s.
CONNECT_RETRY_MAX_DELAY_SECONDS = 8.0
# How often a run waiting for the lock tries it again.
LOCK_POLL_SECONDS = 0.5


def main(
    environ: Mapping[str, str] | None = None, *, script_location: Path = SCRIPT_LOCATION
) -> int:
    """Migrate and return the exit status. `script_location` is for tests (extra revisions)."""
    configure_logging()
    try:
        settings = MigrationSettings.from_env(environ)
    except SettingsError as exc:
        # The message names variables, never the values of secrets.
        log_event("startup_failed", logging.ERROR, reason=str(exc))
        return EXIT_CONFIGURATION_ERROR
    configure_logging(secrets=settings.secrets)
    # Alembic narrates each step at INFO; this module logs them as events of its own.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return migrate(settings, script_location=script_location)
    except KeyboardInterrupt:
        # Ctrl-C on a run by hand: psycopg cancelled the running statement and the revision's
        # transaction rolled back; the revisions before it stay applied. No traceback.
        log_event("migration_interrupted", logging.WARNING)
        return EXIT_INTERRUPTED


def migrate(settings: MigrationSettings, *, script_location: Path = SCRIPT_LOCATION) -> int:
    config = alembic_config(script_location)
    try:
        # Reads every revision file: one that does not import fails here, before connecting.
        script = ScriptDirectory.from_config(config)
        script.get_heads()
    except Exception as exc:
        return _failed("load", exc)
    engine = _engine(settings)
    stage = "connect"
    try:
        with _connect(engine, settings.connect_retry_seconds) as connection:
            stage = "prepare"
            prepare_session(connection, settings)
            stage = "upgrade"
            return _upgrade(connection, config, script)
    except Exception as exc:
        return _failed(stage, exc)
    finally:
        # Closes the connection (NullPool), which ends the session and so releases its lock.
        engine.dispose()


def _connect(engine: Engine, retry_seconds: float) -> Connection:
    """The run's connection. Each task migrates before its service starts: a database being
    rebooted or failed over would otherwise fail every task started meanwhile (ECS could not
    replace a stopped task, and a release would roll back on a blip), so it is tried again,
    each failed attempt logged, for `retry_seconds`. A wrong password or database name is
    retried too (libpq reports every failed connection alike), and fails after that time."""
    deadline = time.monotonic() + retry_seconds
    delay = 1.0
    while True:
        try:
            return engine.connect()
        except OperationalError as exc:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise
            wait = min(delay, remaining)
            cause = exc.orig if exc.orig is not None else exc
            log_event(
                "migration_connect_retry",
                logging.WARNING,
                error=type(cause).__name__,
                retry_in_seconds=round(wait, 1),
            )
            time.sleep(wait)
            delay = min(delay * 2, CONNECT_RETRY_MAX_DELAY_SECONDS)


def alembic_config(script_location: Path) -> Config:
    """Alembic's configuration in code: the image needs no alembic.ini."""
    config = Config()
    # ConfigParser interpolates '%': a literal one in a path is written '%%'.
    config.set_main_option("script_location", str(script_location).replace("%", "%%"))
    return config


def database_url(settings: MigrationSettings) -> URL:
    database = settings.database
    return URL.create(
        "postgresql+psycopg",
        username=database.username,
        password=database.password,  # URL's repr and str hide it
        host=database.host,
        port=database.port,
        database=database.name,
        query={
            **database.tls_options(),
            "connect_timeout": str(CONNECT_TIMEOUT_SECONDS),
            **LIBPQ_DEAD_PEER_DETECTION,
            "application_name": f"{settings.service_name}-migrate",
        },
    )


def _engine(settings: MigrationSettings) -> Engine:
    # NullPool: one connection, really closed at the end (never parked holding the lock).
    return create_engine(database_url(settings), poolclass=NullPool)


def prepare_session(connection: Connection, settings: MigrationSettings) -> None:
    """Role, then the advisory lock, then the timeouts the revisions run under."""
    if settings.schema_owner:
        role = connection.dialect.identifier_preparer.quote_identifier(settings.schema_owner)
        connection.exec_driver_sql(f"SET ROLE {role}")
    # Another run holding the lock is migrating, legitimately: wait for it as long as one of
    # its statements may run, not the short lock_timeout, and fail as any lock wait does.
    # The wait polls between transactions instead of blocking in pg_advisory_lock: a
    # statement waiting there holds a snapshot, which a CREATE INDEX CONCURRENTLY in the
    # run holding the lock waits for, and PostgreSQL then ends the build as a deadlock (an
    # INVALID index that fails every later run).
    _wait_for_lock(connection, settings.statement_timeout_seconds)
    _set_timeout(connection, "lock_timeout", settings.lock_timeout_seconds)
    _set_timeout(connection, "statement_timeout", settings.statement_timeout_seconds)
    # Session settings outlive the transaction only once it commits (the advisory lock is the
    # session's either way); and Alembic must start outside any transaction, or it would run
    # every revision inside this one instead of one transaction each.
    connection.commit()


def _wait_for_lock(connection: Connection, timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    if _try_lock(connection):
        return
    log_event("migration_waiting", lock=LOCK_NAME, timeout_seconds=timeout_seconds)
    while (remaining := deadline - time.monotonic()) > 0:
        time.sleep(min(LOCK_POLL_SECONDS, remaining))
        if _try_lock(connection):
            return
    raise errors.LockNotAvailable(f"{LOCK_NAME} held for over {timeout_seconds} s")


def _try_lock(connection: Connection) -> bool:
    """One attempt, in a transaction of its own that ends before the next one."""
    taken = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}))
    connection.commit()
    return taken


def _set_timeout(connection: Connection, name: str, seconds: float) -> None:
    milliseconds = max(1, round(seconds * 1000))  # 0 would mean no timeout at all
    connection.execute(
        text("SELECT set_config(:name, :value, false)"),
        {"name": name, "value": f"{milliseconds}ms"},
    )


def _upgrade(connection: Connection, config: Config, script: ScriptDirectory) -> int:
    heads = set(script.get_heads())
    current = set(MigrationContext.configure(connection).get_current_heads())
    connection.commit()  # the read began a transaction; Alembic begins its own
    if current == heads:
        log_event("schema_current", revision=_joined(current))
        return EXIT_OK
    known = {revision.revision for revision in script.walk_revisions()}
    if unknown := current - known:
        # A newer release migrated this database: this one (a rollback, or the previous
        # release still serving) keeps working on the expanded schema. Nothing to do.
        log_event(
            "database_ahead",
            logging.WARNING,
            revision=_joined(unknown),
            code_revision=_joined(heads),
        )
        return EXIT_OK

    lower = tuple(current) or "base"
    plan = [revision.revision for revision in script.iterate_revisions("heads", lower)][::-1]
    applied: list[str] = []

    def record(*, step: MigrationInfo, **_: Any) -> None:
        revision = step.up_revision_id or ""
        applied.append(revision)
        # Script revisions carry their docstring's first line; Alembic types the attribute
        # on the script's class only, not on the base it hands over here.
        doc = str(getattr(step.up_revision, "doc", "") or "")
        log_event("migration_applied", revision=revision, description=doc)

    config.attributes.update(connection=connection, on_version_apply=[record])
    try:
        command.upgrade(config, "heads")
    except Exception as exc:
        failed = next((revision for revision in plan if revision not in applied), None)
        return _failed("upgrade", exc, revision=failed)
    log_event(
        "schema_migrated",
        from_revision=_joined(current),
        to_revision=_joined(heads),
        applied=applied,
    )
    return EXIT_OK


@contextmanager
def session(settings: MigrationSettings) -> Iterator[Connection]:
    """A connection prepared as for `python -m app.migrate`, for Alembic's command line."""
    engine = _engine(settings)
    try:
        with engine.connect() as connection:
            prepare_session(connection, settings)
            yield connection
    finally:
        engine.dispose()


def _failed(stage: str, exc: BaseException, revision: str | None = None) -> int:
    # The driver's class (LockNotAvailable, UndefinedTable, ...) rather than SQLAlchemy's
    # wrapper, and never the message: it can quote SQL values or connection details.
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    fields: dict[str, Any] = {"stage": stage, "revision": revision, "error": type(cause).__name__}
    if sqlstate := getattr(cause, "sqlstate", None):
        fields["sqlstate"] = sqlstate
    log_event("migration_failed", logging.ERROR, **fields)
    if os.environ.get(TRACEBACK_VARIABLE) == "1":
        # scripts/dev sets it, never a task in AWS: the traceback may quote SQL values.
        traceback.print_exception(exc, file=sys.stderr)
    return EXIT_MIGRATION_FAILED


def _joined(revisions: Iterable[str]) -> str | None:
    """One revision as itself (the usual, linear history), several joined, none as null."""
    return ",".join(sorted(revisions)) or None


if __name__ == "__main__":
    sys.exit(main())
