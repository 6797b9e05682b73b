"""Throughput of the sample service against the stdlib server it replaced.

Not a test (nothing here fails on a slow machine). Starts a local PostgreSQL and Redis
(TLS and AUTH, as in the integration tests), then the new service (Starlette on uvicorn,
pooled stores) and the old one (`ThreadingHTTPServer`, extracted from git history at run
time into a temporary directory), and drives each path with a fixed load:

    uv run --project template/service python benchmarks/service_throughput.py

The two servers do different work per path, which is the point of the comparison:
- liveness: the old `/health` opened a TLS connection to PostgreSQL and to Redis on every
  request; the new one touches neither (readiness does, through the pools).
- `/`: the old one answered a constant; the new one increments a Redis counter and upserts
  today's row of visits in PostgreSQL (returning `now()` too) through the pools.

With `wrk` installed (Debian: apt-get install wrk) each run lasts a fixed time; without
it, a bounded asyncio client sends a fixed number of requests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2

REPOSITORY = Path(__file__).resolve().parent.parent
SERVICE = REPOSITORY / "template" / "service"
# The last commit with the stdlib server.
OLD_SERVER_COMMIT = "002b5a6"
CONCURRENCY = 16

# The service's test helpers (and its dev dependencies: `uv run --project template/service`).
sys.path.insert(0, str(SERVICE / "tests"))
from servers import (
    free_port,
    make_certificates,
    run_migrate,
    start_postgres,
    start_redis,
    wait_for,
)


def extract_old_server(destination: Path) -> Path:
    """Write the old `app/` package from git history; return the directory to run it from."""
    listing = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{OLD_SERVER_COMMIT}:template/service/app/"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    )
    app = destination / "app"
    app.mkdir(parents=True)
    for name in listing.stdout.split():
        source = subprocess.run(
            ["git", "show", f"{OLD_SERVER_COMMIT}:template/service/app/{name}"],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            check=True,
        )
        (app / name).write_text(source.stdout)
    return destination


@contextmanager
def running(directory: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    """`python -m app` from `directory` on a free port; yields its base URL."""
    port = free_port()
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app"],
            cwd=directory,
            env={**os.environ, **env, "PORT": str(port)},
            stdout=output,  # one access log line per request: to a file, not a pipe
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"

    def serving() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{directory} exited:\n{log.read_text()}")
        try:
            return httpx2.get(f"{base_url}/", timeout=5).status_code == 200
        except httpx2.TransportError:
            return False

    try:
        wait_for(serving, timeout=30, what=f"{directory} to serve")
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


def with_wrk(url: str, seconds: int) -> tuple[float, int]:
    """Requests per second and non-2xx answers, from wrk (one thread: the other core serves)."""
    result = subprocess.run(
        ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{seconds}s", url],
        capture_output=True,
        text=True,
        check=True,
    )
    rate = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", result.stdout)
    assert rate, result.stdout
    return float(rate.group(1)), int(errors.group(1)) if errors else 0


def with_client(url: str, requests: int) -> tuple[float, int]:
    """Requests per second and non-2xx answers, from a bounded asyncio client."""

    async def drive() -> tuple[float, int]:
        queue = iter(range(requests))
        failures = 0
        async with httpx2.AsyncClient(timeout=30) as client:

            async def worker() -> None:
                nonlocal failures
                for _ in queue:
                    if (await client.get(url)).status_code != 200:
                        failures += 1

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            return requests / (time.perf_counter() - started), failures

    return asyncio.run(drive())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per run, with wrk")
    parser.add_argument("--requests", type=int, default=3000, help="per run, without wrk")
    arguments = parser.parse_args()
    wrk = shutil.which("wrk") is not None

    def measure(url: str) -> tuple[float, int]:
        return with_wrk(url, arguments.seconds) if wrk else with_client(url, arguments.requests)

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        certificates = make_certificates(root)
        old_server = extract_old_server(root / "old")
        with start_postgres(certificates) as postgres, start_redis(root, certificates) as redis:
            stores = {
                "DB_HOST": "127.0.0.1",
                "DB_PORT": str(postgres.port),
                "DB_NAME": postgres.database,
                "DB_USERNAME": postgres.user,
                "DB_PASSWORD": postgres.password,
                "REDIS_HOST": "127.0.0.1",
                "REDIS_PORT": str(redis.tls_port),
                "REDIS_AUTH_TOKEN": redis.password,
                "REDIS_TLS": "true",
            }
            # The new service's `GET /` counts visits in a table its migrations create.
            migrated = run_migrate(SERVICE, stores)
            if migrated.returncode != 0:
                raise SystemExit(f"python -m app.migrate failed:\n{migrated.stdout}")
            servers = {
                "new (Starlette/uvicorn, pools)": (
                    SERVICE,
                    stores | {"REDIS_CA_FILE": str(certificates.ca_file)},
                ),
                # The old server had no CA setting: it trusts what the default context trusts.
                "old (ThreadingHTTPServer)": (
                    old_server,
                    stores | {"SSL_CERT_FILE": str(certificates.ca_file)},
                ),
            }
            load = f"wrk, 1 thread, {CONCURRENCY} connections, {arguments.seconds} s per run"
            if not wrk:
                load = f"asyncio client, {CONCURRENCY} at a time, {arguments.requests} requests"
            print(f"load: {load}; machine: {os.cpu_count()} cores")
            for name, (directory, env) in servers.items():
                with running(directory, env, root / f"{directory.name}.log") as base_url:
                    for path in ("/health", "/"):
                        rate, failures = measure(f"{base_url}{path}")
                        print(f"{name:32} GET {path:8} {rate:9.0f} req/s  non-2xx {failures}")


if __name__ == "__main__":
    main()
