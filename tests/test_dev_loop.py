"""The rendered repository's local loop, `bash scripts/dev`, run as a person runs it: in a
terminal, Ctrl-C to stop, twice (the data persists), with `bash scripts/dev run` beside it
(a message for the worker, a job, Alembic), and without PostgreSQL or uv installed.

It starts real PostgreSQL and Redis from the distribution's binaries (`.ci/run` installs them)
and, for the worker, moto's server mode: a local SQS-protocol server from PyPI, not AWS. The
project runs every workload (the large render).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest
import yaml

from .support.environments import uv_sync
from .support.network import free_port
from .support.projects import GENERATED, answers_of

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="reads /proc"),
    # The module runs whole on one worker (see WHOLE_MODULES in conftest.py).
    pytest.mark.cost(15),
]

START_TIMEOUT_SECONDS = 120
# The large render's job, and a message for its worker, as service/README.md sends one.
JOB = "daily_report"
SEND_A_MESSAGE = (
    "import boto3, json, os; boto3.client('sqs').send_message("
    "QueueUrl=os.environ['QUEUE_URL'], MessageBody=json.dumps({'visit_day': '2026-12-05'}))"
)
Process = tuple[int, str]  # pid and start time: a pid the kernel reused is another process


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of a running process, from /proc/<pid>/stat. A zombie has
    ended (only its exit status waits for a parent to read it): None, as for no process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # after "(command name)", which may hold spaces
    if fields[0] == "Z":
        return None
    return int(fields[1]), fields[19]


def descendants(root: int) -> set[Process]:
    """Every live process below `root`, with its start time."""
    parents: dict[int, list[Process]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (info := _stat(int(entry.name))) is not None:
            parents.setdefault(info[0], []).append((int(entry.name), info[1]))
    found: set[Process] = set()
    pending = [root]
    while pending:
        for child in parents.get(pending.pop(), []):
            found.add(child)
            pending.append(child[0])
    return found


def wait_for_python_catching_sigint(root: int, module: str) -> None:
    """Until a process below `root` runs `python -m module` and has installed Python's SIGINT
    handler (bit 2 of SigCgt in /proc/<pid>/status): from then on, Ctrl-C becomes a
    KeyboardInterrupt there, and a traceback unless the process is shielded from it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for pid, _ in descendants(root):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            if module.encode() not in command:
                continue
            caught = re.search(r"^SigCgt:\s*([0-9a-f]+)$", status, re.MULTILINE)
            if caught and int(caught.group(1), 16) & (1 << (signal.SIGINT - 1)):
                return
        time.sleep(0.005)
    raise AssertionError(f"no process ran python -m {module} with its SIGINT handler")


def alive(processes: set[Process]) -> set[Process]:
    return {(pid, started) for pid, started in processes if (_stat(pid) or (0, ""))[1] == started}


def left_running(processes: set[Process]) -> list[str]:
    """The processes still running a few seconds after the run ended (a helper of uvicorn's
    reloader ends when it sees its parent gone), described for the failure message."""
    deadline = time.monotonic() + 10
    while alive(processes) and time.monotonic() < deadline:
        time.sleep(0.1)
    return describe(alive(processes))


def describe(processes: set[Process]) -> list[str]:
    """Command line and state of each process, for a failure's message."""
    described = []
    for pid, _ in processes:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        described.append(f"{pid}: {cmdline}")
    return described


def mentioning(text: str) -> list[str]:
    """Command lines of live processes that contain `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{entry.name}: {cmdline}")
    return found


def get_root(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
        assert response.status == 200
        body: dict[str, Any] = json.load(response)
        return body


@pytest.fixture(scope="module")
def project(large_project: Path) -> Iterator[Path]:
    """The render with every workload (the API, the worker, a job), its service synced.

    Run as root (CI), scripts/dev runs PostgreSQL as the postgres user, which must pass
    through every folder above `.dev/`; pytest keeps its temporary folders private (and makes
    them private again whenever a session starts), so then the run uses a copy of the render
    in a folder that user can reach: the same files, not a new render."""
    if os.geteuid() != 0:
        uv_sync(large_project / "service")
        yield large_project
        shutil.rmtree(large_project / ".dev", ignore_errors=True)
        return
    reachable = Path(tempfile.mkdtemp(prefix="dev-loop-"))
    try:
        reachable.chmod(0o711)
        copy = reachable / large_project.name
        shutil.copytree(large_project, copy, ignore=shutil.ignore_patterns(*GENERATED))
        uv_sync(copy / "service")
        yield copy
    finally:
        shutil.rmtree(reachable)


class DevRun:
    """`bash scripts/dev` in a pseudo-terminal, as a person starts it."""

    def __init__(self, project: Path) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "PORT": str(self.port),
            "DEV_POSTGRES_PORT": str(free_port()),
            "DEV_REDIS_PORT": str(free_port()),
            "DEV_SQS_PORT": str(free_port()),
        }
        self.env = env
        self.child = pexpect.spawn(
            "bash",
            ["scripts/dev"],
            cwd=str(project),
            env=env,
            encoding="utf-8",
            codec_errors="replace",
            timeout=START_TIMEOUT_SECONDS,
            dimensions=(40, 200),
        )
        self.output = ""
        self.project = project
        self.processes: set[Process] = set()

    def wait_until_serving(self) -> None:
        self.expect(rf"serving http://127\.0\.0\.1:{self.port}/")
        self.expect("Ctrl-C stops everything")  # the worker too
        # Everything it started, down to PostgreSQL's backends and uvicorn's server process.
        assert self.child.pid is not None
        self.processes = descendants(self.child.pid)

    def expect(self, pattern: str | type[pexpect.EOF]) -> None:
        try:
            self.child.expect(pattern)
        finally:
            self.output += (self.child.before or "") + str(self.child.after or "")

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        """`bash scripts/dev run COMMAND...` from another terminal, beside this run."""
        return subprocess.run(
            ["bash", "scripts/dev", "run", *command],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def interrupt(self) -> int:
        """Ctrl-C, as the terminal sends it (SIGINT to the foreground process group)."""
        self.child.sendintr()
        self.expect(pexpect.EOF)
        self.child.close()
        return int(self.child.exitstatus if self.child.exitstatus is not None else -1)

    def abandon(self) -> None:
        """After a failure: stop what this run started, by pid."""
        if self.child.isalive():
            self.child.sendintr()
            try:
                self.child.expect(pexpect.EOF, timeout=30)
            except pexpect.TIMEOUT:
                self.child.terminate(force=True)
        for pid, _ in alive(self.processes):
            os.kill(pid, signal.SIGKILL)


def test_scripts_dev_serves_and_ctrl_c_stops_everything_twice_with_the_data_kept(
    project: Path,
) -> None:
    assert ".dev/" in (project / ".gitignore").read_text().splitlines()
    dev_folder = str(project / ".dev")

    first = DevRun(project)
    try:
        first.wait_until_serving()
        one, two = get_root(first.port), get_root(first.port)
        assert first.processes, "scripts/dev started nothing"
        # Beside it: a message for the worker, a job, Alembic, as service/README.md says.
        sent = first.run("python", "-c", SEND_A_MESSAGE)
        assert sent.returncode == 0, sent.stderr
        first.expect('"event": "message_processed"')
        job = first.run("python", "-m", f"app.jobs.{JOB}")
        assert job.returncode == 0 and '"event": "job_finished"' in job.stdout, job.stderr
        current = first.run("alembic", "current")
        assert current.returncode == 0 and "(head)" in current.stdout, current.stderr
        status = first.interrupt()
    finally:
        first.abandon()
    assert (two["visits"], two["visits_today"]) == (one["visits"] + 1, one["visits_today"] + 1)
    assert (one["visits"], one["visits_today"]) == (1, 1)
    assert "database_time" in one
    # As in AWS: the service's own name (its Redis keys start with it).
    assert one["service"] == answers_of(project)["service_name"]
    # First run: the cluster, the user, the schema.
    assert "first run: creating the PostgreSQL cluster" in first.output
    assert '"event": "schema_migrated"' in first.output
    # Ctrl-C: a short message, status 0, and not one process of the run left.
    assert status == 0, first.output[-3000:]
    stopped = "stopped the worker, the service, the local SQS server, Redis, PostgreSQL"
    assert stopped in first.output
    assert "Traceback" not in first.output
    assert left_running(first.processes) == []
    assert mentioning(dev_folder) == []
    assert mentioning(f"--port {first.port}") == []
    # Nothing runs now: `run` says so instead of failing on a closed port.
    alone = first.run("true")
    assert alone.returncode == 1 and "no scripts/dev is running" in alone.stderr

    second = DevRun(project)
    try:
        second.wait_until_serving()
        third = get_root(second.port)
        status = second.interrupt()
    finally:
        second.abandon()
    # The data persisted: the migrations found nothing to do, and both counters continue.
    assert '"event": "schema_current"' in second.output
    assert "first run" not in second.output
    assert (third["visits"], third["visits_today"]) == (3, 3)
    assert status == 0, second.output[-3000:]
    assert left_running(second.processes) == []
    assert mentioning(dev_folder) == []


@pytest.mark.parametrize("module", ["app.migrate", "uvicorn"])
def test_ctrl_c_while_a_program_starts_stops_everything_without_a_traceback(
    project: Path, module: str
) -> None:
    run = DevRun(project)
    try:
        # Ctrl-C while the migration imports Alembic, or uvicorn its modules: it used to
        # reach them there, and each printed a traceback.
        assert run.child.pid is not None
        wait_for_python_catching_sigint(run.child.pid, module)
        started = descendants(run.child.pid)
        status = run.interrupt()
    finally:
        run.abandon()
    assert status == 0, run.output[-3000:]
    assert "Traceback" not in run.output, run.output[-3000:]
    assert "the local SQS server, Redis, PostgreSQL" in run.output
    assert left_running(started) == []
    assert mentioning(str(project / ".dev")) == []


def test_scripts_dev_says_what_to_install_when_postgresql_is_missing(
    project: Path, tmp_path: Path
) -> None:
    # An empty folder stands for a machine without PostgreSQL (this one has it in the usual place).
    result = subprocess.run(
        ["bash", "scripts/dev"],
        cwd=project,
        env={**os.environ, "DEV_POSTGRES_BINDIR": str(tmp_path), "PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "PostgreSQL's server programs (initdb, postgres) were not found" in result.stderr
    assert "sudo apt-get install postgresql redis-server" in result.stderr
    assert "brew install postgresql@17 redis" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (project / ".dev" / "postgres" / "postmaster.pid").exists()


def test_scripts_dev_says_how_to_install_uv_when_it_is_missing(
    project: Path, tmp_path: Path
) -> None:
    # A PATH with only what the script itself calls before uv.
    for program in ("bash", "dirname"):
        (tmp_path / program).symlink_to(shutil.which(program) or program)
    result = subprocess.run(
        ["bash", "scripts/dev"],
        cwd=project,
        env={**os.environ, "PATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "uv was not found" in result.stderr
    assert "https://docs.astral.sh/uv/getting-started/installation/" in result.stderr


def test_compose_file_runs_the_same_servers_on_the_same_ports(project: Path) -> None:
    # Docker cannot run here: the file is checked as data. Protects: the ports scripts/dev and
    # the documented commands use, exact image versions, data kept in named volumes.
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    dev = (project / "scripts" / "dev.py").read_text()
    ports = {
        name: re.search(rf"^DEFAULT_{name.upper()}_PORT = (\d+)$", dev, re.MULTILINE)
        for name in ("postgres", "redis")
    }
    assert set(compose["services"]) == {"postgres", "redis"}
    for name, service in compose["services"].items():
        match = ports[name]
        assert match is not None, name
        container_port = {"postgres": 5432, "redis": 6379}[name]
        assert service["ports"] == [f"127.0.0.1:{match.group(1)}:{container_port}"]
        assert re.fullmatch(rf"{name}:\d+\.\d+(\.\d+)?-\w+", service["image"]), service["image"]
        [volume] = service["volumes"]
        assert volume.split(":")[0] in compose["volumes"]
        assert "healthcheck" in service
    # Production's major versions (datastore.py).
    assert compose["services"]["postgres"]["image"].startswith("postgres:17.")
    readme = (project / "service" / "README.md").read_text()
    assert "docker compose up --detach --wait" in readme
    assert f"DB_PORT={ports['postgres'].group(1)}" in readme  # type: ignore[union-attr]
