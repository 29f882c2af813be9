"""Logging for every process: one line per event, JSON or text, with the task and saga it belongs to.

`configure()` puts one handler on the root logger (replacing its own earlier one, leaving others
alone); the handler adds the running Celery task's id and name (and its saga id, when the task is
a saga task) to every record, redacts card numbers and bearer tokens, and formats the line.
"""

from __future__ import annotations

import logging
import sys
from typing import IO

from celery import current_task
from pythonjsonlogger.json import JsonFormatter

from app.config import logging_from_env
from app.observability.redact import STANDARD_ATTRS, RedactFilter

HANDLER_NAME = "booking-observability"
FORMATS = ("json", "text")

# The fields of a JSON line before the record's extras, under the names log shippers expect.
_JSON_FIELDS = ["levelname", "name", "message", "process"]
_JSON_RENAMES = {"levelname": "level", "name": "logger"}


class TaskContextFilter(logging.Filter):
    """Adds task_id, task_name and task_retries of the Celery task running now, if any.

    A saga task's first argument (or `saga_id` keyword) is its saga id, so every line a saga task
    logs carries `saga_id` even when the code that logged it did not pass one.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        task = current_task._get_current_object()
        if task is None or task.request.id is None:
            return True
        request = task.request
        _default(record, "task_id", request.id)
        _default(record, "task_name", task.name)
        _default(record, "task_retries", request.retries)
        if task.name.startswith("saga."):
            saga_id = (request.kwargs or {}).get("saga_id")
            if saga_id is None and request.args and isinstance(request.args[0], str):
                saga_id = request.args[0]
            if saga_id is not None:
                _default(record, "saga_id", saga_id)
        return True


def _default(record: logging.LogRecord, name: str, value: object) -> None:
    if getattr(record, name, None) is None:
        setattr(record, name, value)


def json_formatter() -> logging.Formatter:
    """One JSON object per line: timestamp (UTC, ISO 8601), level, logger, message, process, extras."""
    return JsonFormatter(_JSON_FIELDS, style=",", rename_fields=_JSON_RENAMES, timestamp=True)


# Routine lines a person at a terminal does not need at INFO: Celery's per-task trace ("received",
# "succeeded in ...: {...}"), each HTTP call, each janitor beat sends, each saga action's attempt
# and success (app/saga_log.py `routine`). Failures are WARNING or above, or on other loggers,
# and stay; LOG_LEVEL=DEBUG shows everything.
ROUTINE_LOGGERS = ("celery.worker.strategy", "celery.app.trace", "httpx", "saga.steps")
ROUTINE_BEAT_PREFIX = "Scheduler: Sending due task"
# Fields a text line leaves out: the task context (JSON lines have it) and what the message says.
TEXT_OMITTED = ("task_id", "task_name", "task_retries")


class RoutineFilter(logging.Filter):
    """Text mode: routine INFO lines pass only when the root logger is at DEBUG.

    JSON lines keep all of them, for machines that search.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
            return True
        if record.name in ROUTINE_LOGGERS:
            return False
        return not (record.name == "celery.beat" and str(record.msg).startswith(ROUTINE_BEAT_PREFIX))


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value ...`: short, for humans; extras the message lacks follow."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        message = record.getMessage()
        extras = [f"{name}={value}" for name, value in vars(record).items()
                  if name not in STANDARD_ATTRS and not name.startswith("_") and name not in TEXT_OMITTED
                  and value is not None and str(value) not in message]
        if not extras:
            return line
        head, newline, rest = line.partition("\n")
        return f"{head} {' '.join(extras)}{newline}{rest}"


def build_handler(fmt: str = "json", stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler with the task context, the redaction and the chosen format."""
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    if fmt == "text":  # first: a line dropped is never given its context or redacted
        handler.addFilter(RoutineFilter())
    handler.addFilter(TaskContextFilter())
    handler.addFilter(RedactFilter())
    handler.setFormatter(json_formatter() if fmt == "json" else TextFormatter())
    return handler


def configure(fmt: str = "json", level: str | int = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """Route the root logger through one handler of ours; safe to call again (it replaces it)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == HANDLER_NAME:
            root.removeHandler(handler)
    handler = build_handler(fmt, stream)
    root.addHandler(handler)
    root.setLevel(level)
    # Text above DEBUG drops the routine loggers' INFO lines anyway: at WARNING they are not even
    # built (Celery checks its level once per task type and then skips each line's dict and
    # message, on every task). JSON keeps them all.
    quiet = fmt == "text" and root.getEffectiveLevel() > logging.DEBUG
    for name in ROUTINE_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.NOTSET)
    # Where a line was logged from, and its thread's and process's names: no format here prints
    # them, and not computing them on every line is logging's own documented optimisation (the
    # logging HOWTO, "Optimization"): the caller's frame walk was a tenth of a line's cost.
    logging._srcfile = None
    logging.logThreads = logging.logMultiprocessing = False
    # Python's warnings (Celery's warning about running as root, deprecations) as log lines too.
    logging.captureWarnings(True)
    return handler


def configure_from_env() -> logging.Handler:
    """configure() with LOG_FORMAT and LOG_LEVEL from the environment (for apps without our config)."""
    settings = logging_from_env()
    return configure(settings["LOG_FORMAT"], settings["LOG_LEVEL"])
