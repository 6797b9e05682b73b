"""Dependency checks used by the health endpoint.

A check is a callable that returns None when the dependency is usable and raises
otherwise. The HTTP layer only sees named callables, so tests can inject fakes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import psycopg
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.settings import Settings

Check = Callable[[], None]
NamedCheck = tuple[str, Check]

# Short timeouts keep one health request well under the ALB health check timeout,
# even when both dependencies are unreachable.
CONNECT_TIMEOUT_SECONDS = 2  # libpq treats values below 2 as 2
SOCKET_TIMEOUT_SECONDS = 2
STATEMENT_TIMEOUT_MS = 2000


def check_postgres(settings: Settings) -> None:
    """Open a TLS connection with the injected credentials and run SELECT 1."""
    with psycopg.connect(
        host=settings.db_host,
        port=settings.db_port,
        dbname=settings.db_name,
        user=settings.db_username,
        password=settings.db_password,
        sslmode="require",
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        application_name=settings.service_name,
        # Server-side limit: a connected-but-stuck server must not hang the check.
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        autocommit=True,
    ) as conn:
        row = conn.execute("SELECT 1").fetchone()
    if row is None or row[0] != 1:
        raise RuntimeError("unexpected result from SELECT 1")


def check_redis(settings: Settings) -> None:
    """Connect (TLS unless disabled), authenticate with the token if set, and PING."""
    client = redis.Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        password=settings.redis_auth_token or None,
        ssl=settings.redis_tls,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        # redis-py retries by default; a health check must report, not retry.
        retry=Retry(NoBackoff(), 0),
    )
    try:
        if client.ping() is not True:
            raise RuntimeError("unexpected reply to PING")
    finally:
        client.close()


def default_checks(settings: Settings) -> Sequence[NamedCheck]:
    """The production checks, bound to the given settings."""
    return (
        ("postgres", lambda: check_postgres(settings)),
        ("redis", lambda: check_redis(settings)),
    )
