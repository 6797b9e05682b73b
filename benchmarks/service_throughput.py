"""Throughput and latency of the sample service's `GET /` against the floor of its stack.

Not a test (nothing here fails on a slow machine). Starts a local PostgreSQL and Redis (TLS
and AUTH, as in the integration tests), runs the migrations, then serves two apps side by side
with the same settings:
- the sample (`python -m app`: its access log, middleware, error handlers, monitor);
- the floor (`service_floor.py`): Starlette on uvicorn making the same two calls (Redis `INCR`,
  the PostgreSQL upsert of today's visits returning `now()`) through the same pools, and
  nothing else.
Both run one server process (the sample's default `WEB_CONCURRENCY`), on the same machine, and
are loaded in turn (sample, floor, sample, ...) so that a busy moment of a shared machine hits
both alike. Goals (issue 18): at least 0.8x the floor's requests per second, a p99 latency
within 1.5x the floor's, as the median of the pairs of runs (each sample run with the floor's
next). Also printed: the server's CPU time per request, the measure least disturbed by the
machine's other jobs.

    uv run --project template/service python benchmarks/service_throughput.py [--repeat 7]

With `wrk` installed (Debian: apt-get install wrk) each run lasts a fixed time and wrk reports
the percentiles; without it, a bounded asyncio client sends a fixed number of requests and
times each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2

BENCHMARKS = Path(__file__).resolve().parent
SERVICE = BENCHMARKS.parent / "template" / "service"
CONCURRENCY = 16
WARM_UP_SECONDS = 3
# wrk's latency units, in milliseconds.
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}

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


@dataclass(frozen=True)
class Run:
    rate: float  # requests per second
    p50_ms: float
    p99_ms: float
    requests: int
    failures: int  # answers other than 200, and socket errors


@dataclass(frozen=True)
class Server:
    url: str
    pid: int


@contextmanager
def running(command: list[str], env: dict[str, str], log: Path) -> Iterator[Server]:
    """`command` from the service's directory on a free port, until the block ends."""
    port = free_port()
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            cwd=SERVICE,
            env={**os.environ, **env, "PORT": str(port)},
            stdout=output,  # the sample's access log: to a file, as a log driver reads a pipe
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"

    def serving() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{command} exited:\n{log.read_text()}")
        try:
            return httpx2.get(url, timeout=5).status_code == 200
        except httpx2.TransportError:
            return False

    try:
        wait_for(serving, timeout=30, what=f"{command} to serve")
        yield Server(url, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) a process has used so far, from Linux's /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # utime and stime: fields 14 and 15 of stat(5), counted from the state (field 3).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def with_wrk(url: str, seconds: float) -> Run:
    """One wrk run (one thread: the other core serves)."""
    result = subprocess.run(
        ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    )

    def number(pattern: str) -> str:
        found = re.search(pattern, result.stdout, re.MULTILINE)
        assert found, result.stdout
        return found.group(1)

    def latency_ms(percentile: int) -> float:
        found = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)$", result.stdout, re.MULTILINE)
        assert found, result.stdout
        return float(found.group(1)) * UNITS[found.group(2)]

    # wrk prints these two lines only when there were any.
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", result.stdout)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", result.stdout
    )
    failures = int(non_2xx.group(1)) if non_2xx else 0
    failures += sum(int(count) for count in errors.groups()) if errors else 0
    return Run(
        rate=float(number(r"Requests/sec:\s+([\d.]+)")),
        p50_ms=latency_ms(50),
        p99_ms=latency_ms(99),
        requests=int(number(r"^\s+(\d+) requests in")),
        failures=failures,
    )


def with_client(url: str, requests: int) -> Run:
    """A bounded asyncio client: CONCURRENCY requests at a time, each timed."""

    async def drive() -> Run:
        queue = iter(range(requests))
        durations_ms: list[float] = []
        failures = 0
        async with httpx2.AsyncClient(timeout=30) as client:

            async def worker() -> None:
                nonlocal failures
                for _ in queue:
                    started = time.perf_counter()
                    status = (await client.get(url)).status_code
                    durations_ms.append((time.perf_counter() - started) * 1000)
                    failures += status != 200

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            elapsed = time.perf_counter() - started
        cuts = statistics.quantiles(durations_ms, n=100)
        return Run(requests / elapsed, cuts[49], cuts[98], requests, failures)

    return asyncio.run(drive())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs of each app, interleaved")
    parser.add_argument("--seconds", type=int, default=10, help="per run, with wrk")
    parser.add_argument("--requests", type=int, default=3000, help="per run, without wrk")
    arguments = parser.parse_args()
    wrk = shutil.which("wrk") is not None

    def measure(url: str, seconds: int, requests: int) -> Run:
        return with_wrk(url, seconds) if wrk else with_client(url, requests)

    runs: dict[str, list[Run]] = {"sample": [], "floor": []}
    cpu_us: dict[str, list[float]] = {name: [] for name in runs}  # per request
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        certificates = make_certificates(root)
        with start_postgres(certificates) as postgres, start_redis(root, certificates) as redis:
            env = {
                "DB_HOST": "127.0.0.1",
                "DB_PORT": str(postgres.port),
                "DB_NAME": postgres.database,
                "DB_USERNAME": postgres.user,
                "DB_PASSWORD": postgres.password,
                "REDIS_HOST": "127.0.0.1",
                "REDIS_PORT": str(redis.tls_port),
                "REDIS_AUTH_TOKEN": redis.password,
                "REDIS_TLS": "true",
                "REDIS_CA_FILE": str(certificates.ca_file),
                # The sample's default, said out loud: one server process for each app.
                "WEB_CONCURRENCY": "1",
            }
            # `GET /` counts visits in a table the migrations create.
            migrated = run_migrate(SERVICE, env)
            if migrated.returncode != 0:
                raise SystemExit(f"python -m app.migrate failed:\n{migrated.stdout}")
            sample_command = [sys.executable, "-m", "app"]
            floor_command = [sys.executable, str(BENCHMARKS / "service_floor.py")]
            with (
                running(sample_command, env, root / "sample.log") as sample_server,
                running(floor_command, env, root / "floor.log") as floor_server,
            ):
                servers = {"sample": sample_server, "floor": floor_server}
                for server in servers.values():
                    # Pools filled, code paths warm, before anything counts.
                    measure(server.url, WARM_UP_SECONDS, arguments.requests // 5)
                load_before = os.getloadavg()[0]
                for _ in range(arguments.repeat):
                    for name, server in servers.items():
                        cpu_before = cpu_seconds(server.pid)
                        run = measure(server.url, arguments.seconds, arguments.requests)
                        cpu_us[name].append(
                            (cpu_seconds(server.pid) - cpu_before) / run.requests * 1e6
                        )
                        runs[name].append(run)
                load_after = os.getloadavg()[0]

    tool = f"wrk, 1 thread, {arguments.seconds} s per run"
    if not wrk:
        tool = f"asyncio client, {arguments.requests} requests per run"
    print(f"GET /, {tool}, {CONCURRENCY} connections; one server process each")
    print(
        f"{arguments.repeat} interleaved runs each; {os.cpu_count()} cores, load average"
        f" (1 min) {load_before:.1f} before, {load_after:.1f} after"
    )
    for name, app_runs in runs.items():
        print(
            f"{name:6} "
            + ", ".join(
                f"{run.rate:.0f}/s p99 {run.p99_ms:.0f} ms {cpu:.0f} us"
                for run, cpu in zip(app_runs, cpu_us[name], strict=True)
            )
        )
    # CPU: the server process's own time (user and system) per request, which other jobs on
    # the machine disturb least.
    print(
        f"{'':6} {'best req/s':>10} {'median':>7} {'p50 ms':>7} {'p99 ms':>7} {'best p99':>8}"
        f" {'CPU us/req':>10} {'non-200':>7}"
    )
    for name, app_runs in runs.items():
        print(
            f"{name:6} {max(run.rate for run in app_runs):10.0f}"
            f" {statistics.median(run.rate for run in app_runs):7.0f}"
            f" {statistics.median(run.p50_ms for run in app_runs):7.1f}"
            f" {statistics.median(run.p99_ms for run in app_runs):7.1f}"
            f" {min(run.p99_ms for run in app_runs):8.1f}"
            f" {statistics.median(cpu_us[name]):10.0f}"
            f" {sum(run.failures for run in app_runs):7}"
        )
    # The ratios pair each run of the sample with the floor's run right after it, so that the
    # load of the moment cancels out, and take the median pair. Best of each (the highest rate,
    # the lowest p99) compares the quietest moments, which on a shared machine are luck.
    pairs = list(zip(runs["sample"], runs["floor"], strict=True))
    throughput = statistics.median(sample.rate / floor.rate for sample, floor in pairs)
    p99 = statistics.median(sample.p99_ms / floor.p99_ms for sample, floor in pairs)
    cpu = statistics.median(s / f for s, f in zip(cpu_us["sample"], cpu_us["floor"], strict=True))
    best_throughput = max(run.rate for run in runs["sample"]) / max(
        run.rate for run in runs["floor"]
    )
    best_p99 = min(run.p99_ms for run in runs["sample"]) / min(run.p99_ms for run in runs["floor"])
    print(f"sample / floor, median of the {len(pairs)} pairs (best of each):")
    print(f"  throughput {throughput:.2f} x ({best_throughput:.2f} x)  goal: at least 0.8")
    print(f"  p99        {p99:.2f} x ({best_p99:.2f} x)  goal: at most 1.5")
    print(f"  CPU per request {cpu:.2f} x")


if __name__ == "__main__":
    main()
