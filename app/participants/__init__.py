"""The other parties of a booking: each a separate service reached only through its client."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:
    from app.participants.loyalty.client import LoyaltyClient
    from app.participants.payment.client import PaymentClient


def init_app(app: Flask) -> None:
    from app.participants.loyalty.client import LoyaltyClient
    from app.participants.payment.client import PaymentClient

    timeouts = {
        "connect_timeout": app.config["PARTICIPANT_CONNECT_TIMEOUT"],
        "read_timeout": app.config["PARTICIPANT_READ_TIMEOUT"],
    }
    app.extensions["payment"] = PaymentClient(app.config["PAYMENT_URL"], token=app.config["PAYMENT_TOKEN"],
                                              **timeouts)
    app.extensions["loyalty"] = LoyaltyClient(app.config["LOYALTY_URL"], token=app.config["LOYALTY_TOKEN"],
                                              **timeouts)


# Not named `payment` and `loyalty`: importing the subpackages of those names would replace them.
def payment_client() -> PaymentClient:
    return current_app.extensions["payment"]


def loyalty_client() -> LoyaltyClient:
    return current_app.extensions["loyalty"]
