"""Entry point: `python -m app` serves with uvicorn until SIGTERM (ECS stop) or SIGINT.

On SIGTERM uvicorn stops accepting connections, finishes in-flight requests (at most
GRACEFUL_SHUTDOWN_SECONDS), runs the lifespan's shutdown (monitor stopped, pools closed),
then re-raises the signal, so the process ends with the status of SIGTERM (143). Ctrl-C
(SIGINT) stops it the same way and exits with 130, the shell's status for it, without the
traceback Python would print for the re-raised interrupt.

With WEB_CONCURRENCY above 1 (a task of several vCPU), this process binds the port and
supervises that many server processes: each has its own pools and monitor, and SIGTERM
reaches each, which stops as above; then this process exits with 0. A server process that
cannot start stops them all (exit 3), as the single process does.
"""

from __future__ import annotations

import logging
import sys

import uvicorn
from starlette.applications import Starlette
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from app.logs import configure_logging, log_event
from app.server import create_app
from app.settings import Settings, SettingsError

# All interfaces: with awsvpc networking the ALB reaches the task on its ENI address.
BIND_HOST = "0.0.0.0"
# ECS sends SIGKILL 30 s after SIGTERM (the container's default stopTimeout).
GRACEFUL_SHUTDOWN_SECONDS = 20
# Longer than the ALB's idle timeout (60 s): the ALB, not the service, closes idle
# keep-alive connections, so it never sends a request on one the service just closed (502).
KEEP_ALIVE_SECONDS = 65
EXIT_CONFIGURATION_ERROR = 2
EXIT_STARTUP_FAILED = 3
EXIT_INTERRUPTED = 128 + 2  # SIGINT's number, as a shell reports a process Ctrl-C stopped


def main() -> int:
    configure_logging()
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        # The message names variables, never their values for secrets.
        log_event("startup_failed", logging.ERROR, reason=str(exc))
        return EXIT_CONFIGURATION_ERROR
    configure_logging(secrets=settings.secrets)
    if settings.workers > 1:
        return _supervise(settings)

    server = uvicorn.Server(_config(create_app(settings), settings))
    try:
        server.run()
    except KeyboardInterrupt:
        # uvicorn re-raises the SIGINT it stopped on, after its graceful shutdown.
        return EXIT_INTERRUPTED
    return 0 if server.started else EXIT_STARTUP_FAILED


def server_process_app() -> Starlette:
    """The application of one supervised server process, which starts with a fresh
    interpreter: it reads the same environment, already checked by the supervisor."""
    configure_logging()
    settings = Settings.from_env()
    configure_logging(secrets=settings.secrets)
    return create_app(settings)


def _supervise(settings: Settings) -> int:
    config = _config("app.__main__:server_process_app", settings, factory=True)
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    failed = any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes)
    return EXIT_STARTUP_FAILED if failed else 0


def _config(app: Starlette | str, settings: Settings, *, factory: bool = False) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        factory=factory,
        workers=settings.workers,
        host=BIND_HOST,
        port=settings.port,
        lifespan="on",  # a failing startup stops the process instead of serving
        log_config=None,  # uvicorn's own records go through the JSON handler
        access_log=False,  # AccessLogMiddleware writes the access log as JSON
        proxy_headers=False,  # the access log reads X-Forwarded-For itself
        server_header=False,  # do not advertise the server software
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


if __name__ == "__main__":
    sys.exit(main())
