"""The routes, the lifespan and the access log, on fake stores (no servers needed)."""

from __future__ import annotations

import json
import logging
import re
from datetime import date

import psycopg
import pytest
import redis
from conftest import SECRET_PASSWORD, SECRET_TOKEN, FakeStores, MakeClient
from starlette.testclient import TestClient

from app.logs import LOGGER_NAME, JsonFormatter
from app.server import create_app
from app.settings import Settings
from app.stores import Visit


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, object]]:
    """This service's records of one event, as the JSON objects written to stdout."""
    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(r)) for r in caplog.records if r.name == LOGGER_NAME]
    return [line for line in lines if line["event"] == name]


def test_root_counts_visits_in_redis_and_in_postgres_with_the_database_time(
    make_client: MakeClient, fake_stores: FakeStores
) -> None:
    client = make_client(SERVICE_NAME="orders")
    first = client.get("/")
    second = client.get("/")
    assert first.status_code == 200
    assert first.json() == {
        "service": "orders",
        "visits": 1,
        "visits_today": 1,
        "database_time": "2026-11-29T12:00:00+00:00",
    }
    assert (second.json()["visits"], second.json()["visits_today"]) == (2, 2)
    assert fake_stores.cache.counters == {"orders:visits": 2}
    assert fake_stores.database.visits_by_day == {date(2026, 11, 29): 2}
    assert first.headers["content-type"] == "application/json"
    assert first.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("failing", "error"),
    [
        ("redis", redis.ConnectionError("redis down")),
        ("postgres", psycopg.OperationalError("pg")),
        # The migrations have not run: the table of visits is missing.
        ("postgres", psycopg.errors.UndefinedTable('relation "visits" does not exist')),
    ],
)
def test_root_answers_503_naming_the_store_that_failed(
    make_client: MakeClient,
    fake_stores: FakeStores,
    caplog: pytest.LogCaptureFixture,
    failing: str,
    error: Exception,
) -> None:
    store = fake_stores.cache if failing == "redis" else fake_stores.database
    store.error = error
    client = make_client()
    with caplog.at_level(logging.INFO):
        response = client.get("/")
    assert response.status_code == 503
    assert response.json() == {"error": "dependency unavailable", "dependency": failing}
    [record] = events(caplog, "request_dependency_failed")
    assert record["dependency"] == failing
    assert record["error"] == type(error).__name__


def test_liveness_is_200_without_touching_either_store(
    make_client: MakeClient, fake_stores: FakeStores
) -> None:
    # Protects: the ALB check stays green while PostgreSQL and Redis are down.
    fake_stores.database.error = psycopg.OperationalError("down")
    fake_stores.cache.error = redis.ConnectionError("down")
    response = make_client().get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_is_200_when_both_stores_answer(make_client: MakeClient) -> None:
    response = make_client().get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}


def test_readiness_503_names_the_failing_dependency_by_class_only(
    make_client: MakeClient, fake_stores: FakeStores
) -> None:
    fake_stores.cache.error = redis.AuthenticationError(f"bad token {SECRET_TOKEN}")
    response = make_client().get("/ready")
    assert response.status_code == 503
    assert response.json() == {
        "status": "error",
        "checks": {"postgres": "ok", "redis": "error: AuthenticationError"},
    }
    assert SECRET_TOKEN not in response.text


def test_custom_paths(make_client: MakeClient) -> None:
    client = make_client(HEALTH_CHECK_PATH="/healthz", READINESS_PATH="/readyz")
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/health").status_code == 404
    assert client.get("/ready").status_code == 404


def test_paths_ignore_the_query_string(make_client: MakeClient) -> None:
    assert make_client().get("/health?probe=alb").status_code == 200


@pytest.mark.parametrize("path", ["/nope", "/health/extra", "/favicon.ico"])
def test_unknown_path_is_a_json_404(make_client: MakeClient, path: str) -> None:
    response = make_client().get(path)
    assert response.status_code == 404
    assert response.json() == {"error": "not found"}


def test_wrong_method_is_a_json_405(make_client: MakeClient) -> None:
    response = make_client().post("/health")
    assert response.status_code == 405
    assert response.json() == {"error": "method not allowed"}
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}


def test_lifespan_opens_the_stores_once_and_closes_them(
    make_client: MakeClient, fake_stores: FakeStores
) -> None:
    client = make_client()
    client.get("/")
    assert (fake_stores.opened, fake_stores.closed) == (1, 0)
    client.__exit__(None, None, None)
    assert (fake_stores.opened, fake_stores.closed) == (1, 1)


def test_lifespan_logs_started_and_stopped(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        client = make_client(SERVICE_NAME="orders")
        client.__exit__(None, None, None)
    [started] = events(caplog, "started")
    assert started["service"] == "orders"
    assert (started["health_check_path"], started["readiness_path"]) == ("/health", "/ready")
    assert len(events(caplog, "stopped")) == 1


def test_one_json_access_log_line_per_request(
    make_client: MakeClient, fake_stores: FakeStores, caplog: pytest.LogCaptureFixture
) -> None:
    fake_stores.database.error = psycopg.OperationalError(f"password {SECRET_PASSWORD}")
    client = make_client()
    with caplog.at_level(logging.INFO):
        client.get(
            "/ready?token=query-string-secret",
            headers={"X-Forwarded-For": "198.51.100.9, 203.0.113.7", "User-Agent": "ELB"},
        )
        client.get("/health")

    access = events(caplog, "access")
    assert len(access) == 2
    first = access[0]
    assert first["method"] == "GET"
    assert first["path"] == "/ready"  # query string dropped
    assert first["status"] == 503
    # The ALB appends the address it saw; earlier entries are the client's own claims.
    assert first["client"] == "203.0.113.7"
    assert first["user_agent"] == "ELB"
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    assert access[1]["status"] == 200
    assert access[1]["client"] == "testclient"  # no X-Forwarded-For: the peer address

    # The test client logs its own requests; only the service's records matter here.
    formatter = JsonFormatter()
    text = "\n".join(formatter.format(r) for r in caplog.records if r.name == LOGGER_NAME)
    # Not a hex string: a request id (hex) could hold one by chance.
    assert "query-string-secret" not in text
    assert SECRET_PASSWORD not in text


def test_readiness_answers_only_its_path_as_written(make_client: MakeClient) -> None:
    # Protects: the load balancer's rule that keeps readiness private matches the path as
    # written; a percent-encoded spelling, which the server decodes, gets no readiness either.
    client = make_client()
    assert client.get("/ready").status_code == 200
    encoded = client.get("/%72eady")
    assert encoded.status_code == 404 and "checks" not in encoded.json()


def test_urls_behind_the_https_listener_say_https(make_client: MakeClient) -> None:
    # Protects: a redirect the app builds keeps the browser on HTTPS behind the load balancer
    # (uvicorn's proxy headers are off: it would trust the client's X-Forwarded-For).
    client = make_client()
    behind = client.get("/health/", headers={"X-Forwarded-Proto": "https"}, follow_redirects=False)
    assert behind.status_code == 307
    assert behind.headers["location"].startswith("https://")
    direct = client.get("/health/", follow_redirects=False)
    assert direct.headers["location"].startswith("http://")


def test_every_line_of_a_request_carries_its_id(
    make_client: MakeClient, fake_stores: FakeStores, caplog: pytest.LogCaptureFixture
) -> None:
    # Protects: the lines of one request are found together, and beside the load balancer's
    # own access log, which records the same X-Amzn-Trace-Id as its trace_id.
    fake_stores.cache.error = redis.ConnectionError("down")
    client = make_client()
    trace = "Root=1-67891233-abcdef012345678912345678"
    with caplog.at_level(logging.INFO):
        traced = client.get("/", headers={"X-Amzn-Trace-Id": trace})
        untraced = client.get("/")
    assert traced.headers["x-request-id"] == trace
    first_failure, second_failure = events(caplog, "request_dependency_failed")
    first_access, second_access = events(caplog, "access")
    assert first_failure["request_id"] == first_access["request_id"] == trace
    own = untraced.headers["x-request-id"]
    assert second_failure["request_id"] == second_access["request_id"] == own
    assert len(own) == 32 and own != trace


def test_a_bug_is_a_json_500_logged_by_class_only(
    settings: Settings, fake_stores: FakeStores, caplog: pytest.LogCaptureFixture
) -> None:
    async def not_a_datetime(day: date | None = None) -> Visit:
        # A str has no isoformat(): a bug in the route, not a store failure.
        return Visit(today=1, database_time="yesterday")  # type: ignore[arg-type]

    fake_stores.database.record_visit = not_a_datetime  # type: ignore[method-assign]
    app = create_app(settings, open_stores=fake_stores.open)
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.INFO):
        response = client.get("/")
    assert response.status_code == 500
    assert response.json() == {"error": "internal error"}
    [failed] = events(caplog, "request_failed")
    assert failed["error"] == "AttributeError"
    # Where, to find the bug: the file, line and function, nothing of the message.
    assert re.fullmatch(r"server\.py:\d+:root", str(failed["where"])), failed
    # The 500 handler runs outside the access log's middleware, still within the request.
    [access] = events(caplog, "access")
    assert failed["request_id"] == access["request_id"]
    [access] = events(caplog, "access")
    assert access["status"] == 500
