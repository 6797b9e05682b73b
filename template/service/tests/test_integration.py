"""Optional checks against a real PostgreSQL and Redis.

Skipped unless SAMPLE_SERVICE_INTEGRATION=1; the DB_* and REDIS_* variables must
then point at reachable servers (e.g. REDIS_TLS=false for a local Redis).
"""

from __future__ import annotations

import os

import pytest

from app.checks import check_postgres, check_redis
from app.settings import Settings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.environ.get("SAMPLE_SERVICE_INTEGRATION") != "1",
        reason="set SAMPLE_SERVICE_INTEGRATION=1 to run against real PostgreSQL and Redis",
    ),
]


def test_postgres_check_against_real_server() -> None:
    check_postgres(Settings.from_env())


def test_redis_check_against_real_server() -> None:
    check_redis(Settings.from_env())
