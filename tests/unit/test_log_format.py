"""One line per event: the JSON and text formats, the task context, and configure()."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime

import pytest

from app.observability import logs


@pytest.fixture
def capture():
    """A logger that writes through our handler in the format asked for into a string."""
    made = []

    def make(fmt: str = "json") -> tuple[logging.Logger, io.StringIO]:
        stream = io.StringIO()
        logger = logging.getLogger(f"tests.format.{len(made)}")
        logger.addHandler(logs.build_handler(fmt, stream))
        logger.setLevel(logging.INFO)
        logger.propagate = False
        made.append(logger)
        return logger, stream

    yield make
    for logger in made:
        logger.handlers.clear()
        logger.propagate = True


def test_a_json_line_has_time_level_logger_message_and_the_extras(capture):
    logger, stream = capture("json")
    logger.info("saga %s: %s attempt %d", "s-1", "reserve_seat", 2,
                extra={"saga_id": "s-1", "step": "reserve_seat", "attempt": 2, "task_id": "t-9"})
    [line] = stream.getvalue().splitlines()
    event = json.loads(line)
    assert event["message"] == "saga s-1: reserve_seat attempt 2"
    assert event["level"] == "INFO" and event["logger"] == logger.name
    context = (event["saga_id"], event["step"], event["attempt"], event["task_id"])
    assert context == ("s-1", "reserve_seat", 2, "t-9")
    assert datetime.fromisoformat(event["timestamp"]).utcoffset().total_seconds() == 0
    assert "task_name" not in event  # not inside a task


def test_an_exception_stays_on_its_one_json_line(capture):
    logger, stream = capture("json")
    try:
        {}["missing"]
    except KeyError:
        logger.exception("lookup failed")
    [line] = stream.getvalue().splitlines()
    event = json.loads(line)
    assert event["level"] == "ERROR"
    assert event["exc_info"].startswith("Traceback") and event["exc_info"].endswith("KeyError: 'missing'")


def test_the_text_format_puts_the_extras_after_the_message(capture):
    logger, stream = capture("text")
    logger.warning("debt owed", extra={"saga_id": "s-2", "step": "cancel_payment"})
    line = stream.getvalue().strip()
    assert line.endswith(f"WARNING {logger.name}: debt owed saga_id=s-2 step=cancel_payment")


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logs.build_handler("xml")


def test_a_line_logged_inside_a_saga_task_names_the_task_and_its_saga(app, capture):
    logger, stream = capture("json")
    celery = app.extensions["celery"]

    @celery.task(name="saga.log_probe", bind=True)
    def probe(self, saga_id: str) -> None:
        logger.info("inside")

    try:
        result = probe.apply(args=["saga-42"], task_id="task-7")
        assert result.successful()
    finally:
        celery.tasks.pop("saga.log_probe")
    event = json.loads(stream.getvalue())
    assert (event["task_id"], event["task_name"], event["task_retries"]) == ("task-7", "saga.log_probe", 0)
    assert event["saga_id"] == "saga-42"


def test_configure_replaces_its_own_handler_and_keeps_the_others():
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    other = logging.NullHandler()
    root.addHandler(other)
    try:
        first = logs.configure("json", "WARNING", io.StringIO())
        second = logs.configure("text", "INFO", io.StringIO())
        ours = [h for h in root.handlers if h.get_name() == logs.HANDLER_NAME]
        assert ours == [second] and first not in root.handlers
        assert other in root.handlers and root.level == logging.INFO
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.captureWarnings(False)


@pytest.mark.parametrize(("env", "expected"), [
    ({}, "text"),
    ({"APP_ENV": "production"}, "json"),
    ({"APP_ENV": "production", "LOG_FORMAT": "text"}, "text"),
    ({"LOG_FORMAT": "JSON"}, "json"),
])
def test_json_is_the_default_in_production(monkeypatch, env, expected):
    from app.config import logging_from_env

    for name in ("APP_ENV", "LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert logging_from_env()["LOG_FORMAT"] == expected


def _routine_records() -> list[logging.LogRecord]:
    def record(name: str, msg: str, level: int = logging.INFO, **extra: object) -> logging.LogRecord:
        made = logging.LogRecord(name, level, __file__, 1, msg, (), None)
        made.__dict__.update(extra)
        return made

    return [
        record("celery.worker.strategy", "Task maintenance.reconcile_sagas[1] received"),
        record("celery.app.trace", "Task maintenance.reconcile_sagas[1] succeeded in 0.01s: {'n': 0}"),
        record("celery.beat", "Scheduler: Sending due task reconcile-sagas (maintenance.reconcile_sagas)"),
        record("httpx", 'HTTP Request: POST http://127.0.0.1:8003/payments "HTTP/1.1 201 CREATED"'),
        record("saga.steps", "saga s-1: reserve_seat attempt 1", saga_id="s-1", attempt=1),
        record("saga.steps", "saga s-1: reserve_seat succeeded", saga_id="s-1", step_status="succeeded"),
        record("saga.steps", "saga s-1 -> running", saga_id="s-1", status="running"),
    ]


@pytest.mark.parametrize("record", _routine_records(), ids=lambda r: r.name)
def test_text_mode_keeps_routine_lines_for_debug(record):
    root = logging.getLogger()
    level = root.level
    try:
        root.setLevel(logging.INFO)
        assert logs.RoutineFilter().filter(record) is False
        root.setLevel(logging.DEBUG)
        assert logs.RoutineFilter().filter(record) is True
    finally:
        root.setLevel(level)


def test_text_mode_keeps_saga_events_janitor_work_and_failures(capture):
    logger, stream = capture("text")
    logging.getLogger().setLevel(logging.INFO)
    events = logging.getLogger("saga")
    handler = logger.handlers[0]
    events.addHandler(handler)
    try:
        events.info("saga %s -> %s", "s-3", "confirmed", extra={"saga_id": "s-3", "status": "confirmed",
                                                                  "task_id": "t-1", "task_name": "saga.x"})
        events.info("saga %s: %s %s", "s-3", "authorize_payment", "failed",
                    extra={"saga_id": "s-3", "step": "authorize_payment", "step_status": "failed",
                           "error": "card_declined"})
        logging.getLogger("celery.app.trace").handlers.append(handler)
        logging.getLogger("celery.app.trace").error("Task saga.authorize_payment[t-2] raised unexpected")
    finally:
        events.removeHandler(handler)
        logging.getLogger("celery.app.trace").handlers.remove(handler)
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("INFO saga: saga s-3 -> confirmed")  # nothing the message already says
    assert lines[1].endswith("saga s-3: authorize_payment failed error=card_declined")
    assert "raised unexpected" in lines[2]
    assert datetime.strptime(lines[0].split()[0], "%H:%M:%S")


def test_json_mode_keeps_every_line_and_field(capture):
    logger, stream = capture("json")
    handler = logger.handlers[0]
    for record in _routine_records():
        handler.handle(record)
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(events) == len(_routine_records())
    attempt = next(event for event in events if "attempt" in event)
    assert attempt["attempt"] == 1 and attempt["saga_id"] == "s-1"


@pytest.mark.parametrize(("fmt", "level", "built"), [("text", "INFO", False), ("text", "DEBUG", True),
                                                     ("json", "INFO", True)])
def test_routine_lines_are_not_even_built_when_text_drops_them(fmt, level, built):
    root = logging.getLogger()
    before = root.level, list(root.handlers)
    try:
        logs.configure(fmt, level, io.StringIO())
        for name in logs.ROUTINE_LOGGERS:
            assert logging.getLogger(name).isEnabledFor(logging.INFO) is built
        assert logging.getLogger("saga").isEnabledFor(logging.INFO)
        assert logging.getLogger("celery.app.trace").isEnabledFor(logging.WARNING)
    finally:
        logs.configure("json", before[0], io.StringIO())
        root.handlers[:] = before[1]
        for name in logs.ROUTINE_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
