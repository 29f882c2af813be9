"""The SQL the booking app sent: for tests that count what a read or a write costs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from app.extensions import db


@contextmanager
def statements_sent(starting: str = "") -> Iterator[list[str]]:
    """The statements sent on the booking database inside the block, each on one line; only those
    that start with `starting` (case-insensitive: "SELECT", "UPDATE sagas"), when given."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        line = " ".join(statement.split())
        if line.upper().startswith(starting.upper()):
            sent.append(line)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
