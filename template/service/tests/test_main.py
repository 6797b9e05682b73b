"""The real entry point (`python -m app`, uvicorn) in a subprocess, with no servers needed."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import uvicorn
from conftest import BASE_ENV, SECRET_PASSWORD, SECRET_TOKEN
from servers import ServiceProcess, free_port, wait_for

from app import __main__ as entry
from app.__main__ import _config
from app.server import create_app
from app.settings import Settings

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# Nothing listens on these ports (the OS just handed them out and they were closed).
UNREACHABLE = {
    "DB_HOST": "127.0.0.1",
    "REDIS_HOST": "127.0.0.1",
    "REDIS_TLS": "false",
    "SERVICE_NAME": "unreachable-test",
    "DEPENDENCY_CHECK_INTERVAL_SECONDS": "0.5",
}


def test_liveness_200_and_readiness_503_while_dependencies_are_unreachable(
    service_dir: Path,
) -> None:
    env = BASE_ENV | UNREACHABLE | {"DB_PORT": str(free_port()), "REDIS_PORT": str(free_port())}
    with ServiceProcess(service_dir, env) as service:
        service.wait_until_serving("/health")

        health = service.get("/health")
        assert health.json() == {"status": "ok"}
        assert "server" not in health.headers  # the server software is not advertised
        ready = service.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["status"] == "error"
        assert set(ready.json()["checks"]) == {"postgres", "redis"}
        assert all(v.startswith("error: ") for v in ready.json()["checks"].values())
        assert service.get("/").status_code == 503

        # The monitor reports both, whatever the readiness endpoint is asked.
        def both_reported() -> bool:
            failed = service.records("dependency_check_failed")
            return {r["dependency"] for r in failed} == {"postgres", "redis"}

        wait_for(both_reported, timeout=10, what="dependency_check_failed for both")
        exit_status = service.stop()

    # uvicorn shuts down gracefully, then re-raises SIGTERM: the status a signal gives.
    assert exit_status == -signal.SIGTERM, service.output()
    events = [record["event"] for record in service.records()]
    assert events.index("started") < events.index("stopped")
    assert events[-1] == "log"  # uvicorn's "Finished server process", after the pools closed
    assert service.records()[-1]["message"].startswith("Finished server process")
    assert service.stderr_lines == []  # every line went to stdout as JSON
    assert SECRET_PASSWORD not in service.output()
    assert SECRET_TOKEN not in service.output()


def test_uvicorn_fits_the_load_balancer_and_the_stop_timeout(settings: Settings) -> None:
    # Protects: keep-alive longer than the ALB's idle timeout (60 s: else the ALB reuses a
    # connection the server just closed, a 502), a graceful shutdown within ECS's stop
    # timeout (30 s, less the pools' closing: else SIGKILL cuts requests), no trust in a
    # client's X-Forwarded-* headers, no server header.
    config = _config(create_app(settings), settings)
    assert config.timeout_keep_alive > 60
    assert config.timeout_graceful_shutdown is not None
    assert config.timeout_graceful_shutdown <= 25
    assert config.proxy_headers is False
    assert config.server_header is False


def test_library_lines_are_redacted_from_the_first_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Protects: main() gives the logs the secrets it read, so a driver's line that quotes
    # one (a connection string in an error) is redacted, not written to CloudWatch.
    for name, value in BASE_ENV.items():
        monkeypatch.setenv(name, value)

    def run(_server: uvicorn.Server) -> None:
        logging.getLogger("psycopg").warning(
            "connection failed: password=%s token=%s", SECRET_PASSWORD, SECRET_TOKEN
        )

    monkeypatch.setattr(uvicorn.Server, "run", run)
    entry.main()
    output = capsys.readouterr().out
    assert "[redacted]" in output
    assert SECRET_PASSWORD not in output and SECRET_TOKEN not in output


def test_ctrl_c_stops_gracefully_with_status_130_and_no_traceback(service_dir: Path) -> None:
    # Protects: `python -m app` run by hand (service/README.md) stops on Ctrl-C as on SIGTERM,
    # quietly: uvicorn re-raises the interrupt after its shutdown.
    env = BASE_ENV | UNREACHABLE | {"DB_PORT": str(free_port()), "REDIS_PORT": str(free_port())}
    with ServiceProcess(service_dir, env) as service:
        service.wait_until_serving("/health")
        exit_status = service.stop(signal.SIGINT)
    assert exit_status == 130, service.output()
    events = [record["event"] for record in service.records()]
    assert events.index("started") < events.index("stopped")
    assert service.stderr_lines == [], service.output()


def test_exits_with_clear_error_when_config_is_missing(service_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "REDIS_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "app"],
        cwd=service_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    assert record["event"] == "startup_failed"
    assert "DB_HOST is required" in record["reason"]


def test_one_server_process_per_vcpu_each_stopping_gracefully(service_dir: Path) -> None:
    # WEB_CONCURRENCY=2 (a task of 2 vCPU): two server processes share the port, each with its
    # own lifespan; SIGTERM stops both gracefully, and the supervisor exits with 0.
    env = BASE_ENV | UNREACHABLE | {"DB_PORT": str(free_port()), "REDIS_PORT": str(free_port())}
    with ServiceProcess(service_dir, env | {"WEB_CONCURRENCY": "2"}) as service:
        service.wait_until_serving("/health")
        wait_for(lambda: len(service.records("started")) == 2, timeout=15, what="two started")
        assert service.get("/health").json() == {"status": "ok"}
        exit_status = service.stop()

    assert exit_status == 0, service.output()
    assert len(service.records("stopped")) == 2
    assert service.stderr_lines == []  # the supervisor's lines are JSON too
    assert SECRET_PASSWORD not in service.output()


def test_supervisor_exits_3_when_it_cannot_take_the_port(service_dir: Path) -> None:
    # A port already taken: nothing serves, and the process exits 3 (as ECS then shows),
    # instead of starting server processes that cannot listen.
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "app"],
            cwd=service_dir,
            env={
                **os.environ,
                **BASE_ENV,
                **UNREACHABLE,
                "PORT": str(port),
                "WEB_CONCURRENCY": "2",
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 3, proc.stdout + proc.stderr
