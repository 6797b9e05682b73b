"""Run the real entry point in a subprocess: startup, serving, and SIGTERM shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

import pytest
from conftest import BASE_ENV, SECRET_PASSWORD, SECRET_TOKEN, get_json

SERVICE_DIR = Path(__file__).resolve().parents[1]


def _read_event(stream: IO[str], event: str) -> dict[str, object]:
    for line in stream:
        record: dict[str, object] = json.loads(line)
        if record["event"] == event:
            return record
    raise AssertionError(f"process ended before logging {event!r}")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_serves_then_stops_cleanly_on_sigterm() -> None:
    env = {
        **os.environ,
        **BASE_ENV,
        # Unroutable dependencies: the process must still start and answer quickly.
        "DB_HOST": "127.0.0.1",
        "DB_PORT": "1",
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": "1",
        "PORT": "0",
        "SERVICE_NAME": "sigterm-test",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app"],
        cwd=SERVICE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        started = _read_event(proc.stdout, "started")
        base = f"http://127.0.0.1:{started['port']}"

        assert get_json(f"{base}/") == (200, {"service": "sigterm-test", "message": "hello"})
        status, body = get_json(f"{base}/health")
        assert status == 503
        assert set(body["checks"]) == {"postgres", "redis"}

        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert proc.returncode == 0, err
    events = [json.loads(line)["event"] for line in out.splitlines()]
    assert events[-2:] == ["shutdown_requested", "stopped"]
    assert err == ""
    assert SECRET_PASSWORD not in out
    assert SECRET_TOKEN not in out


def test_exits_with_clear_error_when_config_is_missing() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "REDIS_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "app"],
        cwd=SERVICE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert proc.returncode == 2
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    assert record["event"] == "startup_failed"
    assert "DB_HOST is required" in record["reason"]
