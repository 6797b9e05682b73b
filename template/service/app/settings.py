"""Configuration read once from environment variables into immutable objects.

`Settings` is the service's (`python -m app`); `MigrationSettings` is what `python -m app.migrate`
needs: the same `DB_*` variables, read by the same code (`DatabaseSettings`), and nothing of
Redis or HTTP, so a migration task needs no cache configuration. `WorkerSettings` is the queue
worker's (`python -m app.worker`): the service's stores and the `QUEUE_*` variables. A
scheduled job (`python -m app.jobs.<name>`) reads `Settings`: the stores, with the HTTP
variables at their defaults.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
# libpq's sslmode values. RDS accepts TLS by default; verify-ca and verify-full also need the
# certificate authorities (DB_SSLROOTCERT): the tasks get verify-full and the RDS bundle the
# image carries; the default only requires encryption (a server elsewhere, with its own CA).
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# Fargate's largest task has 16 vCPU; more processes than cores only adds connections.
MAX_WORKERS = 16
# PostgreSQL's timeouts are milliseconds in a 32-bit integer (about 24 days); a day is plenty.
MAX_TIMEOUT_SECONDS = 86400.0


class SettingsError(ValueError):
    """Raised when the environment does not describe a usable configuration."""


class Environment:
    """Reads variables from a mapping and collects every problem, so that one error names
    them all (a deploy that fails should say everything that is wrong at once)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._env = os.environ if environ is None else environ
        self.errors: list[str] = []

    def raw(self, name: str) -> str:
        """The value as given (empty when unset): for optional secrets, used byte for byte."""
        return self._env.get(name, "")

    def required(self, name: str, *, secret: bool = False) -> str:
        raw = self.raw(name)
        # Blank counts as missing (an unset CDK/ECS value often renders as "").
        if not raw.strip():
            self.errors.append(f"{name} is required")
        # Secrets are used byte-for-byte; only plain values are trimmed.
        return raw if secret else raw.strip()

    def optional(self, name: str, default: str) -> str:
        return self.raw(name).strip() or default

    def integer(self, name: str, default: str, low: int, high: int) -> int:
        raw = self.optional(name, default)
        try:
            value = int(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            self.errors.append(f"{name} must be an integer from {low} to {high}, got {raw!r}")
        return value

    def port(self, name: str, default: str) -> int:
        # 0 means "any free port"; only useful for tests, harmless elsewhere.
        return self.integer(name, default, 0, 65535)

    def boolean(self, name: str, default: str) -> bool:
        raw = self.optional(name, default).lower()
        if raw in _TRUE:
            return True
        if raw not in _FALSE:
            self.errors.append(f"{name} must be 'true' or 'false', got {raw!r}")
        return False

    def path(self, name: str, default: str) -> str:
        value = self.optional(name, default)
        if not value.startswith("/") or value == "/":
            self.errors.append(f"{name} must start with '/' and not be '/' alone, got {value!r}")
        return value

    def seconds(self, name: str, default: str, maximum: float = math.inf) -> float:
        raw = self.optional(name, default)
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 < value <= maximum):
            limit = "" if maximum == math.inf else f" and at most {maximum:g}"
            self.errors.append(f"{name} must be a number of seconds above 0{limit}, got {raw!r}")
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.optional(name, default)
        if value not in choices:
            self.errors.append(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        return value

    def check(self) -> None:
        """Raise one error naming every problem found so far (never a secret's value)."""
        if self.errors:
            raise SettingsError("invalid configuration: " + "; ".join(self.errors))


# A connection whose server stops answering without closing it (an RDS failover fences the
# old primary) fails in about 11 seconds instead of the kernel's 15 minutes of retries: TCP
# keepalives from 5 seconds of silence, and a 10-second bound on unacknowledged data (AWS's
# RDS failover guidance asks clients for aggressive keepalives). The pool and the migrations
# connect alike.
LIBPQ_DEAD_PEER_DETECTION = {
    "keepalives": "1",
    "keepalives_idle": "5",
    "keepalives_interval": "2",
    "keepalives_count": "3",
    "tcp_user_timeout": "10000",
}


def libpq_tls(sslmode: str, sslrootcert: str | None) -> dict[str, str]:
    """libpq's TLS parameters: the mode, and the authorities when given (the service's pool
    and its migrations connect alike)."""
    return {"sslmode": sslmode, **({"sslrootcert": sslrootcert} if sslrootcert else {})}


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """The `DB_*` variables: how the service and its migrations reach PostgreSQL."""

    host: str
    port: int
    name: str
    username: str
    # repr=False: secrets must never end up in logs or tracebacks via repr().
    password: str = field(repr=False)
    sslmode: str
    # The certificate authorities that verify the server (libpq's sslrootcert), if given.
    sslrootcert: str | None = None

    @classmethod
    def read(cls, env: Environment) -> DatabaseSettings:
        sslrootcert = env.optional("DB_SSLROOTCERT", "") or None
        sslmode = env.choice("DB_SSLMODE", "require", SSL_MODES)
        if sslrootcert is not None and not os.path.isfile(sslrootcert):
            env.errors.append(f"DB_SSLROOTCERT must name a readable file, got {sslrootcert!r}")
        elif sslrootcert is None and sslmode in ("verify-ca", "verify-full"):
            # libpq would look for ~/.postgresql/root.crt, which no image has: every
            # connection would fail while the process looks healthy.
            env.errors.append(f"DB_SSLMODE={sslmode} needs DB_SSLROOTCERT (the authorities)")
        return cls(
            host=env.required("DB_HOST"),
            port=env.port("DB_PORT", "5432"),
            name=env.required("DB_NAME"),
            username=env.required("DB_USERNAME"),
            password=env.required("DB_PASSWORD", secret=True),
            sslmode=sslmode,
            sslrootcert=sslrootcert,
        )

    def tls_options(self) -> dict[str, str]:
        return libpq_tls(self.sslmode, self.sslrootcert)


@dataclass(frozen=True, slots=True)
class Settings:
    service_name: str
    port: int
    # Liveness: what the load balancer checks. Readiness: the dependencies.
    health_check_path: str
    readiness_path: str
    db_host: str
    db_port: int
    db_name: str
    db_username: str
    # repr=False: secrets must never end up in logs or tracebacks via repr().
    db_password: str = field(repr=False)
    db_sslmode: str
    # The authorities that verify PostgreSQL's certificate (DB_SSLROOTCERT), if given.
    db_sslrootcert: str | None
    redis_host: str
    redis_port: int
    redis_auth_token: str = field(repr=False)
    redis_tls: bool
    # None: verify the Redis certificate against the system CAs (right for ElastiCache).
    redis_ca_file: str | None
    dependency_check_interval_seconds: float
    # Server processes: one per vCPU of the task (WEB_CONCURRENCY, uvicorn's own variable).
    # One Python process serves on one core, so a task of 2 vCPU needs 2 to use them.
    workers: int = 1

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values that must never appear in a log line or a response."""
        return tuple(value for value in (self.db_password, self.redis_auth_token) if value)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse settings; report every missing or invalid variable in one error."""
        env = Environment(environ)
        settings = cls.read(env)
        env.check()
        return settings

    @classmethod
    def read(cls, env: Environment) -> Settings:
        """Parse settings, collecting problems in `env` (a caller adds its own, then checks)."""
        health_check_path = env.path("HEALTH_CHECK_PATH", "/health")
        readiness_path = env.path("READINESS_PATH", "/ready")
        if health_check_path == readiness_path:
            env.errors.append(
                f"READINESS_PATH must differ from HEALTH_CHECK_PATH ({readiness_path!r})"
            )

        database = DatabaseSettings.read(env)

        redis_ca_file = env.optional("REDIS_CA_FILE", "") or None
        if redis_ca_file is not None and not os.path.isfile(redis_ca_file):
            env.errors.append(f"REDIS_CA_FILE must name a readable file, got {redis_ca_file!r}")

        settings = cls(
            service_name=env.optional("SERVICE_NAME", "sample-service"),
            port=env.port("PORT", "8080"),
            health_check_path=health_check_path,
            readiness_path=readiness_path,
            db_host=database.host,
            db_port=database.port,
            db_name=database.name,
            db_username=database.username,
            db_password=database.password,
            db_sslmode=database.sslmode,
            db_sslrootcert=database.sslrootcert,
            redis_host=env.required("REDIS_HOST"),
            redis_port=env.port("REDIS_PORT", "6379"),
            # Optional so a local Redis without AUTH works; ElastiCache with
            # in-transit encryption and an auth token needs it set.
            redis_auth_token=env.raw("REDIS_AUTH_TOKEN"),
            redis_tls=env.boolean("REDIS_TLS", "true"),
            redis_ca_file=redis_ca_file,
            dependency_check_interval_seconds=env.seconds(
                "DEPENDENCY_CHECK_INTERVAL_SECONDS", "30"
            ),
            workers=env.integer("WEB_CONCURRENCY", "1", 1, MAX_WORKERS),
        )
        return settings


@dataclass(frozen=True, slots=True)
class MigrationSettings:
    """What `python -m app.migrate` reads: the database, the schema's owner and two timeouts."""

    service_name: str
    database: DatabaseSettings
    # The role every migration runs as (`SET ROLE`), so that it owns what they create. The task
    # logs in as `app` or, after a rotation, `app_clone` (a member of `app`): without this, a
    # table created while the clone is current would belong to the clone, which the next
    # rotation replaces. None: the login user.
    schema_owner: str | None
    # How long a statement waits for a table lock before the migration fails: short, so that a
    # release blocked by a long transaction fails fast instead of queueing every query behind it.
    lock_timeout_seconds: float
    # How long one statement may run; also how long a run waits for another to finish.
    statement_timeout_seconds: float
    # How long a run tries to reach the database before it fails: each task migrates before
    # the service starts, so a database rebooting or failing over (a minute or two) must not
    # fail every task started meanwhile.
    connect_retry_seconds: float

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.database.password,) if self.database.password else ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MigrationSettings:
        env = Environment(environ)
        settings = cls(
            service_name=env.optional("SERVICE_NAME", "sample-service"),
            database=DatabaseSettings.read(env),
            schema_owner=env.optional("DB_SCHEMA_OWNER", "") or None,
            lock_timeout_seconds=env.seconds(
                "MIGRATION_LOCK_TIMEOUT_SECONDS", "10", MAX_TIMEOUT_SECONDS
            ),
            statement_timeout_seconds=env.seconds(
                "MIGRATION_STATEMENT_TIMEOUT_SECONDS", "300", MAX_TIMEOUT_SECONDS
            ),
            connect_retry_seconds=env.seconds(
                "MIGRATION_CONNECT_RETRY_SECONDS", "120", MAX_TIMEOUT_SECONDS
            ),
        )
        env.check()
        return settings


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """What `python -m app.worker` reads: the stores (as the service reads them) and its queue.

    The SQS client finds the region and the credentials the AWS SDK way (ECS sets
    `AWS_REGION` and the task role's credentials); `AWS_ENDPOINT_URL_SQS` points it at
    another SQS-protocol server, as the tests do."""

    stores: Settings
    queue_url: str
    # How long a received message stays invisible to other consumers; the worker extends it
    # while it works on the message. The CDK app sets it from the queue's own setting.
    visibility_timeout_seconds: int
    # Long polling: how long one receive waits for a message (20 s, SQS's longest, by default).
    wait_seconds: int
    # Messages per receive. One by default: a message in hand is one the worker is working on.
    batch_size: int

    @property
    def secrets(self) -> tuple[str, ...]:
        return self.stores.secrets

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerSettings:
        env = Environment(environ)
        queue_url = env.required("QUEUE_URL")
        if queue_url and not queue_url.startswith(("https://", "http://")):
            env.errors.append(f"QUEUE_URL must be the queue's URL, got {queue_url!r}")
        settings = cls(
            stores=Settings.read(env),
            queue_url=queue_url,
            # SQS allows 0 to 43200 (12 hours); a worker needs at least a second.
            visibility_timeout_seconds=env.integer(
                "QUEUE_VISIBILITY_TIMEOUT_SECONDS", "60", 1, 43200
            ),
            wait_seconds=env.integer("QUEUE_WAIT_SECONDS", "20", 0, 20),
            batch_size=env.integer("QUEUE_BATCH_SIZE", "1", 1, 10),
        )
        env.check()
        return settings
