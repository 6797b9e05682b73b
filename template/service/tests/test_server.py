from __future__ import annotations

import json
import logging

import pytest
from conftest import StartServer, get_json

from app.logs import LOGGER_NAME, JsonFormatter


def ok() -> None:
    return None


def fail_connection() -> None:
    raise ConnectionRefusedError("connection to db.internal:5432 refused, password=hunter2")


def test_health_ok_when_all_checks_pass(start_server: StartServer) -> None:
    base = start_server([("postgres", ok), ("redis", ok)])
    status, body = get_json(f"{base}/health")
    assert status == 200
    assert body == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}


def test_health_503_names_the_failing_check(start_server: StartServer) -> None:
    base = start_server([("postgres", ok), ("redis", fail_connection)])
    status, body = get_json(f"{base}/health")
    assert status == 503
    assert body == {
        "status": "error",
        "checks": {"postgres": "ok", "redis": "error: ConnectionRefusedError"},
    }
    # The exception message (which may carry details) must not leak to the client.
    assert "hunter2" not in json.dumps(body)


def test_health_runs_every_check_even_after_a_failure(start_server: StartServer) -> None:
    calls: list[str] = []

    def failing() -> None:
        calls.append("postgres")
        raise TimeoutError

    def passing() -> None:
        calls.append("redis")

    base = start_server([("postgres", failing), ("redis", passing)])
    status, body = get_json(f"{base}/health")
    assert status == 503
    assert body["checks"] == {"postgres": "error: TimeoutError", "redis": "ok"}
    assert calls == ["postgres", "redis"]


def test_custom_health_check_path(start_server: StartServer) -> None:
    base = start_server([("postgres", ok)], health_check_path="/healthz")
    assert get_json(f"{base}/healthz")[0] == 200
    assert get_json(f"{base}/health")[0] == 404


def test_health_ignores_query_string(start_server: StartServer) -> None:
    base = start_server([("postgres", ok)])
    assert get_json(f"{base}/health?probe=alb")[0] == 200


def test_root_says_hello_with_service_name(start_server: StartServer) -> None:
    base = start_server(service_name="orders")
    status, body = get_json(f"{base}/")
    assert status == 200
    assert body == {"service": "orders", "message": "hello"}


@pytest.mark.parametrize("path", ["/nope", "/health/extra", "/favicon.ico"])
def test_unknown_path_is_404(start_server: StartServer, path: str) -> None:
    base = start_server([("postgres", ok)])
    status, body = get_json(f"{base}{path}")
    assert status == 404
    assert body == {"error": "not found"}


def test_one_json_access_log_line_per_request(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    base = start_server([("postgres", ok), ("redis", fail_connection)])
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        get_json(f"{base}/health?token=abc", headers={"X-Forwarded-For": "203.0.113.7, 10.0.0.1"})
        get_json(f"{base}/")

    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(record)) for record in caplog.records]
    access = [line for line in lines if line["event"] == "access"]
    assert len(access) == 2
    first = access[0]
    assert first["method"] == "GET"
    assert first["path"] == "/health"  # query string dropped
    assert first["status"] == 503
    assert first["client"] == "203.0.113.7"
    assert first["duration_ms"] >= 0
    assert access[1]["status"] == 200

    failures = [line for line in lines if line["event"] == "health_check_failed"]
    assert failures == [
        {
            "ts": failures[0]["ts"],
            "level": "warning",
            "event": "health_check_failed",
            "check": "redis",
            "error": "ConnectionRefusedError",
        }
    ]
    text = "\n".join(formatter.format(record) for record in caplog.records)
    assert "hunter2" not in text
    assert "abc" not in text
