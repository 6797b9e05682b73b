"""JSON-lines logging to stdout, which the awslogs driver ships to CloudWatch Logs.

Every record becomes one JSON object on one line: this service's events (`log_event`)
carry their name in "event" and their fields beside it; records of libraries (uvicorn,
psycopg) become `"event": "log"` with the logger's name and message. CloudWatch Logs
Insights and metric filters query the fields directly, e.g. `{ $.event = "access" }`.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

LOGGER_NAME = "sample_service"
logger = logging.getLogger(LOGGER_NAME)
REDACTED = "[redacted]"
# The HTTP request a line belongs to, set by server.AccessLogMiddleware for the request's
# task: every event logged while serving it carries it as "request_id".
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; never a traceback, and never a known secret."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secret for secret in secrets if secret)

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
        }
        if record.name == LOGGER_NAME:
            payload["event"] = record.getMessage()
            payload.update(getattr(record, "fields", {}))
        else:
            payload["event"] = "log"
            payload["logger"] = record.name
            payload["message"] = record.getMessage()
        if record.exc_info and record.exc_info[0] is not None:
            # Only the class name: exception messages from drivers may echo connection details.
            payload["error"] = record.exc_info[0].__name__
        line = json.dumps(payload, default=str)
        # Last line of defence: a library message that quotes a secret must not ship it.
        for secret in self.secrets:
            line = line.replace(secret, REDACTED)
        return line


def configure_logging(*, secrets: Iterable[str] = (), level: int = logging.INFO) -> None:
    """Send every log record of the process to stdout as JSON lines.

    Called once at start-up, and again with the secrets once the settings are read
    (replacing the handler, so calling it twice never duplicates lines).
    """
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The pool logs every connection it opens at INFO; keep its warnings (failed connects).
    logging.getLogger("psycopg").setLevel(logging.WARNING)


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log a named event with structured fields. Never pass secrets here."""
    current_request = request_id.get()
    if current_request is not None:
        fields = {**fields, "request_id": current_request}
    logger.log(level, event, extra={"fields": fields})
