"""Rotating the services' credentials while bookings run: none fails (docs/security.md, Rotation).

The real worker thread books through the in-process services. Rotation is the three steps an
operator takes: the services accept the new secret beside the old one, the callers switch to the
new one (a restart with the new PAYMENT_TOKEN / LOYALTY_TOKEN: here, new clients), the services
drop the old one. Bookings are started before, between and after the steps, and some are still in
flight at each step.
"""

from __future__ import annotations

import pytest

from app.errors import ParticipantRejected
from app.extensions import db
from app.models import TERMINAL, Saga
from app.participants.trust import parse_credentials
from tests.conftest import book
from tests.integration.conftest import wait_terminal
from tests.integration.saga_helpers import assert_confirmed
from tests.participants import credentials_of, wsgi_loyalty_client, wsgi_payment_client

pytestmark = pytest.mark.integration

BOOKINGS_PER_STEP = 4
SETTINGS = {"payment": "PAYMENT_CREDENTIALS", "loyalty": "LOYALTY_CREDENTIALS"}


def in_flight(saga_ids: list[str]) -> int:
    db.session.expire_all()
    return db.session.execute(db.select(db.func.count(Saga.id)).where(
        Saga.id.in_(saga_ids), Saga.status.not_in(TERMINAL))).scalar()


def restart_service(service_app, service: str, secrets: str) -> None:
    """What a restart with the new setting does: the service's credentials, replaced at once."""
    setting = credentials_of(service, booking=secrets)
    service_app.extensions["credentials"] = parse_credentials(setting, SETTINGS[service])


def test_rotating_the_booking_credential_while_bookings_run_fails_none(live_app, worker, client,
                                                                       make_user, auth_headers, make_flight):
    payment_app = live_app.extensions["payment"]._http._transport.app
    loyalty_app = live_app.extensions["loyalty"]._http._transport.app
    flight = make_flight()
    seats = iter(f"{row}{letter}" for row in range(1, 30) for letter in "ABCDEF")
    started: list[str] = []
    replaced = []

    def start_some() -> None:
        for _ in range(BOOKINGS_PER_STEP):  # each by another traveller, within the seat caps
            response = book(client, auth_headers(make_user()), flight.id, [next(seats)])
            assert response.status_code == 202, response.get_json()
            started.append(response.get_json()["id"])

    def switch_callers(token_of: dict[str, str]) -> None:
        # The web process and the worker restarting with the new token: new clients, new credential.
        replaced.extend([live_app.extensions["payment"], live_app.extensions["loyalty"]])
        live_app.extensions["payment"] = wsgi_payment_client(payment_app, token=token_of["payment"])
        live_app.extensions["loyalty"] = wsgi_loyalty_client(loyalty_app, token=token_of["loyalty"])

    running = []  # sagas in flight at each step
    start_some()  # on the old secrets
    running.append(in_flight(started))
    restart_service(payment_app, "payment", "new-payment-secret,test-payment-booking")
    restart_service(loyalty_app, "loyalty", "new-loyalty-secret,test-loyalty-booking")
    start_some()  # the services accept both
    running.append(in_flight(started))
    switch_callers({"payment": "new-payment-secret", "loyalty": "new-loyalty-secret"})
    start_some()  # the callers use the new one
    # Every caller has switched, so the old secret goes, with these sagas still in flight: each of
    # their steps takes the app's client when it calls, the new one.
    running.append(in_flight(started))
    restart_service(payment_app, "payment", "new-payment-secret")
    restart_service(loyalty_app, "loyalty", "new-loyalty-secret")
    start_some()  # on the new secrets only

    try:
        for saga_id in started:
            assert_confirmed(wait_terminal(saga_id))
        assert sum(running) > 0, f"no saga was in flight during the rotation {running}"
        # The old secret opens nothing any more.
        for old in replaced:
            with pytest.raises(ParticipantRejected) as refused:
                old._call("GET", "/operations/anything")
            assert refused.value.status == 401
    finally:
        for old in replaced:
            old.close()
