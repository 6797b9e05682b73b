"""Shared fixtures: settings from a fake environment, fake stores, real servers on demand
(PostgreSQL, Redis, and a local SQS-protocol server for the worker: moto's server mode)."""

from __future__ import annotations

import json
import os
import secrets
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from servers import (
    Certificates,
    PostgresServer,
    RedisServer,
    SqsServer,
    make_certificates,
    run_migrate,
    start_postgres,
    start_redis,
    start_sqs,
)
from starlette.testclient import TestClient

from app.server import create_app
from app.settings import Settings
from app.stores import DayVisits, Stores, Visit

# Fakes, to prove the service never logs them.
SECRET_PASSWORD = "pg-s3cret-do-not-log"  # pragma: allowlist secret
SECRET_TOKEN = "redis-t0ken-do-not-log"  # pragma: allowlist secret

BASE_ENV = {
    "DB_HOST": "db.internal",
    "DB_NAME": "app",
    "DB_USERNAME": "app_user",
    "DB_PASSWORD": SECRET_PASSWORD,
    "REDIS_HOST": "cache.internal",
    "REDIS_AUTH_TOKEN": SECRET_TOKEN,
}

# With this set, the integration tests run and fail (never skip) when a server is missing.
INTEGRATION = os.environ.get("SAMPLE_SERVICE_INTEGRATION") == "1"


def pytest_configure() -> None:
    # A job that a script or a CI agent starts in the background (`uv run pytest &`) ignores
    # SIGINT, and the programs these tests start would inherit that: the Ctrl-C tests would
    # drive programs no terminal runs. With Python's handler here, they get SIGINT's default
    # back (exec resets a handled signal to its default; an ignored one stays ignored).
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def service_dir() -> Path:
    return Path(__file__).resolve().parents[1]


@pytest.fixture
def base_env() -> dict[str, str]:
    return dict(BASE_ENV)


@pytest.fixture
def settings(base_env: dict[str, str]) -> Settings:
    return Settings.from_env(base_env)


class FakeDatabase:
    def __init__(self) -> None:
        self.error: Exception | None = None
        self.time = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
        self.visits_by_day: dict[date, int] = {}

    async def ping(self) -> None:
        if self.error is not None:
            raise self.error

    async def record_visit(self, day: date | None = None) -> Visit:
        await self.ping()
        day = self.time.date() if day is None else day
        self.visits_by_day[day] = self.visits_by_day.get(day, 0) + 1
        return Visit(today=self.visits_by_day[day], database_time=self.time)

    async def visits_per_day(self, days: int) -> list[DayVisits]:
        await self.ping()
        today = self.time.date()
        return [
            DayVisits(day=day, count=count)
            for day, count in sorted(self.visits_by_day.items())
            if 0 <= (today - day).days < days
        ]


class FakeCache:
    def __init__(self) -> None:
        self.error: Exception | None = None
        self.counters: dict[str, int] = {}
        self.values: dict[str, str] = {}

    async def ping(self) -> None:
        if self.error is not None:
            raise self.error

    async def increment(self, key: str) -> int:
        await self.ping()
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]

    async def store(self, key: str, value: str, *, ttl_seconds: int) -> None:
        await self.ping()
        self.values[key] = value

    async def claim(self, key: str, token: str, *, ttl_seconds: int) -> bool:
        await self.ping()
        if key in self.values:
            return False
        self.values[key] = token
        return True

    async def release(self, key: str, token: str) -> None:
        await self.ping()
        if self.values.get(key) == token:
            del self.values[key]


class FakeStores:
    """Fake stores plus a record of the lifespan opening and closing them."""

    def __init__(self) -> None:
        self.database = FakeDatabase()
        self.cache = FakeCache()
        self.opened = 0
        self.closed = 0

    @asynccontextmanager
    async def open(self, _settings: Settings) -> AsyncIterator[Stores]:
        self.opened += 1
        try:
            yield Stores(database=self.database, cache=self.cache)
        finally:
            self.closed += 1


@pytest.fixture
def fake_stores() -> FakeStores:
    return FakeStores()


MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(base_env: dict[str, str], fake_stores: FakeStores) -> Iterator[MakeClient]:
    """Start the app (lifespan included) on fake stores, with extra environment variables."""
    clients: list[TestClient] = []

    def make(**env: str) -> TestClient:
        settings = Settings.from_env(base_env | env)
        client = TestClient(create_app(settings, open_stores=fake_stores.open))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


# ---------------------------------------------------------------- real servers (integration)


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A throwaway CA and a certificate for 127.0.0.1, made for this run only."""
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def postgres_server(certificates: Certificates) -> Iterator[PostgresServer]:
    with start_postgres(certificates) as server:
        yield server


@pytest.fixture(scope="session")
def redis_server(
    tmp_path_factory: pytest.TempPathFactory, certificates: Certificates
) -> Iterator[RedisServer]:
    with start_redis(tmp_path_factory.mktemp("redis"), certificates) as server:
        yield server


def database_env(server: PostgresServer, database: str) -> dict[str, str]:
    """The `DB_*` variables for one database of the real server, over TLS: all that
    `python -m app.migrate` reads (it needs no Redis)."""
    return {
        "SERVICE_NAME": "integration-test",
        "DB_HOST": "127.0.0.1",
        "DB_PORT": str(server.port),
        "DB_NAME": database,
        "DB_USERNAME": server.user,
        "DB_PASSWORD": server.password,
        # As the tasks connect to RDS: the server's certificate and name verified.
        "DB_SSLMODE": "verify-full",
        "DB_SSLROOTCERT": str(server.ca_file),
    }


@pytest.fixture(scope="session")
def migrated_database(postgres_server: PostgresServer, service_dir: Path) -> str:
    """The service's database with the migrations applied, as a release leaves it."""
    result = run_migrate(service_dir, database_env(postgres_server, postgres_server.database))
    assert result.returncode == 0, result.stdout + result.stderr
    return postgres_server.database


@pytest.fixture
def fresh_database(postgres_server: PostgresServer) -> Iterator[dict[str, str]]:
    """A new, empty database of its own (no migrations applied): its `DB_*` variables."""
    postgres_server.ensure_running()
    name = f"fresh_{secrets.token_hex(6)}"
    with postgres_server.connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield database_env(postgres_server, name)
    postgres_server.ensure_running()
    with postgres_server.connect() as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def integration_env(
    postgres_server: PostgresServer,
    migrated_database: str,
    redis_server: RedisServer,
    certificates: Certificates,
) -> dict[str, str]:
    """The service's environment for the real servers: TLS and AUTH on Redis, TLS to PostgreSQL."""
    postgres_server.ensure_running()
    return {
        **database_env(postgres_server, migrated_database),
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_server.tls_port),
        "REDIS_TLS": "true",
        "REDIS_CA_FILE": str(certificates.ca_file),
        "REDIS_AUTH_TOKEN": redis_server.password,
    }


# ---------------------------------------------------------------- SQS (the worker)


@pytest.fixture(scope="session")
def sqs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqsServer]:
    """moto's server mode: a local server that speaks the SQS protocol. Not AWS."""
    with start_sqs(tmp_path_factory.mktemp("sqs")) as server:
        yield server


@pytest.fixture
def work_queue(sqs_server: SqsServer) -> dict[str, str]:
    """A new queue with a dead-letter queue after 2 receives, as the CDK app makes them (there
    after the sizing's count): their URLs, "queue" and "dead_letters"."""
    client = sqs_server.client()
    name = f"work-{secrets.token_hex(4)}"
    dead_letters = client.create_queue(QueueName=f"{name}-dead-letters")["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])
    redrive = {"deadLetterTargetArn": arn["Attributes"]["QueueArn"], "maxReceiveCount": "2"}
    queue = client.create_queue(
        QueueName=name,
        Attributes={"VisibilityTimeout": "2", "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    return {"queue": queue, "dead_letters": dead_letters}


@pytest.fixture
def worker_env(
    integration_env: dict[str, str], sqs_server: SqsServer, work_queue: dict[str, str]
) -> dict[str, str]:
    """The worker's environment: the real stores, the local SQS server and a new queue, with
    short waits (a second's long poll, a 2-second visibility timeout)."""
    return {
        **integration_env,
        **sqs_server.environment,
        "QUEUE_URL": work_queue["queue"],
        "QUEUE_WAIT_SECONDS": "1",
        "QUEUE_VISIBILITY_TIMEOUT_SECONDS": "2",
    }
