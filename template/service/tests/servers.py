"""Real servers for the tests: PostgreSQL and Redis started from their binaries, a local
server that speaks the SQS protocol (moto's server mode, from PyPI: not AWS), and the service
itself as `python -m app`, its worker as `python -m app.worker`, a job as
`python -m app.jobs.<name>`. Everything listens on 127.0.0.1 only, on free ports, in temporary
directories, with passwords and certificates made for this run.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Self

import httpx2
import psycopg
import redis
import trustme

# PostgreSQL refuses to run as root; when the tests do, the server runs as this user.
POSTGRES_OS_USER = "postgres"
START_TIMEOUT_SECONDS = 30


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Any, *, timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll `condition()` until it is true, or fail naming what never happened."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------- certificates


@dataclass(frozen=True)
class Certificates:
    ca_file: Path
    cert_file: Path
    key_file: Path


def make_certificates(directory: Path) -> Certificates:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost (never committed)."""
    authority = trustme.CA()
    server = authority.issue_cert("127.0.0.1", "localhost")
    certificates = Certificates(
        ca_file=directory / "ca.pem",
        cert_file=directory / "server.pem",
        key_file=directory / "server.key",
    )
    authority.cert_pem.write_to_path(str(certificates.ca_file))
    server.cert_chain_pems[0].write_to_path(str(certificates.cert_file))
    server.private_key_pem.write_to_path(str(certificates.key_file))
    certificates.key_file.chmod(0o600)
    return certificates


# ---------------------------------------------------------------- PostgreSQL


def postgres_bindir() -> Path:
    """Where initdb and pg_ctl are: `pg_config --bindir`, else Debian's versioned directories."""
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(Path(result.stdout.strip()))
    debian = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(
        debian, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0
    )[::-1]
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found via pg_config or "
        "/usr/lib/postgresql/*/bin: install PostgreSQL (Debian/Ubuntu: apt-get install postgresql)"
    )


def _run_as_prefix() -> tuple[str, ...]:
    if os.geteuid() != 0:
        return ()
    try:
        pwd.getpwnam(POSTGRES_OS_USER)
    except KeyError:
        raise RuntimeError(
            f"the tests run as root, PostgreSQL refuses root, and there is no "
            f"{POSTGRES_OS_USER!r} user to run it as"
        ) from None
    return ("runuser", "-u", POSTGRES_OS_USER, "--")


def _run(command: list[str], what: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(
            f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


@dataclass
class PostgresServer:
    """A PostgreSQL cluster this test session owns: it can stop and start it at will."""

    bindir: Path
    datadir: Path
    logfile: Path
    run_as: tuple[str, ...]
    port: int
    user: str
    password: str
    database: str
    # The authority that signed its certificate (for 127.0.0.1): clients verify it.
    ca_file: Path

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        result = self._pg_ctl(
            "start", "-w", "-t", str(START_TIMEOUT_SECONDS), "-l", str(self.logfile)
        )
        if result.returncode != 0:
            log = self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
            raise RuntimeError(f"pg_ctl start failed:\n{result.stdout}{result.stderr}\n{log}")

    def stop(self) -> None:
        result = self._pg_ctl("stop", "-w", "-m", "fast")
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed:\n{result.stdout}{result.stderr}")

    def is_running(self) -> bool:
        return self._pg_ctl("status").returncode == 0

    def ensure_running(self) -> None:
        """Start the server again if a test stopped it and failed before restarting it."""
        if not self.is_running():
            self.start()

    def connect(self, database: str | None = None) -> psycopg.Connection[Any]:
        """A superuser connection, to the service's database unless told another."""
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database or self.database,
            sslmode="require",
            autocommit=True,
        )


@contextmanager
def start_postgres(certificates: Certificates) -> Iterator[PostgresServer]:
    """initdb a cluster in a temporary directory, TLS on, password auth, on a free port."""
    bindir = postgres_bindir()
    run_as = _run_as_prefix()
    root = Path(tempfile.mkdtemp(prefix="sample-service-pg-"))
    server = PostgresServer(
        bindir=bindir,
        datadir=root / "data",
        logfile=root / "postgres.log",
        run_as=run_as,
        port=free_port(),
        user="app_user",
        password=secrets.token_urlsafe(24),
        database="app",
        ca_file=certificates.ca_file,
    )
    try:
        (root / "password").write_text(server.password)
        # The server reads its key and certificate itself: copies it owns, key mode 0600.
        shutil.copy(certificates.cert_file, root / "server.crt")
        shutil.copy(certificates.key_file, root / "server.key")
        (root / "server.key").chmod(0o600)
        if run_as:
            for path in (root, *root.iterdir()):
                shutil.chown(path, user=POSTGRES_OS_USER)
        _run(
            [
                *run_as,
                str(bindir / "initdb"),
                "--pgdata",
                str(server.datadir),
                "--username",
                server.user,
                "--pwfile",
                str(root / "password"),
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ],
            "initdb",
        )
        with (server.datadir / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\n"
                f"port = {server.port}\n"
                "unix_socket_directories = ''\n"
                "ssl = on\n"
                f"ssl_cert_file = '{root / 'server.crt'}'\n"
                f"ssl_key_file = '{root / 'server.key'}'\n"
                # A throwaway cluster: durability only slows the tests down.
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
            )
        server.start()
        with psycopg.connect(
            host="127.0.0.1",
            port=server.port,
            user=server.user,
            password=server.password,
            dbname="postgres",
            sslmode="require",
            autocommit=True,
        ) as conn:
            conn.execute(f'CREATE DATABASE "{server.database}"')
        yield server
    finally:
        if server.datadir.exists() and server.is_running():
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- Redis


@dataclass
class RedisServer:
    tls_port: int
    password: str
    ca_file: Path

    def client(self) -> redis.Redis:
        """A client of the server itself (AUTH, TLS): what tests start and administer it with."""
        return redis.Redis(
            host="127.0.0.1",
            port=self.tls_port,
            password=self.password,
            ssl=True,
            ssl_ca_certs=str(self.ca_file),
            socket_connect_timeout=1,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s: a server the tests started goes with them."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def start_redis(directory: Path, certificates: Certificates) -> Iterator[RedisServer]:
    """redis-server with AUTH (requirepass) and TLS only (no plain-text port)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "redis-server not found: install Redis (Debian/Ubuntu: apt-get install redis-server)"
        )
    server = RedisServer(
        tls_port=free_port(), password=secrets.token_urlsafe(24), ca_file=certificates.ca_file
    )
    config = directory / "redis.conf"
    config.write_text(
        "bind 127.0.0.1\n"
        "port 0\n"  # no plain-text listener: like ElastiCache with in-transit encryption
        f"tls-port {server.tls_port}\n"
        f"tls-cert-file {certificates.cert_file}\n"
        f"tls-key-file {certificates.key_file}\n"
        f"tls-ca-cert-file {certificates.ca_file}\n"
        "tls-auth-clients no\n"
        f"requirepass {server.password}\n"
        f"dir {directory}\n"
        'save ""\n'
        "appendonly no\n"
        "daemonize no\n"
    )
    logfile = directory / "redis.log"
    with logfile.open("w") as log:
        process = subprocess.Popen([binary, str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        client = server.client()

        def answers() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited:\n{logfile.read_text(errors='replace')}")
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_for(answers, timeout=START_TIMEOUT_SECONDS, what="redis-server to answer PING")
        client.close()
        yield server
    finally:
        stop(process)


# ---------------------------------------------------------------- SQS


@dataclass
class SqsServer:
    """moto's server mode: it answers the SQS API (queues, long polling, visibility, redrive
    to a dead-letter queue) on a local port. Not AWS: no IAM, no KMS encryption."""

    endpoint_url: str

    @property
    def environment(self) -> dict[str, str]:
        """What points an AWS SDK (boto3, the worker's) at this server, with dummy keys."""
        return {
            "AWS_ENDPOINT_URL_SQS": self.endpoint_url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local-test-key",
            "AWS_SECRET_ACCESS_KEY": "local-test-secret",  # pragma: allowlist secret
        }

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "sqs",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="local-test-key",
            aws_secret_access_key="local-test-secret",  # pragma: allowlist secret
        )


@contextmanager
def start_sqs(directory: Path) -> Iterator[SqsServer]:
    """A local SQS-protocol server: moto's server mode, in a process of its own as a queue
    service is. (Started by its command, never imported: mypy would then analyse all of
    moto, two thousand modules, for every cold type check of the project.)"""
    port = free_port()
    server = SqsServer(endpoint_url=f"http://127.0.0.1:{port}")
    logfile = directory / "moto.log"
    with logfile.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def answers() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"moto's server exited:\n{logfile.read_text(errors='replace')}")
            try:
                server.client().list_queues()
            except Exception:  # botocore's connection errors, until it listens
                return False
            return True

        wait_for(answers, timeout=START_TIMEOUT_SECONDS, what="moto's SQS server to answer")
        yield server
    finally:
        stop(process)


# ---------------------------------------------------------------- the service itself


def _collect(stream: IO[str] | None, kept: list[str]) -> None:
    assert stream is not None
    for line in stream:
        kept.append(line.rstrip("\n"))


class LoggedProcess:
    """`command` started now in the service's directory with the given configuration only
    (`_service_environment`); its stdout and stderr lines are kept as they come, by two
    reader threads, and every stdout line is a JSON log record."""

    def __init__(self, command: Sequence[str], service_dir: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            list(command),
            cwd=service_dir,
            env=_service_environment(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._readers = [
            threading.Thread(target=_collect, args=(stream, kept), daemon=True)
            for stream, kept in (
                (self.process.stdout, self.lines),
                (self.process.stderr, self.stderr_lines),
            )
        ]
        for reader in self._readers:
            reader.start()

    def records(self, event: str | None = None) -> list[dict[str, Any]]:
        """The JSON log records so far (every stdout line must be one), optionally one event."""
        records = [json.loads(line) for line in list(self.lines)]
        return [r for r in records if event is None or r["event"] == event]

    def output(self) -> str:
        return "\n".join(self.lines + self.stderr_lines)

    def _join_readers(self) -> None:
        for reader in self._readers:
            reader.join(timeout=5)

    def _wait(self, timeout: float) -> None:
        """Wait for the process to exit, kill it if it has not by then, keep all its lines."""
        try:
            self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._join_readers()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class ServiceProcess(LoggedProcess):
    """`python -m app` in a subprocess on a free port; its stdout lines are kept as they come."""

    def __init__(self, service_dir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            [sys.executable, "-m", "app"], service_dir, {**env, "PORT": str(self.port)}
        )

    def get(self, path: str) -> httpx2.Response:
        return httpx2.get(f"{self.base_url}{path}", timeout=10)

    def wait_until_serving(self, path: str) -> None:
        def serving() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"the service exited:\n{self.output()}")
            try:
                return self.get(path).status_code == 200
            except httpx2.TransportError:
                return False

        wait_for(serving, timeout=START_TIMEOUT_SECONDS, what=f"GET {path} to answer 200")

    def stop(self, stop_signal: signal.Signals = signal.SIGTERM) -> int:
        """SIGTERM, as ECS stops a task (or another signal); return the exit status."""
        self.process.send_signal(stop_signal)
        self.process.wait(timeout=30)
        self._join_readers()
        return self.process.returncode


# ---------------------------------------------------------------- migrations


def _service_environment(env: dict[str, str]) -> dict[str, str]:
    """The given configuration only: nothing from the developer's shell leaks in."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(
            ("DB_", "REDIS_", "PORT", "HEALTH_", "READINESS_", "SERVICE_", "MIGRATION_")
            + ("QUEUE_", "AWS_")
        )
    }
    return {**inherited, **env}


def migrate_command(script_location: Path | None = None) -> list[str]:
    """`python -m app.migrate`, or its `main` with other revisions (a test's copy)."""
    if script_location is None:
        return [sys.executable, "-m", "app.migrate"]
    code = (
        "import sys; from pathlib import Path; from app.migrate import main; "
        "sys.exit(main(script_location=Path(sys.argv[1])))"
    )
    return [sys.executable, "-c", code, str(script_location)]


@dataclass
class MigrateResult:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def records(self, event: str | None = None) -> list[dict[str, Any]]:
        """The JSON log records (every stdout line must be one), optionally of one event."""
        records = [json.loads(line) for line in self.stdout.splitlines()]
        return [r for r in records if event is None or r["event"] == event]

    def events(self) -> list[str]:
        return [record["event"] for record in self.records()]


def run_migrate(
    service_dir: Path, env: dict[str, str], *, script_location: Path | None = None
) -> MigrateResult:
    started = time.monotonic()
    result = subprocess.run(
        migrate_command(script_location),
        cwd=service_dir,
        env=_service_environment(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return MigrateResult(
        result.returncode, result.stdout, result.stderr, time.monotonic() - started
    )


class MigrateProcess(LoggedProcess):
    """`python -m app.migrate` started now, for runs that overlap; `finish()` waits for it."""

    def __init__(
        self, service_dir: Path, env: dict[str, str], *, script_location: Path | None = None
    ) -> None:
        self.started = time.monotonic()
        super().__init__(migrate_command(script_location), service_dir, env)

    def logged(self, event: str) -> bool:
        return any(json.loads(line)["event"] == event for line in list(self.lines))

    def finish(self, timeout: float = 60) -> MigrateResult:
        self._wait(timeout)
        return MigrateResult(
            self.process.returncode,
            "\n".join(self.lines),
            "\n".join(self.stderr_lines),
            time.monotonic() - self.started,
        )


# ---------------------------------------------------------------- the worker and the jobs


class WorkerProcess(LoggedProcess):
    """`python -m app.worker` (or any module given) started now; its stdout lines are kept."""

    def __init__(self, service_dir: Path, env: dict[str, str], module: str = "app.worker") -> None:
        super().__init__([sys.executable, "-m", module], service_dir, env)

    def wait_for_event(self, event: str, count: int = 1, timeout: float = 30) -> None:
        def logged() -> bool:
            if self.process.poll() is not None and len(self.records(event)) < count:
                raise AssertionError(f"exited before logging {event}:\n{self.output()}")
            return len(self.records(event)) >= count

        wait_for(logged, timeout=timeout, what=f"{count} {event} line(s)")

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def finish(self, timeout: float = 60) -> int:
        """Wait for the process to exit; return its status."""
        self._wait(timeout)
        return self.process.returncode
