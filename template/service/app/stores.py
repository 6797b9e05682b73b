"""PostgreSQL and Redis, each behind one connection pool per process.

The routes and the health checks see two small interfaces (`Database`, `Cache`), so
tests can swap in fakes; `open_stores` opens the real pools and closes them on exit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import redis.asyncio as redis
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from redis.asyncio.connection import Connection, SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, ReadOnlyError, TimeoutError

from app.settings import LIBPQ_DEAD_PEER_DETECTION, Settings, libpq_tls

CONNECT_TIMEOUT_SECONDS = 2  # libpq treats values below 2 as 2
# Server-side limit on every statement: a stuck query must not hold a connection forever.
STATEMENT_TIMEOUT_MS = 5000
# Longest a request waits for a free pooled connection before it fails.
POOL_WAIT_SECONDS = 5.0
# How long the pool keeps retrying one failed connection (1, 2, 4... s apart) before it gives
# up; the next request or health check starts a fresh attempt at once. psycopg's default, 5
# minutes, let the pool wait out its longest backoff (up to two minutes) after the database
# was back from a reboot or failover.
POOL_RECONNECT_SECONDS = 5.0
POSTGRES_POOL_MIN_SIZE = 1
POSTGRES_POOL_MAX_SIZE = 10
REDIS_MAX_CONNECTIONS = 20
REDIS_SOCKET_TIMEOUT_SECONDS = 2.0


# One round trip: count the visit in its day's row (today's unless the worker's message
# names a day; created by the first visit of the day) and read the database's clock. The table
# comes from migrations/ (`python -m app.migrate`).
RECORD_VISIT = (
    "INSERT INTO visits (day, count) VALUES (COALESCE(%(day)s::date, current_date), 1)"
    " ON CONFLICT (day) DO UPDATE SET count = visits.count + 1"
    " RETURNING count, now()"
)
# The visits of the last days, today included (a scheduled job's report).
VISITS_PER_DAY = (
    "SELECT day, count FROM visits WHERE day > current_date - %(days)s::integer ORDER BY day"
)
# Deletes a lock only while it is still the caller's (it may have expired and been taken).
RELEASE_IF_OWNED = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


@dataclass(frozen=True, slots=True)
class Visit:
    # Visits on the database's current date (its TimeZone setting: UTC on RDS).
    today: int
    database_time: datetime


@dataclass(frozen=True, slots=True)
class DayVisits:
    day: date
    count: int


class Database(Protocol):
    async def ping(self) -> None:
        """Return when the database answers a query; raise otherwise."""

    async def record_visit(self, day: date | None = None) -> Visit:
        """Count one visit for `day` (today by default); return that day's count and the
        database's time."""

    async def visits_per_day(self, days: int) -> list[DayVisits]:
        """The visits of each of the last `days` days that had any, oldest first."""


class Cache(Protocol):
    async def ping(self) -> None:
        """Return when the cache answers PING; raise otherwise."""

    async def increment(self, key: str) -> int:
        """Atomically add one to a counter and return its new value."""

    async def store(self, key: str, value: str, *, ttl_seconds: int) -> None:
        """Set a value that expires."""

    async def claim(self, key: str, token: str, *, ttl_seconds: int) -> bool:
        """Take a lock that expires by itself: False when someone else holds it."""

    async def release(self, key: str, token: str) -> None:
        """Drop a lock taken with `token`, if it is still held with it."""


@dataclass(frozen=True, slots=True)
class Stores:
    database: Database
    cache: Cache


class PostgresDatabase:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def ping(self) -> None:
        async with self._pool.connection() as conn:
            await conn.execute("SELECT 1")

    async def record_visit(self, day: date | None = None) -> Visit:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(RECORD_VISIT, {"day": day})
            row = await cursor.fetchone()
        if row is None:
            raise RuntimeError("INSERT ... RETURNING returned no row")
        return Visit(today=row[0], database_time=row[1])

    async def visits_per_day(self, days: int) -> list[DayVisits]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(VISITS_PER_DAY, {"days": days})
            rows = await cursor.fetchall()
        return [DayVisits(day=row[0], count=row[1]) for row in rows]


class RedisCache:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    async def ping(self) -> None:
        """The node answers as the primary. After a failover the old primary answers PING as
        a replica, and every write there fails (READONLY)."""
        role = await self._client.role()
        if not role or role[0] not in (b"master", "master"):
            raise RuntimeError("the cache endpoint is not the primary")

    async def increment(self, key: str) -> int:
        return int(await self._client.incr(key))

    async def store(self, key: str, value: str, *, ttl_seconds: int) -> None:
        await self._client.set(key, value, ex=ttl_seconds)

    async def claim(self, key: str, token: str, *, ttl_seconds: int) -> bool:
        return bool(await self._client.set(key, token, nx=True, ex=ttl_seconds))

    async def release(self, key: str, token: str) -> None:
        await self._client.eval(RELEASE_IF_OWNED, 1, key, token)


def postgres_connection(settings: Settings) -> dict[str, Any]:
    """How each connection of the pool is made: TLS, the injected credentials, timeouts."""
    return {
        "host": settings.db_host,
        "port": settings.db_port,
        "dbname": settings.db_name,
        "user": settings.db_username,
        "password": settings.db_password,
        # verify-full and the RDS bundle in the image, as the tasks set them.
        **libpq_tls(settings.db_sslmode, settings.db_sslrootcert),
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        **LIBPQ_DEAD_PEER_DETECTION,
        "application_name": settings.service_name,
        "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        # Each call here is one statement; a team that needs a transaction opens one
        # with `conn.transaction()`. Saves a BEGIN/COMMIT round trip per request.
        "autocommit": True,
    }


def postgres_pool(settings: Settings) -> AsyncConnectionPool:
    """A pool of TLS connections with the injected credentials; not opened yet."""
    checking_all: set[asyncio.Task[None]] = set()

    async def check(connection: AsyncConnection[Any]) -> None:
        """Test a connection before handing it out (an empty query), so connections broken by
        a database restart or failover are replaced instead of failing a request. One broken
        means the server went away, and the others idle in the pool with it: they are tested
        all at once, in the background. The pool alone tests them one per attempt, with
        growing pauses between, and a request timed out after four."""
        try:
            await AsyncConnectionPool.check_connection(connection)
        except Exception:
            if not checking_all:
                task = asyncio.create_task(pool.check(), name="postgres-pool-check")
                checking_all.add(task)
                task.add_done_callback(checking_all.discard)
            raise

    pool = AsyncConnectionPool(
        kwargs=postgres_connection(settings),
        min_size=POSTGRES_POOL_MIN_SIZE,
        max_size=POSTGRES_POOL_MAX_SIZE,
        timeout=POOL_WAIT_SECONDS,
        reconnect_timeout=POOL_RECONNECT_SECONDS,
        check=check,
        name="postgres",
        open=False,
    )
    return pool


def redis_client(settings: Settings) -> redis.Redis:
    """A client with its own bounded pool: TLS unless disabled, AUTH when a token is set."""
    tls_options: dict[str, Any] = {}
    if settings.redis_tls:
        tls_options = {
            "ssl_cert_reqs": "required",
            "ssl_check_hostname": True,
            "ssl_ca_certs": settings.redis_ca_file,
        }
    pool = redis.BlockingConnectionPool(
        connection_class=SSLConnection if settings.redis_tls else Connection,
        max_connections=REDIS_MAX_CONNECTIONS,
        # Wait this long for a free connection when all are in use, then fail.
        timeout=POOL_WAIT_SECONDS,
        host=settings.redis_host,
        port=settings.redis_port,
        password=settings.redis_auth_token or None,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=REDIS_SOCKET_TIMEOUT_SECONDS,
        # One immediate retry replaces a pooled connection that a failover or restart
        # closed, or that still reaches the old primary, now a replica (READONLY): the retry
        # reconnects through the primary endpoint's DNS. More would only delay reporting an
        # outage.
        retry=Retry(
            NoBackoff(), retries=1, supported_errors=(ConnectionError, TimeoutError, ReadOnlyError)
        ),
        client_name=settings.service_name,
        **tls_options,
    )
    return redis.Redis.from_pool(pool)


@asynccontextmanager
async def open_stores(settings: Settings) -> AsyncIterator[Stores]:
    """Open both pools for the life of the process; close them (and their sockets) on exit."""
    pool = postgres_pool(settings)
    # wait=False: start serving (liveness answers) even while PostgreSQL is unreachable;
    # the pool keeps connecting in the background and readiness reports the outage.
    await pool.open(wait=False)
    client = redis_client(settings)
    try:
        yield Stores(database=PostgresDatabase(pool), cache=RedisCache(client))
    finally:
        await client.aclose()
        await pool.close()
