"""Entry point: `python -m app`. Serves until SIGTERM (ECS stop) or SIGINT."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from app.checks import default_checks
from app.logs import configure_logging, log_event
from app.server import AppServer
from app.settings import Settings, SettingsError

# All interfaces: with awsvpc networking the ALB reaches the task on its ENI address.
BIND_HOST = "0.0.0.0"


def main() -> int:
    configure_logging()
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        # The message names variables, never their values for secrets.
        log_event("startup_failed", logging.ERROR, reason=str(exc))
        return 2

    server = AppServer(
        (BIND_HOST, settings.port),
        service_name=settings.service_name,
        health_check_path=settings.health_check_path,
        checks=default_checks(settings),
    )
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log_event("shutdown_requested", signal=signal.Signals(signum).name)
        stop.set()

    # ECS sends SIGTERM, then SIGKILL after the task's stopTimeout (30 s by default).
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    # serve_forever runs in a worker thread because shutdown() blocks until the
    # loop exits and therefore cannot be called from the serving thread itself.
    serving = threading.Thread(target=server.serve_forever, name="http-server")
    serving.start()
    log_event(
        "started",
        service=settings.service_name,
        port=server.server_port,
        health_check_path=settings.health_check_path,
    )

    stop.wait()
    server.shutdown()  # stop accepting new connections
    server.server_close()  # wait for in-flight requests, close the socket
    serving.join()
    log_event("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
