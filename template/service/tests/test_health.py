"""The checks and the background monitor, whose log lines a CloudWatch alarm counts."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
import redis
from conftest import FakeStores

from app import health
from app.health import DependencyMonitor, dependency_checks, run_checks
from app.logs import LOGGER_NAME, JsonFormatter
from app.stores import Stores


def monitor_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(r)) for r in caplog.records if r.name == LOGGER_NAME]
    for line in lines:
        del line["ts"]
    return lines


def stores(fakes: FakeStores) -> Stores:
    return Stores(database=fakes.database, cache=fakes.cache)


async def test_checks_name_postgres_and_redis(fake_stores: FakeStores) -> None:
    assert await run_checks(dependency_checks(stores(fake_stores))) == {
        "postgres": None,
        "redis": None,
    }


async def test_a_failing_check_reports_its_class_and_the_others_still_run() -> None:
    calls: list[str] = []

    async def failing() -> None:
        calls.append("postgres")
        raise ConnectionRefusedError("db.internal:5432 refused, password=hunter2")

    async def passing() -> None:
        calls.append("redis")

    errors = await run_checks({"postgres": failing, "redis": passing})
    assert errors == {"postgres": "ConnectionRefusedError", "redis": None}
    assert sorted(calls) == ["postgres", "redis"]


async def test_checks_run_concurrently_and_time_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 0.2)

    async def hangs() -> None:
        await asyncio.sleep(60)

    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(5):  # unbounded checks would fail here, not in a minute
        errors = await run_checks({"postgres": hangs, "redis": hangs})
    assert errors == {"postgres": "TimeoutError", "redis": "TimeoutError"}
    assert loop.time() - started < 1  # both bounded by one timeout, not one after the other


async def test_monitor_logs_one_line_per_failure_and_one_on_recovery(
    fake_stores: FakeStores, caplog: pytest.LogCaptureFixture
) -> None:
    # Protects the log contract of the CloudWatch metric filter
    # { $.event = "dependency_check_failed" }: event name, dependency name, class only.
    monitor = DependencyMonitor(dependency_checks(stores(fake_stores)), interval_seconds=30)
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        await monitor.check_once()  # healthy: nothing to say
        fake_stores.cache.error = redis.ConnectionError("cache.internal:6379 refused")
        await monitor.check_once()
        await monitor.check_once()
        fake_stores.cache.error = None
        await monitor.check_once()
        await monitor.check_once()  # still healthy: no second recovery line

    failed = {
        "level": "error",
        "event": "dependency_check_failed",
        "dependency": "redis",
        "error": "ConnectionError",
    }
    recovered = {"level": "info", "event": "dependency_check_recovered", "dependency": "redis"}
    assert monitor_lines(caplog) == [failed, failed, recovered]
    assert "6379" not in caplog.text


async def test_monitor_reports_both_dependencies_separately(
    fake_stores: FakeStores, caplog: pytest.LogCaptureFixture
) -> None:
    fake_stores.database.error = OSError("down")
    fake_stores.cache.error = redis.TimeoutError("down")
    monitor = DependencyMonitor(dependency_checks(stores(fake_stores)), interval_seconds=30)
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        await monitor.check_once()
    lines = sorted(monitor_lines(caplog), key=lambda line: str(line["dependency"]))
    assert [(line["dependency"], line["error"]) for line in lines] == [
        ("postgres", "OSError"),
        ("redis", "TimeoutError"),
    ]


async def test_monitor_runs_every_interval_until_cancelled() -> None:
    rounds = 0

    async def counted() -> None:
        nonlocal rounds
        rounds += 1

    monitor = DependencyMonitor({"postgres": counted}, interval_seconds=0.05)
    task = asyncio.create_task(monitor.run())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert 3 <= rounds <= 8
