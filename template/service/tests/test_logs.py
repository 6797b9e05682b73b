from __future__ import annotations

import json
import logging
import sys

import pytest

from app.logs import LOGGER_NAME, REDACTED, JsonFormatter, configure_logging, log_event


def record(name: str, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, (), None)


def test_service_events_carry_their_fields() -> None:
    rec = record(LOGGER_NAME, "access")
    rec.fields = {"status": 200, "path": "/"}
    line = json.loads(JsonFormatter().format(rec))
    assert line["event"] == "access"
    assert (line["level"], line["status"], line["path"]) == ("warning", 200, "/")
    assert line["ts"].endswith("+00:00")


def test_library_records_become_log_events_on_one_line() -> None:
    text = JsonFormatter().format(record("psycopg.pool", "error connecting:\n\tdetails"))
    assert "\n" not in text
    line = json.loads(text)
    assert (line["event"], line["logger"]) == ("log", "psycopg.pool")
    assert line["message"] == "error connecting:\n\tdetails"


def test_exceptions_are_reported_by_class_never_by_message_or_traceback() -> None:
    try:
        raise ConnectionError("password=hunter2")
    except ConnectionError:
        rec = record("uvicorn.error", "Exception in ASGI application")
        rec.exc_info = sys.exc_info()
    text = JsonFormatter().format(rec)
    assert json.loads(text)["error"] == "ConnectionError"
    assert "hunter2" not in text and "Traceback" not in text


def test_known_secrets_are_redacted_from_any_line() -> None:
    formatter = JsonFormatter(secrets=["s3cret-value", ""])
    text = formatter.format(record("redis", "AUTH s3cret-value failed"))
    assert "s3cret-value" not in text
    assert json.loads(text)["message"] == f"AUTH {REDACTED} failed"


def test_configure_logging_writes_json_to_stdout_once(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging()
        configure_logging(secrets=["tok3n"])  # again, with the secrets: still one handler
        log_event("started", port=8080, note="tok3n")
        logging.getLogger("psycopg.pool").info("adding new connection")  # below WARNING
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line) | {"ts": None} == {
        "ts": None,
        "level": "info",
        "event": "started",
        "port": 8080,
        "note": REDACTED,
    }
