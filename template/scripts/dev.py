"""The service on this machine, for development: `bash scripts/dev` runs this.

Starts PostgreSQL and Redis from the distribution's binaries, listening on 127.0.0.1 only,
with their data in `.dev/` (git-ignored, kept between runs: the first run creates the cluster,
the `app` user and its database); applies the migrations (`python -m app.migrate`, as in a
release); then serves the service with auto-reload on http://127.0.0.1:$PORT. Ctrl-C stops
all of it.

It runs in the service's own environment (`uv run --project service`), which provides psycopg
and redis. Variables:

    PORT                  the service's port (8080)
    DEV_POSTGRES_PORT     PostgreSQL's port (55432; compose.yaml uses the same)
    DEV_REDIS_PORT        Redis's port (56379; compose.yaml uses the same)
    DEV_POSTGRES_BINDIR   the folder of initdb and postgres, when neither `pg_config --bindir`
                          nor the usual places (Debian's, Homebrew's) have them
    DEV_REDIS_SERVER      the redis-server program, when it is not on PATH
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg
import redis
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
SERVICE = ROOT / "service"
DATA = ROOT / ".dev"
PGDATA = DATA / "postgres"
PASSWORD_FILE = DATA / "password"

DEFAULT_PORT = 8080
DEFAULT_POSTGRES_PORT = 55432
DEFAULT_REDIS_PORT = 56379
# The service's login role and its database, as in AWS (datastore.py's APPLICATION_USER).
APP_USER = "app"
APP_DATABASE = "app"
SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; run as root, this runs it as this user.
POSTGRES_OS_USER = "postgres"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15
INSTALL_HINT = """Install them:
  Debian/Ubuntu:  sudo apt-get install postgresql redis-server
  macOS:          brew install postgresql@17 redis"""


class DevError(Exception):
    """Something this script cannot fix: its message says what to do."""


class StopRequested(Exception):
    """SIGTERM or SIGHUP (the terminal closed): the children were not signalled yet."""


# ---------------------------------------------------------------- the programs


def postgres_bindir() -> Path:
    """Where initdb and postgres are: DEV_POSTGRES_BINDIR alone when set, else `pg_config
    --bindir`, Debian's versioned folders, Homebrew's kegs (not on PATH) and PATH itself."""
    if configured := os.environ.get("DEV_POSTGRES_BINDIR"):
        candidates = [Path(configured)]
    else:
        candidates = []
        if pg_config := shutil.which("pg_config"):
            result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
            candidates.append(Path(result.stdout.strip()))
        for pattern in (
            "usr/lib/postgresql/*/bin",  # Debian, Ubuntu
            "opt/homebrew/opt/postgresql@*/bin",  # Homebrew (Apple silicon), keg-only
            "usr/local/opt/postgresql@*/bin",  # Homebrew (Intel)
        ):
            candidates += sorted(Path("/").glob(pattern), key=_version, reverse=True)
        if initdb := shutil.which("initdb"):
            candidates.append(Path(initdb).parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            return bindir
    raise DevError(
        "PostgreSQL's server programs (initdb, postgres) were not found "
        f"(looked in: {', '.join(map(str, candidates)) or 'nothing on PATH'}).\n"
        f"{INSTALL_HINT}\n"
        "or set DEV_POSTGRES_BINDIR to the folder that has them."
    )


def _version(bindir: Path) -> int:
    """16 for /usr/lib/postgresql/16/bin or .../postgresql@16/bin: the newest first."""
    digits = "".join(c for c in bindir.parent.name.rsplit("@", 1)[-1] if c.isdigit())
    return int(digits or 0)


def redis_server() -> str:
    configured = os.environ.get("DEV_REDIS_SERVER")
    found = shutil.which(configured or "redis-server")
    if found is None:
        where = configured or "redis-server on PATH"
        raise DevError(
            f"Redis's server ({where}) was not found.\n{INSTALL_HINT}\n"
            "or set DEV_REDIS_SERVER to the redis-server program."
        )
    return found


def port_from_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip() or str(default)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise DevError(f"{name} must be a port number, got {raw!r}")
    port = int(raw)
    with socket.socket() as probe:
        # As the servers bind: a port that only has connections closing (TIME_WAIT) is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise DevError(
                f"port {port} on 127.0.0.1 is taken (another scripts/dev, or a server of your "
                f"own?): stop it, or set {name} to a free port"
            ) from None
    return port


# ---------------------------------------------------------------- who runs PostgreSQL


def as_postgres_user() -> dict[str, Any]:
    """Popen arguments that run a program as the postgres user when this runs as root
    (PostgreSQL refuses root), without a wrapper process between it and this script."""
    if os.geteuid() != 0:
        return {}
    try:
        user = pwd.getpwnam(POSTGRES_OS_USER)
    except KeyError:
        raise DevError(
            f"run as root, and PostgreSQL refuses root: there is no {POSTGRES_OS_USER!r} user "
            "to run it as. Run scripts/dev as yourself."
        ) from None
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def give_to_postgres(path: Path, run_as: dict[str, Any]) -> None:
    if run_as:
        os.chown(path, run_as["user"], run_as["group"])


def check_reachable(path: Path, run_as: dict[str, Any]) -> None:
    """As root, the postgres user must be able to reach the data: every folder above it must
    let others through (x), which home folders and private temporary folders do not."""
    if run_as and subprocess.run(["test", "-w", str(path)], **run_as).returncode != 0:
        raise DevError(
            f"PostgreSQL runs as the {POSTGRES_OS_USER} user (it refuses root), and that user "
            f"cannot reach {path}: let it through the folders above (chmod o+x on each), "
            "or run scripts/dev as yourself."
        )


# ---------------------------------------------------------------- the children


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    # What stops it cleanly: PostgreSQL's fast shutdown, Redis's and uvicorn's shutdown.
    stop_signal: signal.Signals
    log: Path | None = None

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, *, grace: float) -> None:
        """Wait `grace` seconds for it to stop by itself (Ctrl-C reached it too: a second
        signal would make Redis quit without its final write), then signal it, then kill it."""
        for action in (None, self.stop_signal, signal.SIGKILL):
            if not self.running():
                return
            if action is not None:
                self.process.send_signal(action)
            try:
                self.process.wait(timeout=grace if action is None else STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                continue

    def log_tail(self) -> str:
        if self.log is None or not self.log.exists():
            return ""
        lines = self.log.read_text(errors="replace").splitlines()[-15:]
        return f"\nLast lines of {self.log.relative_to(ROOT)}:\n" + "\n".join(lines)


class Children:
    """What this run started, stopped in reverse order."""

    def __init__(self) -> None:
        self.started: list[Child] = []

    def start(
        self,
        name: str,
        command: list[str],
        *,
        stop_signal: signal.Signals,
        log: Path | None = None,
        **popen: Any,
    ) -> Child:
        output: IO[bytes] | None = None
        if log is not None:
            log.touch(mode=0o600)
            output = log.open("ab")
        try:
            process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT if output else None, **popen
            )
        finally:
            if output is not None:
                output.close()  # the child has its own descriptor
        child = Child(name, process, stop_signal, log)
        self.started.append(child)
        return child

    def stop(self, *, grace: float) -> list[str]:
        for child in reversed(self.started):
            child.stop(grace=grace)
        return [child.name for child in reversed(self.started)]

    def check(self) -> None:
        for child in self.started:
            if not child.running():
                # Ctrl-C reaches the children and this process at nearly the same time (here
                # through `uv run`, which forwards it): let it arrive, as KeyboardInterrupt,
                # before calling a child that stopped on it a failure.
                time.sleep(1.0)
                raise DevError(
                    f"{child.name} exited (status {child.process.returncode}).{child.log_tail()}"
                )


def wait_until(ready: Callable[[], bool], child: Child, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not ready():
        if not child.running():
            raise DevError(f"{child.name} exited while starting.{child.log_tail()}")
        if time.monotonic() > deadline:
            raise DevError(f"{what} did not happen in {START_TIMEOUT_SECONDS} s.{child.log_tail()}")
        time.sleep(0.1)


# ---------------------------------------------------------------- PostgreSQL


def dev_password() -> str:
    """One random password for this checkout's servers, made on the first run (file 0600):
    other users of the machine cannot log in to them, even on 127.0.0.1."""
    if not PASSWORD_FILE.exists():
        PASSWORD_FILE.touch(mode=0o600)
        PASSWORD_FILE.write_text(secrets.token_urlsafe(24))
    return PASSWORD_FILE.read_text().strip()


def create_cluster(bindir: Path, password: str, run_as: dict[str, Any]) -> None:
    print("scripts/dev: first run: creating the PostgreSQL cluster in .dev/postgres")
    PGDATA.mkdir(mode=0o700)
    give_to_postgres(PGDATA, run_as)
    check_reachable(PGDATA, run_as)
    pwfile = DATA / "initdb-password"
    pwfile.touch(mode=0o600)
    pwfile.write_text(password)
    give_to_postgres(pwfile, run_as)
    try:
        result = subprocess.run(
            [
                str(bindir / "initdb"),
                *("--pgdata", str(PGDATA), "--username", SUPERUSER),
                *("--pwfile", str(pwfile), "--auth", "scram-sha-256"),
                *("--encoding", "UTF8", "--no-locale"),
            ],
            capture_output=True,
            text=True,
            **run_as,
        )
    finally:
        pwfile.unlink()
    if result.returncode != 0:
        shutil.rmtree(PGDATA, ignore_errors=True)  # the next run starts over
        raise DevError(f"initdb failed:\n{result.stdout}{result.stderr}")
    with (PGDATA / "postgresql.conf").open("a") as conf:
        # TCP on the loopback only; no Unix socket (its default folder may not be writable).
        conf.write(
            "\n# scripts/dev\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
        )


def start_postgres(children: Children, port: int, password: str) -> None:
    bindir = postgres_bindir()
    run_as = as_postgres_user()
    if not (PGDATA / "PG_VERSION").exists():
        create_cluster(bindir, password, run_as)
    check_reachable(PGDATA, run_as)
    postgres = children.start(
        "PostgreSQL",
        [str(bindir / "postgres"), "-D", str(PGDATA), "-p", str(port)],
        stop_signal=signal.SIGINT,  # fast shutdown: ends sessions, then a clean checkpoint
        log=DATA / "postgres.log",
        **run_as,
    )

    def accepts() -> bool:
        try:
            superuser_connection(port, password).close()
        except psycopg.OperationalError:
            return False
        return True

    wait_until(accepts, postgres, "PostgreSQL accepting connections")
    with superuser_connection(port, password) as conn:
        ensure_app_user(conn, password)


def superuser_connection(port: int, password: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host="127.0.0.1",
        port=port,
        user=SUPERUSER,
        password=password,
        dbname="postgres",
        sslmode="disable",
        connect_timeout=2,
        autocommit=True,
    )


def ensure_app_user(conn: psycopg.Connection[Any], password: str) -> None:
    """The service's login role and its database (which it owns, so migrations can create
    tables), made on the first run; the password follows .dev/password on every run."""
    role = sql.Identifier(APP_USER)
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_USER,)).fetchone()
    verb = sql.SQL("ALTER" if exists else "CREATE")
    conn.execute(sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(verb, role, sql.Literal(password)))
    query = "SELECT 1 FROM pg_database WHERE datname = %s"
    if conn.execute(query, (APP_DATABASE,)).fetchone() is None:
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(APP_DATABASE), role)
        )


# ---------------------------------------------------------------- Redis


def start_redis(children: Children, port: int, password: str) -> None:
    binary = redis_server()
    directory = DATA / "redis"
    directory.mkdir(mode=0o700, exist_ok=True)
    config = directory / "redis.conf"
    config.touch(mode=0o600)  # it holds the password
    config.write_text(
        "bind 127.0.0.1\n"
        f"port {port}\n"
        f"dir {quoted(str(directory))}\n"
        f"requirepass {quoted(password)}\n"
        # Every write is appended to a file (fsync each second): the counters survive a
        # stop of any kind, not only a clean one.
        "appendonly yes\n"
        'save ""\n'
        "daemonize no\n"
    )
    server = children.start(
        "Redis",
        [binary, str(config)],
        stop_signal=signal.SIGTERM,
        log=DATA / "redis.log",
    )
    client = redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=2)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_until(answers, server, "Redis answering PING")
    finally:
        client.close()


def quoted(value: str) -> str:
    """A value for redis.conf, which splits on spaces unless quoted."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------- the service


def service_environment(
    port: int, postgres_port: int, redis_port: int, password: str
) -> dict[str, str]:
    return {
        **os.environ,
        "PORT": str(port),
        "DB_HOST": "127.0.0.1",
        "DB_PORT": str(postgres_port),
        "DB_NAME": APP_DATABASE,
        "DB_USERNAME": APP_USER,
        "DB_PASSWORD": password,
        "DB_SSLMODE": "disable",  # loopback only
        # As in AWS: the migrations run as the role that owns the schema.
        "DB_SCHEMA_OWNER": APP_USER,
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_port),
        "REDIS_AUTH_TOKEN": password,
        "REDIS_TLS": "false",
    }


def migrate(env: dict[str, str]) -> None:
    print("scripts/dev: applying the migrations (python -m app.migrate)", flush=True)
    # In a session of its own, so that Ctrl-C from the terminal reaches this script and not
    # the migration, which would print a traceback from wherever it was (importing Alembic,
    # or running a revision).
    process = subprocess.Popen(
        [sys.executable, "-m", "app.migrate"], cwd=SERVICE, env=env, start_new_session=True
    )
    try:
        status = process.wait()
    except BaseException:
        # Stopped on SIGTERM, it exits quietly; PostgreSQL rolls back the revision it was
        # running (each has its own transaction), and the ones before it stay applied.
        process.terminate()
        process.wait()
        raise
    if status != 0:
        raise DevError(f"the migrations failed (exit {status}, log lines above)")


def start_service(children: Children, env: dict[str, str]) -> None:
    port = env["PORT"]
    server = children.start(
        "the service",
        [
            *(sys.executable, "-m", "uvicorn", "app.__main__:server_process_app", "--factory"),
            # Restarts the server process when a file of service/app changes (only there:
            # the virtualenv beside it holds thousands of files to watch).
            *("--reload", "--reload-dir", "app"),
            *("--host", "127.0.0.1", "--port", port),
            "--no-access-log",  # the service writes its own, as JSON
        ],
        stop_signal=signal.SIGTERM,
        cwd=SERVICE,
        env=env,
    )
    health = f"http://127.0.0.1:{port}{os.environ.get('HEALTH_CHECK_PATH', '/health')}"

    def serving() -> bool:
        try:
            with urllib.request.urlopen(health, timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    wait_until(serving, server, f"GET {health} answering 200")


# ---------------------------------------------------------------- main


def serve(children: Children) -> None:
    port = port_from_env("PORT", DEFAULT_PORT)
    postgres_port = port_from_env("DEV_POSTGRES_PORT", DEFAULT_POSTGRES_PORT)
    redis_port = port_from_env("DEV_REDIS_PORT", DEFAULT_REDIS_PORT)
    postgres_bindir()  # both programs first: say what is missing before starting anything
    redis_server()
    DATA.mkdir(mode=0o700, exist_ok=True)
    if os.geteuid() == 0:
        DATA.chmod(0o711)  # the postgres user passes through to .dev/postgres
    password = dev_password()

    start_postgres(children, postgres_port, password)
    start_redis(children, redis_port, password)
    env = service_environment(port, postgres_port, redis_port, password)
    migrate(env)
    start_service(children, env)
    print(
        f"scripts/dev: serving http://127.0.0.1:{port}/ (reloads on changes in service/app/)\n"
        f"  PostgreSQL  127.0.0.1:{postgres_port}, database {APP_DATABASE}, user {APP_USER}\n"
        f"  Redis       127.0.0.1:{redis_port}\n"
        "  password    .dev/password (both); data and logs in .dev/\n"
        "  Ctrl-C stops everything. A new migration: Ctrl-C, then run scripts/dev again.",
        flush=True,
    )
    while True:
        children.check()
        time.sleep(0.5)


def request_stop(_signum: int, _frame: object) -> None:
    raise StopRequested


def main() -> int:
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGHUP, request_stop)
    children = Children()
    status = 0
    grace = 0.0
    try:
        serve(children)
    except KeyboardInterrupt:
        # Ctrl-C reached every process of the terminal's foreground group, the children too.
        grace = 5.0
    except StopRequested:
        pass
    except DevError as error:
        print(f"scripts/dev: {error}", file=sys.stderr)
        status = 1
    finally:
        # A second Ctrl-C must not interrupt the stopping itself.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stopped = children.stop(grace=grace)
    if stopped:
        print(f"\nscripts/dev: stopped {', '.join(stopped)}; the data stays in .dev/")
    return status


if __name__ == "__main__":
    sys.exit(main())
