"""PostgreSQL, Redis and jq, which the integration tests, the rendered projects' checks and the
workflow scripts use: on a fresh CI machine, `.ci/run` installs them while the tests begin."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

# The folder `.ci/run` leaves apt-get's log and, once the install has ended, its exit status in.
INSTALL_FOLDER = "TEMPLATE_TESTS_SERVERS"


def wait_for_servers(timeout: float = 600) -> None:
    """Return once `.ci/run`'s install of the servers has ended (at once where nothing is being
    installed: a developer's machine, or a CI machine that had them); fail, with apt-get's log,
    if it failed."""
    folder = os.environ.get(INSTALL_FOLDER)
    if not folder:
        return
    status = Path(folder) / "status"
    deadline = time.monotonic() + timeout
    while not status.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"PostgreSQL, Redis and jq were still installing after {timeout:.0f} s")
        time.sleep(0.2)
    if status.read_text().strip() != "0":
        log = (Path(folder) / "log").read_text()
        pytest.fail(f"installing PostgreSQL, Redis and jq failed:\n{log}")
