"""HTTP layer: a stdlib ThreadingHTTPServer with JSON responses and access logs."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from app.checks import NamedCheck
from app.logs import log_event


class AppServer(ThreadingHTTPServer):
    """Server that carries the app's configuration for its request handlers."""

    # Non-daemon request threads + block_on_close: server_close() waits for
    # in-flight requests, which is what makes SIGTERM shutdown graceful.
    daemon_threads = False
    block_on_close = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        service_name: str,
        health_check_path: str,
        checks: Sequence[NamedCheck],
    ) -> None:
        self.service_name = service_name
        self.health_check_path = health_check_path
        self.checks = tuple(checks)
        super().__init__(address, RequestHandler)


class RequestHandler(BaseHTTPRequestHandler):
    server: AppServer
    server_version = "sample-service"
    sys_version = ""  # do not advertise the Python version
    # Idle socket timeout, so a silent client cannot hold up shutdown for long.
    timeout = 30

    _started: float | None = None

    def do_GET(self) -> None:
        self._started = time.monotonic()
        path = urlsplit(self.path).path
        if path == self.server.health_check_path:
            self._health()
        elif path == "/":
            self._send_json(
                HTTPStatus.OK, {"service": self.server.service_name, "message": "hello"}
            )
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def _health(self) -> None:
        results: dict[str, str] = {}
        for name, check in self.server.checks:
            try:
                check()
            except Exception as exc:
                # Class name only: driver messages can contain hosts, users or worse.
                results[name] = f"error: {type(exc).__name__}"
                log_event(
                    "health_check_failed",
                    logging.WARNING,
                    check=name,
                    error=type(exc).__name__,
                )
            else:
                results[name] = "ok"
        healthy = all(value == "ok" for value in results.values())
        self._send_json(
            HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE,
            {"status": "ok" if healthy else "error", "checks": results},
        )

    def _send_json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Access log: one JSON line per request (called by send_response)."""
        fields: dict[str, Any] = {
            "method": self.command,
            # Path without the query string, which could carry tokens.
            "path": urlsplit(self.path).path if self.path else None,
            "status": int(code) if str(code).isdigit() else code,
            "client": self._client_ip(),
            "user_agent": self.headers.get("User-Agent") if self.headers else None,
        }
        if self._started is not None:
            fields["duration_ms"] = round((time.monotonic() - self._started) * 1000, 1)
        log_event("access", **fields)

    def log_message(self, format: str, *args: Any) -> None:
        # Route the stdlib's remaining messages (e.g. malformed requests) to JSON.
        log_event("http_error", logging.WARNING, message=format % args, client=self._client_ip())

    def _client_ip(self) -> str:
        # Behind the ALB the peer is the load balancer; the caller is in X-Forwarded-For.
        forwarded = self.headers.get("X-Forwarded-For") if getattr(self, "headers", None) else None
        if forwarded:
            return forwarded.split(",")[0].strip()
        return str(self.client_address[0])
