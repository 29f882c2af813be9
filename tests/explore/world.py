"""The explorer's world: the booking app (SQLite file, fakeredis), the real payment and loyalty
services in-process behind fault-injecting transports, one flight, two users, and the books.

Built once per test; `reset` empties it between Hypothesis examples (much cheaper than new apps).
`violations` reads the invariants of SPEC §5 straight from the three databases and Redis.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import fakeredis
import httpx
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app import mail, saga_log
from app.auth import hash_password, issue_token
from app.catalog import create_flight
from app.extensions import db
from app.models import (
    Debt,
    Hold,
    HoldStatus,
    IdempotencyKey,
    Saga,
    SagaStatus,
    SagaStep,
    SentEmail,
    Ticket,
    TicketSeat,
    TicketStatus,
    User,
)
from app.models.user import ApiToken
from app.participants.loyalty import models as loyalty_models
from app.participants.loyalty.client import LoyaltyClient
from app.participants.payment import models as payment_models
from app.participants.payment.client import PaymentClient
from app.seat_holds import hold_key
from tests.conftest import build_app
from tests.explore import faults
from tests.explore.clock import Clock
from tests.participants import LOYALTY_URL, PAYMENT_URL, build_loyalty_app, build_payment_app, secret_of

SEATS = ("1A", "1B", "2A")
CARDS = {
    "approved": "4242424242424242",
    "declined": "4000000000000002",
    "no_funds": "4000000000009995",
    "processor_down": "4000000000000119",
}
# Small bounds, so running out of retries is within a few steps' reach.
CONFIG = {"SAGA_STEP_MAX_RETRIES": 1, "SAGA_COMPENSATION_MAX_RETRIES": 1}


def _fast_sqlite(dbapi_connection: object, connection_record: object) -> None:
    # The files live in a temporary directory of one test: durability buys nothing here.
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=OFF")


@dataclass
class World:
    app: Flask
    payment_app: Flask
    loyalty_app: Flask
    clock: Clock
    redis: fakeredis.FakeRedis
    late: faults.LateRequests
    flight_id: int
    user_ids: tuple[int, ...]

    # Building and resetting ----------------------------------------------------------------------

    @classmethod
    def build(cls, tmp_path: Path, monkeypatch) -> World:  # noqa: ANN001 - pytest's MonkeyPatch
        if not event.contains(Engine, "connect", _fast_sqlite):
            event.listen(Engine, "connect", _fast_sqlite)
        clock = Clock(datetime.now(UTC).replace(microsecond=0))
        clock.install(monkeypatch)
        app = build_app(tmp_path, **CONFIG)
        r = fakeredis.FakeRedis()
        app.extensions["redis"] = r
        payment_app, loyalty_app = build_payment_app(tmp_path), build_loyalty_app(tmp_path)
        late = faults.LateRequests()
        for name, client_class, url, service in (("payment", PaymentClient, PAYMENT_URL, payment_app),
                                                 ("loyalty", LoyaltyClient, LOYALTY_URL, loyalty_app)):
            app.extensions[name].close()
            transport = faults.FaultyTransport(httpx.WSGITransport(app=service), late)
            app.extensions[name] = client_class(url, connect_timeout=2.0, read_timeout=5.0,
                                                transport=transport, token=secret_of(name, "booking"))
        monkeypatch.setattr(mail, "send", faults.faulty_mail(mail.send))
        with app.app_context():
            faults.hook_booking_db(db.engine, db.session)
            flight = create_flight(number="SA900", origin="LHR", destination="JFK",
                                   departs_at=clock.now + timedelta(days=3),
                                   arrives_at=clock.now + timedelta(days=3, hours=7))
            users = [User(email=f"explorer{n}@example.com", name=f"Explorer {n}",
                          password_hash=hash_password("correct horse")) for n in range(2)]
            db.session.add_all(users)
            db.session.commit()
            flight_id, user_ids = flight.id, tuple(user.id for user in users)
        for service, models in ((payment_app, payment_models), (loyalty_app, loyalty_models)):
            with service.app_context():
                faults.hook_service_db(models.db.engine)
        return cls(app, payment_app, loyalty_app, clock, r, late, flight_id, user_ids)

    def reset(self) -> None:
        """Empty every book, Redis and the held requests; the flight and users stay."""
        self.clock.reset()
        self.late.held.clear()
        self.redis.flushall()
        db.session.rollback()
        for model in (TicketSeat, Ticket, Debt, SagaStep, SentEmail, IdempotencyKey, Hold, ApiToken, Saga):
            db.session.query(model).delete()
        db.session.commit()
        mail.outbox().clear()
        for service, models in ((self.payment_app, payment_models), (self.loyalty_app, loyalty_models)):
            with service.app_context():
                for table in reversed(models.db.metadata.sorted_tables):
                    models.db.session.execute(table.delete())
                models.db.session.commit()

    def close(self) -> None:
        for service, models in ((self.payment_app, payment_models), (self.loyalty_app, loyalty_models)):
            with service.app_context():
                models.db.session.remove()
                models.db.engine.dispose()

    # Acting as the user ----------------------------------------------------------------------------

    def book(self, user: int, seats: list[str], card: str, idempotency_key: str) -> tuple[int, str | None]:
        """POST /api/v1/bookings; (status, saga id)."""
        token, _ = issue_token(db.session.get(User, self.user_ids[user]))
        body = {"flight_id": self.flight_id, "seats": seats,
                "payment": {"card_number": CARDS[card], "exp_month": 12, "exp_year": 2031, "cvc": "123"}}
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": idempotency_key}
        response = self.app.test_client().post("/api/v1/bookings", json=body, headers=headers)
        return response.status_code, (response.get_json() or {}).get("id")

    # Reading the books -----------------------------------------------------------------------------

    def sagas(self) -> list[Saga]:
        db.session.expire_all()
        return list(db.session.query(Saga).order_by(Saga.created_at, Saga.id))

    def payments_of(self, saga: Saga) -> list[payment_models.Payment]:
        with self.payment_app.app_context():
            found = payment_models.db.session.query(payment_models.Payment).filter_by(token=saga.card_token)
            rows = list(found)
            payment_models.db.session.expunge_all()
        return rows

    def awards_of(self, saga: Saga) -> list[loyalty_models.Award]:
        with self.loyalty_app.app_context():
            rows = list(loyalty_models.db.session.query(loyalty_models.Award).filter_by(reference=saga.id))
            loyalty_models.db.session.expunge_all()
        return rows

    def mails_of(self, saga: Saga) -> list[tuple[str, str]]:
        """(kind, Message-ID) of every e-mail handed to the mail server for this saga, in order."""
        kinds = {row.message_id: row.kind for row in db.session.query(SentEmail).filter_by(saga_id=saga.id)}
        return [(kinds[message["Message-ID"]], message["Message-ID"]) for message in mail.outbox()
                if message["Message-ID"] in kinds]

    def keys_of(self, saga: Saga) -> list[str]:
        """The seats whose Redis key still holds this saga's hold token."""
        hold = db.session.query(Hold).filter_by(saga_id=saga.id).first()
        if hold is None:
            return []
        return [seat for seat in SEATS
                if self.redis.get(hold_key(self.flight_id, seat)) == hold.token.encode()]

    def violations(self, *, settled: bool = False) -> list[tuple[str, str]]:
        """Every broken invariant as (clause, detail); `settled` adds what must hold once all is quiet."""
        found = []
        active = db.session.query(TicketSeat.flight_id, TicketSeat.seat_number).filter(
            TicketSeat.active_clause()).all()
        if len(active) != len(set(active)):
            found.append(("I1_double_sale", f"a seat is in two active tickets: {sorted(active)}"))
        for saga in self.sagas():
            found += [(code, f"saga {saga.id[:8]} ({saga.status}): {line}")
                      for code, line in self._saga_violations(saga, settled)]
        return found

    def _saga_violations(self, saga: Saga, settled: bool) -> list[tuple[str, str]]:
        found = []
        payments, awards = self.payments_of(saga), self.awards_of(saga)
        captured = [p for p in payments if p.captured_amount > 0]
        kept = sum((p.captured_amount - p.refunded_amount for p in payments), Decimal("0.00"))
        posted = [a for a in awards if a.status == loyalty_models.AwardStatus.POSTED]
        ticket = saga.ticket
        hold = db.session.query(Hold).filter_by(saga_id=saga.id).first()
        status = saga.status
        if status == SagaStatus.CONFIRMED:
            if len(captured) != 1 or captured[0].captured_amount != saga.amount:
                amounts = [str(p.captured_amount) for p in captured]
                found.append(("I2_confirmed_capture", f"I2: confirmed, captured {amounts} of {saga.amount}"))
            if any(p.refunded_amount > 0 for p in payments):
                found.append(("I2_confirmed_refunded", "I2: a confirmed booking was refunded "
                             f"({[str(p.refunded_amount) for p in payments]})"))
            if sum(a.miles for a in posted) != saga.miles or len(posted) != 1:
                found.append(("I2_confirmed_miles", f"I2: confirmed but posted {[a.miles for a in posted]} "
                              f"miles (awards {[a.status for a in awards]}) of {saga.miles}"))
            if ticket is None or ticket.status != TicketStatus.ACTIVE:
                found.append(("I2_confirmed_ticket", "confirmed without an active ticket"))
        if status in (SagaStatus.FAILED, SagaStatus.CANCELLED):
            if kept != 0:
                found.append(("I2_money_kept", f"I2: {status} but {kept} captured money is kept"))
            if posted:
                miles = sum(a.miles for a in posted)
                found.append(("I2_miles_kept", f"I2: {status} but {miles} miles are posted"))
        ended_without_ticket = (SagaStatus.FAILED, SagaStatus.CANCELLED, SagaStatus.NEEDS_ATTENTION)
        if status in ended_without_ticket and ticket is not None and ticket.status == TicketStatus.ACTIVE:
            found.append(("I1_ticket_of_failed_saga", f"{status} with an active ticket {ticket.reference}"))
        if status in (SagaStatus.FAILED, SagaStatus.CANCELLED, SagaStatus.CONFIRMED):
            if hold is not None and hold.status == HoldStatus.HELD:
                found.append(("I3_hold_held", f"I3: {status} but its hold is still held"))
            keys = self.keys_of(saga)
            if keys:
                found.append(("I3_hold_keys", f"I3: {status} but Redis keys of its hold remain: {keys}"))
        if not settled:
            return found
        if status == SagaStatus.NEEDS_ATTENTION:
            if not saga_debts_open(saga):
                found.append(("I4_attention_without_debt", "I4: needs_attention without an open debt"))
        elif saga_log.is_in_flight(saga):  # a confirmed one too, while its follow-ups are left
            found.append(("I4_not_terminal", f"I4: still {status} after quiescing (steps "
                         f"{[(s.name, s.status) for s in saga.steps]})"))
        if status in (SagaStatus.FAILED, SagaStatus.CANCELLED):
            left = [p.status for p in payments if p.status not in ("voided", "declined", "refunded")]
            if left:
                found.append(("I2_payment_not_voided", f"I2: {status} but payments left {left}"))
            pending = [a.status for a in awards if a.status != loyalty_models.AwardStatus.REVERSED]
            if pending:
                found.append(("I2_award_not_reversed", f"I2: {status} but awards left {pending}"))
        if status == SagaStatus.CONFIRMED and (hold is None or hold.status != HoldStatus.CONSUMED):
            found.append(("I3_confirmed_hold", "confirmed but its hold is not consumed"))
        # The itinerary goes out for a confirmed booking (a resend after a crash carries the same
        # Message-ID), never for one that did not pass its pivot, and at most once for one
        # cancelled after it (perhaps before the e-mail went).
        itineraries = len({message_id for kind, message_id in self.mails_of(saga) if kind == "itinerary"})
        expected = {SagaStatus.CONFIRMED: (1,)}.get(status, (0, 1) if saga.pivoted_at else (0,))
        if itineraries not in expected:
            found.append(("I4_itinerary", f"{status}, pivoted {saga.pivoted_at is not None}, "
                          f"but {itineraries} itinerary e-mails"))
        return found


def saga_debts_open(saga: Saga) -> bool:
    return any(debt.paid_at is None for debt in saga.debts)
