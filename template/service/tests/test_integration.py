"""Against real servers this session starts: PostgreSQL (TLS, password auth) and Redis
(TLS only, AUTH). Run with SAMPLE_SERVICE_INTEGRATION=1; then a missing server binary
fails these tests instead of skipping them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
import redis
import redis.asyncio
import trustme
from conftest import INTEGRATION
from servers import PostgresServer, RedisServer, ServiceProcess, free_port, wait_for
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient

from app.migrate import database_url
from app.server import create_app
from app.settings import MigrationSettings, Settings
from app.stores import (
    POSTGRES_POOL_MAX_SIZE,
    open_stores,
    postgres_connection,
    postgres_pool,
    redis_client,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not INTEGRATION,
        reason="set SAMPLE_SERVICE_INTEGRATION=1 to start PostgreSQL and Redis and run these",
    ),
]


@pytest.fixture
def settings(integration_env: dict[str, str]) -> Settings:
    return Settings.from_env(integration_env)


async def test_queries_run_through_one_pooled_tls_connection(settings: Settings) -> None:
    async with postgres_pool(settings) as pool:
        await pool.wait()  # its first connection is made; otherwise a request adds another
        pids = []
        for _ in range(3):
            async with pool.connection() as conn:
                cursor = await conn.execute(
                    "SELECT pg_backend_pid(), ssl, current_setting('statement_timeout'),"
                    " current_setting('application_name')"
                    " FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
                )
                pid, ssl, statement_timeout, application_name = await cursor.fetchone() or ()
                pids.append(pid)
        # Sequential requests reuse the pooled connection instead of reconnecting.
        assert len(set(pids)) == 1
        assert ssl is True  # DB_SSLMODE=verify-full, as the tasks connect
        assert statement_timeout == "5s"
        assert application_name == "integration-test"


# What the kernel must hold on a database socket: keepalives on, first probe after 5 s of
# silence, every 2 s, 3 unanswered probes, and unacknowledged data dropped after 10 s.
DEAD_PEER_SOCKET_OPTIONS = (1, 5, 2, 3, 10_000)


def _socket_options(descriptor: int) -> tuple[int, ...]:
    with socket.socket(fileno=os.dup(descriptor)) as peer:
        return (
            peer.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            peer.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            peer.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
            peer.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
            peer.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
        )


async def test_the_pools_connections_give_up_on_a_silent_server_in_seconds(
    settings: Settings,
) -> None:
    # Protects: libpq really sets TCP keepalives and the send timeout on the pool's sockets
    # (as the kernel reads them back), so a server that stops answering without closing (a
    # fenced primary after a failover) fails a request in about 11 s, not 15 minutes.
    connection = await psycopg.AsyncConnection.connect(**postgres_connection(settings))
    async with connection:
        assert _socket_options(connection.pgconn.socket) == DEAD_PEER_SOCKET_OPTIONS


def test_the_migrations_connection_gives_up_on_a_silent_server_in_seconds(
    integration_env: dict[str, str],
) -> None:
    # Protects: the same through SQLAlchemy's URL, which the migrations connect with.
    engine = create_engine(database_url(MigrationSettings.from_env(integration_env)))
    try:
        with engine.connect() as connection:
            driver = connection.connection.dbapi_connection
            assert isinstance(driver, psycopg.Connection)
            assert _socket_options(driver.pgconn.socket) == DEAD_PEER_SOCKET_OPTIONS
    finally:
        engine.dispose()


async def test_a_database_certificate_the_authorities_did_not_sign_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    # Protects: verify-full really verifies (the tasks' setting): a server whose certificate
    # another authority signed (a spoofed endpoint) gets no connection and no password.
    other_authority = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_authority))
    spoofed = replace(settings, db_sslrootcert=str(other_authority))
    # One connection as the pool makes each (the pool itself would retry until a timeout).
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        await psycopg.AsyncConnection.connect(**postgres_connection(spoofed))


async def test_a_database_certificate_for_another_host_is_refused(
    settings: Settings, integration_env: dict[str, str]
) -> None:
    # Protects: verify-full checks the certificate's name, not only its authority ("require"
    # with a root certificate checks the authority alone): the certificate names 127.0.0.1
    # and localhost, so a connection to another name at that address is refused, by the
    # service's pool and by the migrations alike.
    elsewhere = {"host": "db.example.invalid", "hostaddr": "127.0.0.1"}
    with pytest.raises(psycopg.OperationalError, match="does not match host name"):
        await psycopg.AsyncConnection.connect(**(postgres_connection(settings) | elsewhere))
    url = database_url(MigrationSettings.from_env(integration_env))
    engine = create_engine(url.set(host="db.example.invalid").update_query_dict(elsewhere))
    try:
        with pytest.raises(OperationalError, match="does not match host name"):
            engine.connect()
    finally:
        engine.dispose()


async def test_connections_a_database_restart_broke_are_replaced_at_once(
    settings: Settings, postgres_server: PostgresServer
) -> None:
    # Protects: a restart or failover breaks every idle connection. The pool tested them one
    # per attempt, pausing 1, 2, 4 s between, so a request right after the restart waited out
    # its 5 s on broken connections; the first broken one now has them all tested at once.
    async with postgres_pool(settings) as pool:
        held = [await pool.getconn() for _ in range(POSTGRES_POOL_MAX_SIZE)]
        for connection in held:
            await pool.putconn(connection)
        postgres_server.stop()
        postgres_server.start()
        started = time.monotonic()
        async with pool.connection() as connection:
            await connection.execute("SELECT 1")
        assert time.monotonic() - started < 2.0


async def test_concurrent_requests_share_a_bounded_pool(settings: Settings) -> None:
    async with open_stores(settings) as stores:
        visits = await asyncio.gather(*(stores.database.record_visit() for _ in range(50)))
        await stores.database.ping()
    assert all(v.database_time.tzinfo is not None for v in visits)
    # Concurrent upserts of today's row queue on it: each sees its own count, none is lost.
    counts = sorted(v.today for v in visits)
    assert counts == list(range(counts[0], counts[0] + 50))


async def test_redis_with_auth_over_tls(settings: Settings) -> None:
    async with open_stores(settings) as stores:
        await stores.cache.ping()
        first = await stores.cache.increment("integration:counter")
        assert await stores.cache.increment("integration:counter") == first + 1


async def test_a_cache_node_a_failover_demoted_is_left_and_not_ready(
    settings: Settings, redis_server: RedisServer
) -> None:
    # Protects: after an ElastiCache failover the old primary answers as a replica. A write
    # there fails (READONLY) and drops the connection that reached it, so the next one goes
    # through the primary endpoint's DNS to the new primary; readiness names the cache instead
    # of answering "ok" to PING. Simulated with REPLICAOF on the test's server.
    admin = redis_server.client()

    def application_connections() -> set[int]:
        return {
            int(client["id"])
            for client in admin.client_list()
            if client.get("name") == settings.service_name
        }

    try:
        async with open_stores(settings) as stores:
            await stores.cache.increment("integration:failover")
            before = application_connections()
            assert before
            admin.replicaof("127.0.0.1", free_port())
            try:
                with pytest.raises(redis.ReadOnlyError):
                    await stores.cache.increment("integration:failover")
                assert not before & application_connections()
                with pytest.raises(RuntimeError, match="not the primary"):
                    await stores.cache.ping()
            finally:
                admin.replicaof("NO", "ONE")
            await stores.cache.ping()
    finally:
        admin.close()


async def test_redis_rejects_a_wrong_token(settings: Settings) -> None:
    client = redis_client(replace(settings, redis_auth_token="wrong-token"))
    try:
        with pytest.raises(redis.AuthenticationError):
            await client.ping()
    finally:
        await client.aclose()


async def test_redis_refuses_plain_text_and_unknown_certificates(settings: Settings) -> None:
    for bad in (replace(settings, redis_tls=False), replace(settings, redis_ca_file=None)):
        client = redis_client(bad)
        try:
            with pytest.raises(redis.ConnectionError):
                await client.ping()
        finally:
            await client.aclose()


async def _forwarder(host: str, target_port: int) -> asyncio.Server:
    """A TCP relay on another loopback address to the real Redis: the same server, reached
    under a name its certificate does not carry."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(
            pipe(reader, upstream_writer), pipe(upstream_reader, writer), return_exceptions=True
        )

    return await asyncio.start_server(relay, host, 0)


async def test_a_cache_certificate_for_another_host_is_refused(settings: Settings) -> None:
    # Protects: the Redis client checks the certificate's name as well as its authority.
    relay = await _forwarder("127.0.0.2", settings.redis_port)
    async with relay:
        port = relay.sockets[0].getsockname()[1]
        client = redis_client(replace(settings, redis_host="127.0.0.2", redis_port=port))
        try:
            with pytest.raises(redis.ConnectionError):
                await client.ping()
        finally:
            await client.aclose()


async def test_a_cache_that_stops_answering_fails_the_command_in_seconds(
    settings: Settings,
) -> None:
    # Protects: every Redis command has a socket timeout: a node that accepts and then stops
    # answering (a failing or paused primary) fails the request in seconds (two attempts of
    # 2 s) instead of holding it and its connection.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers; returns when the client gives up

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with listener:
        port = listener.sockets[0].getsockname()[1]
        client = redis_client(replace(settings, redis_port=port, redis_tls=False))
        try:
            started = time.monotonic()
            async with asyncio.timeout(10):  # the guard: without a socket timeout it hangs
                with pytest.raises(redis.TimeoutError):
                    await client.incr("integration:silent")
            assert time.monotonic() - started < 6
        finally:
            await client.aclose()


async def test_a_jobs_lock_expires_and_is_released_only_by_its_holder(
    settings: Settings, redis_server: RedisServer
) -> None:
    # Protects: a job that dies holding the lock does not stop every later run (the lock
    # expires), and a run that outlived its lock cannot release the next run's.
    admin = redis_server.client()
    async with open_stores(settings) as stores:
        assert await stores.cache.claim("integration:lock", "mine", ttl_seconds=60)
        assert 0 < admin.ttl("integration:lock") <= 60
        assert not await stores.cache.claim("integration:lock", "theirs", ttl_seconds=60)
        await stores.cache.release("integration:lock", "someone-else")
        assert admin.get("integration:lock") == b"mine"
        await stores.cache.release("integration:lock", "mine")
        assert admin.get("integration:lock") is None


def test_root_and_readiness_with_both_real_stores(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        ready = client.get("/ready")
        first = client.get("/")
        second = client.get("/")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}
    assert first.status_code == 200
    assert second.json()["visits"] == first.json()["visits"] + 1
    assert second.json()["visits_today"] == first.json()["visits_today"] + 1
    assert datetime.fromisoformat(first.json()["database_time"]).tzinfo is not None


def test_database_restart_keeps_liveness_and_recovers_readiness(
    integration_env: dict[str, str], postgres_server: PostgresServer, service_dir: Path
) -> None:
    env = integration_env | {"DEPENDENCY_CHECK_INTERVAL_SECONDS": "0.5"}
    with ServiceProcess(service_dir, env) as service:
        service.wait_until_serving("/ready")
        assert service.get("/").status_code == 200

        postgres_server.stop()
        stopped = time.monotonic()
        try:
            # Liveness does not touch PostgreSQL: the ALB keeps the task.
            assert service.get("/health").status_code == 200
            ready = service.get("/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["redis"] == "ok"
            assert ready.json()["checks"]["postgres"].startswith("error: ")
            assert service.get("/").json() == {
                "error": "dependency unavailable",
                "dependency": "postgres",
            }
            wait_for(
                lambda: any(
                    r["dependency"] == "postgres"
                    for r in service.records("dependency_check_failed")
                ),
                timeout=10,
                what="the monitor to log dependency_check_failed for postgres",
            )
            assert service.get("/health").status_code == 200
            # Down long enough for the pool's reconnection to back off (1, 2, 4, 8 s...): an
            # RDS reboot or failover takes a minute or two, and the pool must not wait its
            # longest backoff again once the database is back.
            time.sleep(max(0.0, 8.0 - (time.monotonic() - stopped)))
        finally:
            postgres_server.start()

        wait_for(
            lambda: service.get("/ready").status_code == 200,
            timeout=4,
            what="readiness to recover within seconds of PostgreSQL's restart",
        )
        assert service.get("/health").status_code == 200
        assert service.get("/").status_code == 200
        wait_for(
            lambda: service.records("dependency_check_recovered"),
            timeout=10,
            what="the monitor to log dependency_check_recovered",
        )
        failed = service.records("dependency_check_failed")
        assert {r["dependency"] for r in failed} == {"postgres"}
        [recovered] = service.records("dependency_check_recovered")
        assert recovered["dependency"] == "postgres"
        assert service.stop() == -signal.SIGTERM

    output = service.output()
    assert integration_env["DB_PASSWORD"] not in output
    assert integration_env["REDIS_AUTH_TOKEN"] not in output
