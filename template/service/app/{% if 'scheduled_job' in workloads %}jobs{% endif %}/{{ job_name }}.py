"""A scheduled job: the visits of the last week, from PostgreSQL, as a report in Redis.

`python -m app.jobs.<this module>` reads the service's settings (`Settings`: the stores, the
HTTP variables at their defaults), then:

1. takes a lock in Redis (`SET NX` with an expiry) so that two runs never overlap: a run that
   finds it held logs `job_skipped` and exits 0 (the schedule fired again while a slow run
   was still going, or someone started one by hand);
2. reads the visits of each of the last `REPORT_DAYS` days from PostgreSQL;
3. writes the report, a JSON object, to `<SERVICE_NAME>:report:<job>` in Redis (kept a week);
4. releases the lock and logs `job_finished`.

Exit status: 0 done or skipped; 1 failed (`job_failed` names the stage and the exception's
class; the alarm topic hears of it); 2 bad configuration; 143 stopped by SIGTERM (ECS
stopping the task: `job_stopped`, and the lock released for the next run). Every line on
stdout is one JSON object (app/logs.py); nothing of a secret.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from app.logs import configure_logging, log_event
from app.settings import Settings, SettingsError
from app.stores import Stores, open_stores

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIGURATION_ERROR = 2
EXIT_STOPPED = 128 + signal.SIGTERM  # as a shell reports a process SIGTERM ended
# The module's name is the job's (python -m app.jobs.<name>).
JOB = Path(__file__).stem
REPORT_DAYS = 7
REPORT_TTL_SECONDS = 7 * 24 * 3600
# Longer than a run can take: a run that died holding the lock does not block the next for
# longer than this.
LOCK_TTL_SECONDS = 3600


def report_key(settings: Settings) -> str:
    return f"{settings.service_name}:report:{JOB}"


def lock_key(settings: Settings) -> str:
    return f"{settings.service_name}:job:{JOB}:lock"


async def run(settings: Settings, stores: Stores) -> int:
    started = time.monotonic()
    token = secrets.token_hex(16)
    try:
        claimed = await stores.cache.claim(lock_key(settings), token, ttl_seconds=LOCK_TTL_SECONDS)
    except Exception as exc:  # Redis unreachable: nothing was done
        return _failed("lock", exc)
    if not claimed:
        log_event("job_skipped", job=JOB, reason="another run holds the lock")
        return EXIT_OK
    stage = "read"
    try:
        days = await stores.database.visits_per_day(REPORT_DAYS)
        report = {
            "days": REPORT_DAYS,
            "visits": sum(day.count for day in days),
            "per_day": {day.day.isoformat(): day.count for day in days},
        }
        stage = "write"
        await stores.cache.store(
            report_key(settings), json.dumps(report), ttl_seconds=REPORT_TTL_SECONDS
        )
    except Exception as exc:  # a store failed: the run failed, and says where
        status = _failed(stage, exc)
    else:
        status = EXIT_OK
        log_event(
            "job_finished",
            job=JOB,
            visits=report["visits"],
            days_with_visits=len(days),
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
    finally:  # a SIGTERM (the task cancelled) too: the next run must not wait an hour
        try:
            await stores.cache.release(lock_key(settings), token)
        except Exception as exc:  # it expires by itself (LOCK_TTL_SECONDS)
            log_event("job_lock_not_released", logging.WARNING, job=JOB, error=type(exc).__name__)
    return status


def _failed(stage: str, exc: Exception) -> int:
    log_event("job_failed", logging.ERROR, job=JOB, stage=stage, error=type(exc).__name__)
    return EXIT_FAILED


async def run_with_stores(settings: Settings) -> int:
    """Run the job with its stores; SIGTERM (ECS stopping the task) cancels it, which
    releases its lock, and ends it with EXIT_STOPPED."""
    this_run = asyncio.current_task()
    assert this_run is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, this_run.cancel)
    try:
        async with open_stores(settings) as stores:
            return await run(settings, stores)
    except asyncio.CancelledError:
        log_event("job_stopped", logging.WARNING, job=JOB, signal=signal.SIGTERM.name)
        return EXIT_STOPPED


def main(environ: Mapping[str, str] | None = None) -> int:
    configure_logging()
    try:
        settings = Settings.from_env(environ)
    except SettingsError as exc:
        # The message names variables, never the values of secrets.
        log_event("startup_failed", logging.ERROR, job=JOB, reason=str(exc))
        return EXIT_CONFIGURATION_ERROR
    configure_logging(secrets=settings.secrets)
    log_event("job_started", job=JOB, service=settings.service_name)
    return asyncio.run(run_with_stores(settings))


if __name__ == "__main__":
    sys.exit(main())
