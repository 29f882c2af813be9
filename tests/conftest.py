"""Shared fixtures and factories: an app on a fresh database, users, tokens, flights, cards, bookings.

The kit a test is built from: ``make_user``/``traveller``, ``make_flight``/``flight``, ``card(...)``
(the payment service's own test cards), ``book(...)`` (a POST /bookings) and ``make_saga(...)``.

The database is a SQLite file per test unless TEST_DATABASE_URL points at PostgreSQL; Redis is
fakeredis for unit tests and the real server (TEST_REDIS_URL, a dedicated DB that is flushed)
for integration tests.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import fakeredis
import pytest

from app import create_app
from app.auth import hash_password, issue_token
from app.catalog import create_flight
from app.extensions import db
from app.models import Saga, SagaStatus, User
from app.participants.payment.cards import TEST_CARD_OUTCOMES, Outcome
from tests.participants import (
    build_loyalty_app,
    build_payment_app,
    dispose_service,
    secret_of,
    wire_participants,
)

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_BROKER_URL = os.environ.get("TEST_BROKER_URL", "redis://127.0.0.1:6379/14")
# What the tests' scraper sends to /metrics.
METRICS_TOKEN = "test-metrics-token"


def card_number(outcome: Outcome = Outcome.APPROVE, nth: int = 0) -> str:
    """The payment service's `nth` test card whose authorizations end in `outcome`."""
    return [number for number, does in TEST_CARD_OUTCOMES.items() if does == outcome][nth]


APPROVED = card_number(Outcome.APPROVE)
APPROVED_MASTERCARD = card_number(Outcome.APPROVE, 1)
DECLINED = card_number(Outcome.CARD_DECLINED)
NO_FUNDS = card_number(Outcome.INSUFFICIENT_FUNDS)
PROCESSOR_DOWN = card_number(Outcome.PROCESSING_ERROR)


def card(number: str = APPROVED, **fields: object) -> dict:
    """A booking request's ``payment``: a test card, valid for years."""
    return {"card_number": number, "exp_month": 12, "exp_year": 2031, "cvc": "123", **fields}


def book(client, headers: dict, flight_id: int | None = None, seats: list[str] | None = None,
         number: str = APPROVED, **extra):
    """POST /api/v1/bookings: `seats` of `flight_id` (or ``hold_id=``), paid with the test card `number`."""
    chosen = {"flight_id": flight_id, "seats": seats}
    body = {**{k: v for k, v in chosen.items() if v is not None}, "payment": card(number), **extra}
    return client.post("/api/v1/bookings", json=body, headers=headers)


def make_config(tmp_path, **overrides) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'booking.db'}",
        "REDIS_URL": TEST_REDIS_URL,
        "CELERY_BROKER_URL": TEST_BROKER_URL,
        "RATELIMIT_ENABLED": False,
        # Every test client comes from 127.0.0.1: per-address hold caps are off, as rate limits are
        # (tests/unit/test_security_seat_spinning.py turns them back on).
        "MAX_HELD_SEATS_PER_ADDRESS_PER_FLIGHT": 0,
        "MAX_HELD_SEATS_PER_ADDRESS": 0,
        "METRICS_TOKEN": METRICS_TOKEN,
        "SAGA_RETRY_BASE_SECONDS": 0.05,
        "SAGA_RETRY_MAX_SECONDS": 0.2,
        # E-mail stays in app.extensions["outbox"]; the mail tests send to the real catcher.
        "SMTP_URL": "memory://",
        # The in-process services' credential for a booking app that is web and worker at once.
        "PAYMENT_TOKEN": secret_of("payment", "booking"),
        "LOYALTY_TOKEN": secret_of("loyalty", "booking"),
    }
    config.update(overrides)
    return config


def build_app(tmp_path, **overrides):
    """An app on an empty schema; the caller drops it with `teardown_app`."""
    app = create_app(make_config(tmp_path, **overrides))
    with app.app_context():
        db.drop_all()
        db.create_all()
    return app


def teardown_app(app) -> None:
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing():
    """Argon2id with the smallest cost: the production cost is ~0.1-0.5 s a hash on this machine,
    which dominates tests that create users. The algorithm and code path are the same."""
    from argon2 import PasswordHasher

    from app import auth

    production = auth._hasher
    auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    auth._hasher = production


@pytest.fixture
def app(tmp_path):
    """A booking app with fakeredis; unit tests run inside its app context."""
    app = build_app(tmp_path)
    app.extensions["redis"] = fakeredis.FakeRedis()
    with app.app_context():
        yield app
    teardown_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(app):
    counter = iter(range(1, 10_000))

    def make(email: str | None = None, *, password: str = "correct horse", is_admin: bool = False,
             name: str = "Test User") -> User:
        user = User(
            email=email or f"user{next(counter)}@example.com",
            name=name,
            password_hash=hash_password(password),
            is_admin=is_admin,
        )
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def traveller(make_user) -> User:
    return make_user("traveller@example.com")


@pytest.fixture
def auth_headers(app):
    def headers(user: User) -> dict:
        token, _ = issue_token(user)
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def ada(make_user, auth_headers) -> dict:
    """The bearer headers of a traveller, Ada."""
    return auth_headers(make_user("ada@example.com"))


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, str]]:
    """What the API would have sent to the broker; nothing is sent."""
    from tests.security_world import stub_enqueue

    return stub_enqueue(monkeypatch)


@pytest.fixture
def make_flight(app):
    def make(number: str = "SA900", origin: str = "LHR", destination: str = "JFK",
             departs_at: datetime | None = None, **kwargs):
        departs_at = departs_at or datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
        flight = create_flight(
            number=number,
            origin=origin,
            destination=destination,
            departs_at=departs_at,
            arrives_at=departs_at + timedelta(hours=7),
            **kwargs,
        )
        db.session.commit()
        return flight

    return make


@pytest.fixture
def flight(make_flight):
    return make_flight()


@pytest.fixture
def make_saga(app, client, make_user, make_flight, auth_headers, monkeypatch):
    """A saga written by the API (steps, tokenized card, lease) on a fresh user and flight.

    Not enqueued unless asked: the test then delivers its steps itself, or leaves it to the janitors
    as if the broker had been down. Needs the payment service (the ``participants`` fixture, or the
    integration app, which wires it).
    """
    from app.tasks import chains as saga_tasks

    def make(status: str = SagaStatus.PENDING, *, enqueued: bool = False, seats: list[str] | None = None,
             flight_id: int | None = None) -> Saga:
        headers = auth_headers(make_user())
        flight_id = flight_id or make_flight().id
        with monkeypatch.context() as patch:
            if not enqueued:
                patch.setattr(saga_tasks, "start", lambda saga_id, fence, version=None: None)
            response = book(client, headers, flight_id, seats or ["6A"])
        assert response.status_code == 202, response.get_json()
        saga = db.session.get(Saga, response.get_json()["id"])
        if status != saga.status:
            saga.status = status
            db.session.commit()
        return saga

    return make


# The payment and loyalty services, in-process. The helpers live in tests/participants.py (a plain
# module beside this file) so that tests building their own apps can wire them the same way.


@pytest.fixture
def payment_app(tmp_path):
    """The real payment service on its own SQLite file, latency 0."""
    service_app = build_payment_app(tmp_path)
    yield service_app
    dispose_service(service_app)


@pytest.fixture
def loyalty_app(tmp_path):
    """The real loyalty service on its own SQLite file, latency 0."""
    service_app = build_loyalty_app(tmp_path)
    yield service_app
    dispose_service(service_app)


@pytest.fixture
def participants(app, tmp_path, payment_app, loyalty_app):
    """The booking app's payment and loyalty clients, talking to the services above over WSGI."""
    wired = wire_participants(app, tmp_path, payment_app=payment_app, loyalty_app=loyalty_app)
    yield wired
    wired.close()


@pytest.fixture
def faults(app):
    """The faults (tests/faults.py) of the participants wired to `app` (``participants``, or the
    integration app, which wires them itself)."""
    return app.extensions["participant_faults"]


@pytest.fixture
def insert_hold(app):
    """A hold row as the holds module leaves it, without touching Redis."""
    import secrets
    from decimal import Decimal

    from app.models import Hold, HoldStatus

    def insert(flight, user, seats: list[str], *, expires_in: float = 600,
               status: str = HoldStatus.HELD) -> Hold:
        hold = Hold(
            flight_id=flight.id,
            user_id=user.id,
            token=secrets.token_hex(16),
            seats=seats,
            amount=Decimal("0.00"),
            currency=flight.currency,
            status=status,
            expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
        )
        db.session.add(hold)
        db.session.commit()
        return hold

    return insert


@pytest.fixture
def insert_saga(app, make_user, make_flight):
    """A bare saga row in `status`, without steps, of one user on one flight (for counting and
    for calling a step's function directly); make_saga writes one as the API does."""
    from decimal import Decimal

    user, flight = make_user(), make_flight()

    def insert(status: str = SagaStatus.PENDING, **values: object) -> Saga:
        row = {"seats": ["6A"], "amount": Decimal("150.00"), "currency": flight.currency, "miles": 150,
               "card_token": "tok_x", "card_brand": "visa", "card_last4": "4242", **values}
        saga = Saga(user_id=user.id, flight_id=flight.id, status=status, **row)
        db.session.add(saga)
        db.session.commit()
        return saga

    return insert


@pytest.fixture
def insert_ticket(app):
    """A confirmed saga with its ticket on `seats`, as confirm_booking leaves them."""
    import secrets
    from decimal import Decimal

    from app.models import Saga, SagaStatus, Ticket, TicketSeat, TicketStatus

    def insert(flight, user, seats: list[str], *, active: bool = True) -> Ticket:
        saga = Saga(
            user_id=user.id, flight_id=flight.id, seats=seats, amount=Decimal("0.00"),
            currency=flight.currency, miles=0, status=SagaStatus.CONFIRMED,
            card_token="tok_test", card_brand="visa", card_last4="4242",
        )
        ticket = Ticket(
            saga=saga, reference=secrets.token_hex(3).upper(), flight_id=flight.id, user_id=user.id,
            status=TicketStatus.ACTIVE if active else TicketStatus.CANCELLED,
            seats=[TicketSeat(flight_id=flight.id, seat_number=number, active=active) for number in seats],
        )
        db.session.add_all([saga, ticket])
        db.session.commit()
        return ticket

    return insert


@pytest.fixture
def make_app(tmp_path):
    """Apps with settings of their own (a Redis that is down, another database), schema untouched."""
    apps = []

    def make(**overrides):
        app = create_app(make_config(tmp_path, **overrides))
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
