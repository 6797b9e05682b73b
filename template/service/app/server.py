"""The ASGI application: routes, lifespan (pools and monitor) and the access log.

This is the file a service team grows: add routes below and use `request.state.stores`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.health import DependencyMonitor, dependency_checks, run_checks
from app.logs import log_event, request_id
from app.settings import Settings
from app.stores import Stores, open_stores

OpenStores = Callable[[Settings], contextlib.AbstractAsyncContextManager[Stores]]


def json_response(body: dict[str, Any], status_code: int = 200) -> JSONResponse:
    # Every answer is computed per request: no proxy or browser may serve it from a cache.
    return JSONResponse(body, status_code=status_code, headers={"Cache-Control": "no-store"})


def create_app(settings: Settings, *, open_stores: OpenStores = open_stores) -> Starlette:
    """Build the app; `open_stores` is replaced by fakes in unit tests."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with open_stores(settings) as stores:
            monitor = DependencyMonitor(
                dependency_checks(stores),
                interval_seconds=settings.dependency_check_interval_seconds,
            )
            monitoring = asyncio.create_task(monitor.run(), name="dependency-monitor")
            log_event(
                "started",
                service=settings.service_name,
                port=settings.port,
                health_check_path=settings.health_check_path,
                readiness_path=settings.readiness_path,
            )
            try:
                yield {"stores": stores}  # becomes request.state.stores
            finally:
                monitoring.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await monitoring
        # Reached after uvicorn finished the in-flight requests and the pools closed.
        log_event("stopped")

    async def liveness(_request: Request) -> Response:
        # Touches neither store: the load balancer must not replace healthy tasks because
        # a shared dependency is down (every task would fail at once). See README.
        return json_response({"status": "ok"})

    async def readiness(request: Request) -> Response:
        # Only as written: the load balancer refuses the readiness path, and a percent-encoded
        # spelling of it (/%72eady, which the server decodes) must not get around that.
        if request.scope.get("raw_path") not in (None, settings.readiness_path.encode()):
            return json_response({"error": "not found"}, 404)
        errors = await run_checks(dependency_checks(request.state.stores))
        checks = {
            name: "ok" if error is None else f"error: {error}" for name, error in errors.items()
        }
        ready = all(error is None for error in errors.values())
        return json_response(
            {"status": "ok" if ready else "error", "checks": checks},
            status_code=200 if ready else 503,
        )

    async def root(request: Request) -> Response:
        stores: Stores = request.state.stores
        try:
            visits = await stores.cache.increment(f"{settings.service_name}:visits")
        except Exception as exc:  # any failure of the store: answer 503, log the class
            return dependency_unavailable("redis", exc)
        try:
            # Also fails (UndefinedTable) until the migrations ran: 503 naming postgres.
            visit = await stores.database.record_visit()
        except Exception as exc:
            return dependency_unavailable("postgres", exc)
        return json_response(
            {
                "service": settings.service_name,
                "visits": visits,
                "visits_today": visit.today,
                "database_time": visit.database_time.isoformat(),
            }
        )

    return Starlette(
        routes=[
            Route("/", root, methods=["GET"]),
            Route(settings.health_check_path, liveness, methods=["GET"]),
            Route(settings.readiness_path, readiness, methods=["GET"]),
        ],
        middleware=[Middleware(AccessLogMiddleware)],
        exception_handlers={HTTPException: http_error, 500: server_error},
        lifespan=lifespan,
    )


def dependency_unavailable(dependency: str, exc: Exception) -> Response:
    log_event(
        "request_dependency_failed",
        logging.WARNING,
        dependency=dependency,
        error=type(exc).__name__,
    )
    return json_response({"error": "dependency unavailable", "dependency": dependency}, 503)


async def http_error(_request: Request, exc: Exception) -> Response:
    """404, 405 and other HTTP errors as JSON, like every other answer."""
    assert isinstance(exc, HTTPException)
    response = json_response({"error": exc.detail.lower()}, exc.status_code)
    response.headers.update(exc.headers or {})
    return response


async def server_error(_request: Request, exc: Exception) -> Response:
    log_event("request_failed", logging.ERROR, error=type(exc).__name__, where=raised_at(exc))
    return json_response({"error": "internal error"}, 500)


def raised_at(exc: BaseException) -> str | None:
    """Where a bug raised: 'server.py:87:root', the innermost frame's file, line and function.
    Never the message or the values of locals, which can quote data or connection details."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return None
    innermost = frames[-1]
    return f"{Path(innermost.filename).name}:{innermost.lineno}:{innermost.name}"


# The longest request id taken from a header; a longer one is cut.
MAX_REQUEST_ID_LENGTH = 128


class AccessLogMiddleware:
    """One `"event": "access"` line per HTTP request, written when the response is done, and
    one id per request on every line logged while serving it and in the `X-Request-Id`
    response header: the load balancer's `X-Amzn-Trace-Id`, which its own access logs record
    as `trace_id`, or a new one where no load balancer set it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500  # if the app fails before it starts a response
        headers = Headers(scope=scope)
        if headers.get("x-forwarded-proto") == "https":
            # Behind the HTTPS listener (the load balancer sets the header): URLs the app
            # builds, such as Starlette's redirect to a path without its trailing slash,
            # must say https, or the browser leaves TLS.
            scope = {**scope, "scheme": "https"}
        this_request = (
            headers.get("x-amzn-trace-id", "")[:MAX_REQUEST_ID_LENGTH] or uuid.uuid4().hex
        )
        # Never reset: the 500 handler runs after this middleware, in the request's own task
        # (a context of its own, discarded with it).
        request_id.set(this_request)

        async def send_and_record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (b"x-request-id", this_request.encode("latin-1")),
                    ],
                }
            await send(message)

        try:
            await self.app(scope, receive, send_and_record_status)
        finally:
            log_event(
                "access",
                method=scope["method"],
                # The path only: a query string could carry tokens.
                path=scope["path"],
                status=status,
                client=client_address(scope, headers),
                user_agent=headers.get("user-agent"),
                duration_ms=round((time.monotonic() - started) * 1000, 1),
            )


def client_address(scope: Scope, headers: Headers) -> str | None:
    """The caller's address as the load balancer saw it.

    Behind the ALB the peer is the load balancer, which appends the address it accepted
    the connection from to X-Forwarded-For; entries before it are whatever the client
    sent, so only the last one can be trusted.
    """
    forwarded = headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.rsplit(",", 1)[-1].strip()
    client = scope.get("client")
    return client[0] if client else None
