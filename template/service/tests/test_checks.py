"""Unit tests of the real checks with the driver entry points replaced."""

from __future__ import annotations

import json
import logging
from typing import Any

import psycopg
import pytest
import redis
from conftest import SECRET_PASSWORD, SECRET_TOKEN, StartServer, get_json

from app import checks
from app.logs import LOGGER_NAME, JsonFormatter
from app.settings import Settings


@pytest.fixture
def settings(base_env: dict[str, str]) -> Settings:
    return Settings.from_env(base_env)


class FakeCursor:
    def __init__(self, row: tuple[Any, ...] | None) -> None:
        self.row = row

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.row


class FakeConnection:
    def __init__(self, row: tuple[Any, ...] | None = (1,)) -> None:
        self.row = row
        self.queries: list[str] = []
        self.closed = False

    def __enter__(self) -> FakeConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed = True

    def execute(self, query: str) -> FakeCursor:
        self.queries.append(query)
        return FakeCursor(self.row)


class FakeRedis:
    instances: list[FakeRedis] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.closed = False
        self.ping_result: Any = True
        FakeRedis.instances.append(self)

    def ping(self) -> Any:
        return self.ping_result

    def close(self) -> None:
        self.closed = True


@pytest.fixture(autouse=True)
def _reset_fake_redis() -> None:
    FakeRedis.instances.clear()


def test_postgres_check_uses_tls_timeouts_and_credentials(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    seen: dict[str, Any] = {}
    conn = FakeConnection()

    def fake_connect(**kwargs: Any) -> FakeConnection:
        seen.update(kwargs)
        return conn

    monkeypatch.setattr(psycopg, "connect", fake_connect)
    checks.check_postgres(settings)

    assert seen["sslmode"] == "require"
    assert seen["connect_timeout"] == checks.CONNECT_TIMEOUT_SECONDS <= 5
    assert "statement_timeout=" in seen["options"]
    assert (seen["host"], seen["port"], seen["dbname"], seen["user"]) == (
        "db.internal",
        5432,
        "app",
        "app_user",
    )
    assert seen["password"] == SECRET_PASSWORD
    assert conn.queries == ["SELECT 1"]
    assert conn.closed


def test_postgres_check_rejects_unexpected_result(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.setattr(psycopg, "connect", lambda **_: FakeConnection(row=None))
    with pytest.raises(RuntimeError):
        checks.check_postgres(settings)


def test_postgres_check_propagates_driver_errors(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    def refuse(**_: Any) -> FakeConnection:
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(psycopg, "connect", refuse)
    with pytest.raises(psycopg.OperationalError):
        checks.check_postgres(settings)


@pytest.mark.parametrize(("tls_env", "tls"), [("true", True), ("false", False)])
def test_redis_check_passes_tls_flag_timeouts_and_token(
    monkeypatch: pytest.MonkeyPatch, base_env: dict[str, str], tls_env: str, tls: bool
) -> None:
    monkeypatch.setattr(redis, "Redis", FakeRedis)
    checks.check_redis(Settings.from_env(base_env | {"REDIS_TLS": tls_env}))

    (client,) = FakeRedis.instances
    assert client.kwargs["ssl"] is tls
    assert client.kwargs["host"] == "cache.internal"
    assert client.kwargs["port"] == 6379
    assert client.kwargs["password"] == SECRET_TOKEN
    assert client.kwargs["socket_connect_timeout"] <= 5
    assert client.kwargs["socket_timeout"] <= 5
    assert client.kwargs["retry"].get_retries() == 0
    assert client.closed


def test_redis_check_without_token_sends_no_auth(
    monkeypatch: pytest.MonkeyPatch, base_env: dict[str, str]
) -> None:
    del base_env["REDIS_AUTH_TOKEN"]
    monkeypatch.setattr(redis, "Redis", FakeRedis)
    checks.check_redis(Settings.from_env(base_env))
    assert FakeRedis.instances[0].kwargs["password"] is None


def test_redis_check_fails_and_closes_on_bad_ping(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    class BadPing(FakeRedis):
        def ping(self) -> Any:
            raise redis.ConnectionError("Error connecting")

    monkeypatch.setattr(redis, "Redis", BadPing)
    with pytest.raises(redis.ConnectionError):
        checks.check_redis(settings)
    assert FakeRedis.instances[0].closed


def test_real_checks_through_http_never_leak_secrets(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    start_server: StartServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Driver errors that quote the secrets must not reach the response or the logs."""

    def leaky_connect(**kwargs: Any) -> FakeConnection:
        raise psycopg.OperationalError(f"auth failed for password {kwargs['password']}")

    class LeakyRedis(FakeRedis):
        def ping(self) -> Any:
            raise redis.AuthenticationError(f"bad token {self.kwargs['password']}")

    monkeypatch.setattr(psycopg, "connect", leaky_connect)
    monkeypatch.setattr(redis, "Redis", LeakyRedis)
    base = start_server(checks.default_checks(settings))

    with caplog.at_level(logging.DEBUG, logger=LOGGER_NAME):
        status, body = get_json(f"{base}/health")

    assert status == 503
    assert body["checks"] == {
        "postgres": "error: OperationalError",
        "redis": "error: AuthenticationError",
    }
    formatter = JsonFormatter()
    output = json.dumps(body) + "".join(formatter.format(r) for r in caplog.records)
    captured = capsys.readouterr()
    output += captured.out + captured.err
    assert SECRET_PASSWORD not in output
    assert SECRET_TOKEN not in output
