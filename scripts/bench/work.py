"""The participant work of one booking, without the saga: what the bare chain and celery-saga do.

The same calls the saga makes, through the same clients, on the same services and Redis, with the
same idempotency keys' shape: take the seat's hold key, tokenize the card, authorize, create the
pending award, write a ticket row, release the hold key, capture, post the miles. What is left out
is what the saga adds: its log, fence and lease, the hold row, the API, compensation on failure.
"""

from __future__ import annotations

import os
from decimal import Decimal
from functools import cache

import redis
import sqlalchemy as sa

from app import seat_holds
from app.config import from_env
from app.participants.loyalty.client import LoyaltyClient
from app.participants.payment.cards import TEST_CARD_OUTCOMES, Outcome
from app.participants.payment.client import PaymentClient

# The payment service's own approved test card; every booking of every system pays with it.
APPROVED = next(number for number, outcome in TEST_CARD_OUTCOMES.items() if outcome == Outcome.APPROVE)
CARD = {"card_number": APPROVED, "exp_month": 12, "exp_year": 2031, "cvc": "123"}
HOLD_TTL_MS = 600_000
metadata = sa.MetaData()
# A ticket row of the same width as the saga's tickets + ticket_seats, in the booking database.
tickets = sa.Table(
    "bench_tickets", metadata,
    sa.Column("booking_id", sa.String(64), primary_key=True),
    sa.Column("flight_id", sa.Integer, nullable=False),
    sa.Column("seat", sa.String(4), nullable=False),
    sa.Column("payment_id", sa.String(64), nullable=False),
    sa.Column("award_id", sa.String(64), nullable=False),
    sa.UniqueConstraint("flight_id", "seat"),
)


# Built on first use in each pool process: connection pools are not shared across a fork.
@cache
def _clients() -> tuple[PaymentClient, LoyaltyClient, redis.Redis, sa.Engine, PaymentClient]:
    config = from_env()
    timeouts = {"connect_timeout": config["PARTICIPANT_CONNECT_TIMEOUT"],
                "read_timeout": config["PARTICIPANT_READ_TIMEOUT"]}
    engine = sa.create_engine(config["SQLALCHEMY_DATABASE_URI"])
    metadata.create_all(engine, checkfirst=True)
    # The booking service tokenizes in its API process, under the web's credential.
    tokenizer = PaymentClient(config["PAYMENT_URL"], token=os.environ["BENCH_TOKENIZE_TOKEN"], **timeouts)
    return (PaymentClient(config["PAYMENT_URL"], token=config["PAYMENT_TOKEN"], **timeouts),
            LoyaltyClient(config["LOYALTY_URL"], token=config["LOYALTY_TOKEN"], **timeouts),
            redis.Redis.from_url(config["REDIS_URL"]), engine, tokenizer)


def booking(booking_id: str, flight_id: int, seat: str, account_id: str) -> dict:
    """What the four steps pass along (a JSON dict, as a chain's results are)."""
    return {"booking_id": booking_id, "flight_id": flight_id, "seat": seat, "account_id": account_id,
            "amount": "150.00", "currency": "USD", "miles": 150}


def reserve(b: dict) -> dict:
    _, _, r, _, tokenizer = _clients()
    taken = seat_holds.acquire(r, b["flight_id"], [b["seat"]], b["booking_id"], HOLD_TTL_MS)
    if taken:
        raise RuntimeError(f"seat {b['seat']} is taken")
    card = tokenizer.tokenize(CARD["card_number"], CARD["exp_month"], CARD["exp_year"], CARD["cvc"])
    return {**b, "card_token": card.token}


def authorize(b: dict) -> dict:
    payment = _clients()[0]
    result = payment.authorize(b["card_token"], Decimal(b["amount"]), b["currency"],
                               idempotency_key=f"{b['booking_id']}:authorize_payment")
    return {**b, "payment_id": result.id}


def award(b: dict) -> dict:
    loyalty = _clients()[1]
    result = loyalty.create_award(b["account_id"], b["miles"], reference=b["booking_id"],
                                  idempotency_key=f"{b['booking_id']}:award_miles")
    return {**b, "award_id": result.id}


def confirm(b: dict) -> dict:
    payment, loyalty, r, engine, _ = _clients()
    with engine.begin() as conn:
        conn.execute(tickets.insert().values(booking_id=b["booking_id"], flight_id=b["flight_id"],
                                             seat=b["seat"], payment_id=b["payment_id"],
                                             award_id=b["award_id"]))
    seat_holds.release(r, b["flight_id"], [b["seat"]], b["booking_id"])
    payment.capture(b["payment_id"], Decimal(b["amount"]),
                    idempotency_key=f"{b['booking_id']}:capture_payment")
    loyalty.post_award(b["award_id"], idempotency_key=f"{b['booking_id']}:post_miles")
    return b


# Undoing, for celery-saga's compensations (never run in a round where nothing fails).
def release(b: dict) -> None:
    seat_holds.release(_clients()[2], b["flight_id"], [b["seat"]], b["booking_id"])


def void(b: dict) -> None:
    _clients()[0].cancel_authorization(f"{b['booking_id']}:authorize_payment",
                                       idempotency_key=f"{b['booking_id']}:cancel_payment")


def reverse(b: dict) -> None:
    _clients()[1].cancel_award(f"{b['booking_id']}:award_miles",
                               idempotency_key=f"{b['booking_id']}:reverse_miles")


def done_key(booking_id: str) -> str:
    return f"bench:done:{booking_id}"


@cache
def done_redis() -> redis.Redis:
    return redis.Redis.from_url(os.environ["BENCH_DONE_URL"])


def report_done(booking_id: str) -> None:
    """How the driver learns that a booking ended: its finish time, pushed to a list it waits on."""
    import time

    key = done_key(booking_id)
    done_redis().pipeline().rpush(key, repr(time.time())).expire(key, 600).execute()
