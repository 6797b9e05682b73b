"""Dependency checks shared by the readiness endpoint and the background monitor.

A check is an async callable that returns when its dependency is usable and raises
otherwise. Results carry only the exception's class name: driver messages can contain
hosts, users or worse.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from app.logs import log_event
from app.stores import Stores

Check = Callable[[], Awaitable[None]]
# Well under the ALB's health check timeout, even when both dependencies hang.
CHECK_TIMEOUT_SECONDS = 2.0

# The monitor's log contract: CloudWatch metric filters match these names exactly
# ({ $.event = "dependency_check_failed" }), so changing them silences the alarm.
FAILED_EVENT = "dependency_check_failed"
RECOVERED_EVENT = "dependency_check_recovered"


def dependency_checks(stores: Stores) -> dict[str, Check]:
    """The checks by dependency name: `SELECT 1` through the pool, and `PING`."""
    return {"postgres": stores.database.ping, "redis": stores.cache.ping}


async def _error_of(check: Check) -> str | None:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await check()
    except Exception as exc:  # whatever the driver raises, the dependency is not usable
        return type(exc).__name__
    return None


async def run_checks(checks: Mapping[str, Check]) -> dict[str, str | None]:
    """Run every check concurrently; map each name to None (usable) or an error class name."""
    errors = await asyncio.gather(*(_error_of(check) for check in checks.values()))
    return dict(zip(checks, errors, strict=True))


class DependencyMonitor:
    """Runs the checks every interval and logs each failure and each recovery.

    One `dependency_check_failed` line per failed check per round (so a metric filter
    counts failing rounds), and one `dependency_check_recovered` line when a dependency
    that failed passes again.
    """

    def __init__(self, checks: Mapping[str, Check], *, interval_seconds: float) -> None:
        self._checks = dict(checks)
        self._interval_seconds = interval_seconds
        self._failing: set[str] = set()

    async def check_once(self) -> None:
        for name, error in (await run_checks(self._checks)).items():
            if error is not None:
                self._failing.add(name)
                log_event(FAILED_EVENT, logging.ERROR, dependency=name, error=error)
            elif name in self._failing:
                self._failing.discard(name)
                log_event(RECOVERED_EVENT, dependency=name)

    async def run(self) -> None:
        """Check now, then every interval, until cancelled (at shutdown)."""
        while True:
            await self.check_once()
            await asyncio.sleep(self._interval_seconds)
