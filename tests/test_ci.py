"""`.ci/run` on a fresh machine: PostgreSQL, Redis and jq install while the tests begin, and
every test module waits for them (tests/support/servers.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from .support.servers import INSTALL_FOLDER, wait_for_servers


def test_tests_wait_for_the_install_and_fail_with_apt_gets_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Protects: a module never starts a server before apt-get has installed it, and a failed
    # install fails the tests with apt-get's own words instead of "initdb not found".
    monkeypatch.setenv(INSTALL_FOLDER, str(tmp_path))
    (tmp_path / "log").write_text("E: Unable to locate package redis-server\n")

    def finish(status: str) -> None:
        # As .ci/run ends its install: the status written whole, then renamed into place.
        (tmp_path / "status.new").write_text(f"{status}\n")
        (tmp_path / "status.new").rename(tmp_path / "status")

    installing = threading.Timer(0.5, finish, args=["0"])
    installing.start()
    started = time.monotonic()
    wait_for_servers()
    assert time.monotonic() - started >= 0.4, "returned while apt-get was still installing"
    installing.join()

    finish("100")
    with pytest.raises(pytest.fail.Exception, match="Unable to locate package redis-server"):
        wait_for_servers()

    # Where nothing installs (a developer's machine), nothing waits.
    monkeypatch.delenv(INSTALL_FOLDER)
    wait_for_servers()
