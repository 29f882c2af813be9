"""Extension objects, created unbound and initialised in create_app."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from flask import Flask, current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BindParameter, Select, bindparam, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True)


@contextmanager
def keeping_loaded() -> Iterator[None]:
    """Commits inside keep the session's loaded objects as they are (no reload on the next read):
    for a writer that knows what it just committed, or that reads nothing that could change."""
    session = db.session()
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = True


def end_read() -> None:
    """End the transaction of a read, keeping what it loaded: the connection goes back to the pool
    (no snapshot or connection is held while the caller waits on something else), and the next
    statement starts a transaction of its own (SQLite cannot upgrade a stale read snapshot to a
    write). A rollback would do the first two, but expire every loaded object, to be read again."""
    with keeping_loaded():
        db.session.commit()


def column_values(obj) -> dict:
    """A new object's columns, by column, for a table-level INSERT of a row its writer knows in
    full (defaults too): cheaper than the unit of work, and the object, never added to the
    session, is the answer as written. A primary key left None is the database's to assign."""
    return {prop.columns[0].key: getattr(obj, prop.key) for prop in inspect(type(obj)).column_attrs
            if not (prop.columns[0].primary_key and getattr(obj, prop.key) is None)}


def in_list(values) -> list[BindParameter]:
    """The values of a constant IN (...) as one bound parameter each, so the statement's SQL is
    compiled once: a plain list given to in_() becomes an "expanding" parameter whose SQL is
    rewritten at every execution, which cost ~25 µs of CPU per statement on the saga's hot path."""
    return [bindparam(None, value) for value in values]


def lock_rows(statement: Select) -> None:
    """Lock the rows `statement` selects until the transaction ends, so writers of them take turns.

    SELECT ... FOR UPDATE on PostgreSQL. SQLite has no row locks: it renders the same SELECT,
    which locks nothing (its one writer at a time is the turn), so nothing is sent there.
    """
    if db.session.get_bind().dialect.name != "sqlite":
        db.session.execute(statement.with_for_update())


@event.listens_for(Engine, "connect")
def _sqlite_wal(dbapi_connection: object, connection_record: object) -> None:
    """SQLite in WAL mode with a 30 s busy timeout, for every engine of every service (docs/performance.md).

    In the default rollback-journal mode a commit locks every reader of every process out of the
    file, and busy readers back off in sleeps of up to tens of ms: the API's reads queued behind
    the workers' commits. With WAL readers go on while one writer commits, and a commit costs one
    fsync instead of several. Durability is unchanged (synchronous stays FULL).
    """
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    try:
        # Writers queue for the file's one lock: under a burst of bookings one may wait longer than
        # sqlite3's default 5 s before it gives up ("database is locked"), so it waits up to 30 s.
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode=WAL")  # persistent: only the first connection switches
    except sqlite3.OperationalError:
        pass  # another process holds the file while switching it; the mode is the file's anyway
    finally:
        cursor.close()


def init_redis(app: Flask) -> None:
    # One connection pool per process; redis-py clients are thread-safe.
    app.extensions["redis"] = redis.Redis.from_url(
        app.config["REDIS_URL"], socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
    )


def get_redis() -> redis.Redis:
    return current_app.extensions["redis"]
