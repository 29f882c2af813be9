"""The other parties of a booking: each a separate service reached only through its client."""

from __future__ import annotations

from flask import Flask, current_app


def init_app(app: Flask) -> None:
    from app.participants.loyalty.client import LoyaltyClient
    from app.participants.payment.client import PaymentClient

    timeouts = {
        "connect_timeout": app.config["PARTICIPANT_CONNECT_TIMEOUT"],
        "read_timeout": app.config["PARTICIPANT_READ_TIMEOUT"],
    }
    app.extensions["payment"] = PaymentClient(app.config["PAYMENT_URL"], **timeouts)
    app.extensions["loyalty"] = LoyaltyClient(app.config["LOYALTY_URL"], **timeouts)


def payment():
    return current_app.extensions["payment"]


def loyalty():
    return current_app.extensions["loyalty"]
