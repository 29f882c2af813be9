"""Migrations from an empty database build the models' schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError, OperationalError

from app.catalog import create_flight
from app.extensions import db
from app.models import Saga, Ticket, TicketSeat, User

# migrations/env.py (Flask-Migrate's template) tries Flask-SQLAlchemy's deprecated get_engine() first.
pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test_b")


def postgres_url() -> str:
    engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        engine.connect().close()
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL does not answer at {POSTGRES_URL}: {exc.orig}")
    finally:
        engine.dispose()
    return POSTGRES_URL


def drop_everything() -> None:
    """Every table, alembic_version included, whatever created it."""
    tables = MetaData()
    tables.reflect(db.engine)
    tables.drop_all(db.engine)


@pytest.fixture
def keep_logging():
    # Alembic's env.py runs logging.fileConfig, which disables every logger that exists already.
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in logging.root.manager.loggerDict)]
    saved = [(lg, lg.disabled, lg.level, list(lg.handlers), lg.propagate) for lg in loggers]
    yield
    for logger, disabled, level, handlers, propagate in saved:
        logger.disabled, logger.level, logger.propagate = disabled, level, propagate
        logger.handlers = handlers


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_app(request, make_app, tmp_path, keep_logging):
    """An app on a database with no tables at all."""
    url = f"sqlite:///{tmp_path / 'migrated.db'}" if request.param == "sqlite" else postgres_url()
    app = make_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        drop_everything()
        yield app
        db.session.rollback()
        drop_everything()


def table_names() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def test_upgrade_builds_every_table(empty_app):
    upgrade()
    assert table_names() == set(db.metadata.tables) | {"alembic_version"}


def test_the_models_and_the_migrations_agree(empty_app):
    upgrade()
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_the_partial_unique_index_on_active_ticket_seats_exists(empty_app):
    upgrade()
    indexes = inspect(db.engine).get_indexes("ticket_seats")
    [index] = [i for i in indexes if i["name"] == "uq_ticket_seats_active"]
    assert index["unique"]
    assert index["column_names"] == ["flight_id", "seat_number"]
    if db.engine.dialect.name == "postgresql":
        definition = db.session.scalar(text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                                       {"n": "uq_ticket_seats_active"})
    else:
        definition = db.session.scalar(text("SELECT sql FROM sqlite_master WHERE name = :n"),
                                       {"n": "uq_ticket_seats_active"})
    assert definition.rstrip().endswith("WHERE active")


def test_the_index_refuses_a_second_active_ticket_for_a_seat(empty_app):
    upgrade()
    flight = create_flight(number="SA1", origin="LHR", destination="JFK",
                           departs_at=datetime.now(UTC), arrives_at=datetime.now(UTC) + timedelta(hours=7))
    user = User(email="a@example.com", name="A", password_hash="x")
    db.session.add(user)
    db.session.flush()

    def ticket(reference: str, *, active: bool) -> None:
        saga = Saga(user_id=user.id, flight_id=flight.id, seats=["1A"], amount=Decimal("1200.00"),
                    currency="USD", miles=3600, card_token="tok", card_brand="visa", card_last4="4242")
        db.session.add(Ticket(saga=saga, reference=reference, flight_id=flight.id, user_id=user.id,
                              seats=[TicketSeat(flight_id=flight.id, seat_number="1A", active=active)]))
        db.session.flush()

    ticket("AAAAAA", active=False)
    ticket("BBBBBB", active=True)
    ticket("CCCCCC", active=False)  # cancelled tickets may share the seat
    with pytest.raises(IntegrityError):
        ticket("DDDDDD", active=True)


def test_downgrade_to_base_removes_every_table(empty_app):
    upgrade()
    downgrade(revision="base")
    assert table_names() == {"alembic_version"}
