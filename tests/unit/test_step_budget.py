"""The hold time a saga step needs before it starts follows the hold's length (keep_hold_for_next_step)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from app.config import step_budget_seconds
from app.extensions import db
from app.holds import take_hold
from app.models import Saga
from app.models.types import utcnow
from app.saga import keep_hold_for_next_step


@pytest.mark.parametrize(("budget", "ttl", "expected"),
                         [(60, 600, 60), (60, 45, 22.5), (60, 20, 10), (5, 600, 5)])
def test_the_step_budget_is_at_most_half_a_hold(budget, ttl, expected):
    assert step_budget_seconds({"SAGA_STEP_BUDGET_SECONDS": budget, "HOLD_TTL_SECONDS": ttl}) == expected


@pytest.mark.parametrize(("left", "extended"), [(15, False), (5, True)])
def test_a_twenty_second_hold_is_kept_or_extended_for_the_next_step(app, make_user, make_flight,
                                                                   monkeypatch, left, extended):
    monkeypatch.setitem(app.config, "HOLD_TTL_SECONDS", 20)
    user, flight = make_user(), make_flight()
    saga = Saga(user_id=user.id, flight_id=flight.id, seats=["12A"], amount=Decimal("150.00"),
                currency=flight.currency, miles=150, card_token="tok_test", card_brand="visa",
                card_last4="4242")
    db.session.add(saga)
    db.session.commit()
    hold = take_hold(user.id, flight, ["12A"], saga_id=saga.id, enforce_limits=False, ttl_seconds=left)
    before = hold.expires_at

    keep_hold_for_next_step(saga)  # raised HoldExpired while the budget was a fixed 60 s

    db.session.refresh(hold)
    if extended:
        assert hold.expires_at - utcnow() > timedelta(seconds=19)
    else:
        assert hold.expires_at == before
