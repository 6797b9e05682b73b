from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from app.checks import NamedCheck
from app.server import AppServer

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


@pytest.fixture
def base_env() -> dict[str, str]:
    return dict(BASE_ENV)


StartServer = Callable[..., str]


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Start the real server on an ephemeral port; returns its base URL."""
    started: list[tuple[AppServer, threading.Thread]] = []

    def _start(
        checks: Sequence[NamedCheck] = (),
        *,
        service_name: str = "sample-service",
        health_check_path: str = "/health",
    ) -> str:
        server = AppServer(
            ("127.0.0.1", 0),
            service_name=service_name,
            health_check_path=health_check_path,
            checks=checks,
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield _start
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """GET a URL and return (status, decoded JSON body), also for 4xx/5xx."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.headers["Content-Type"] == "application/json"
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        with err:
            assert err.headers["Content-Type"] == "application/json"
            return err.code, json.loads(err.read())
