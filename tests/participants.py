"""The payment and loyalty services in-process, and a booking app wired to them through httpx.

``wire_participants(booking_app, tmp_path)`` is what the ``participants`` fixture does, as a plain
function for tests that build their apps themselves (e.g. with a real Celery worker thread). The
clients are the production ones; only their transport is httpx's WSGI transport, wrapped so that a
test can name a fault for a call (tests/faults.py; ``participants.faults``, or the ``faults`` fixture).

Both services get the credentials below. The web process and the worker are two processes with
two credentials in production, but a test's booking app plays both (its requests tokenize, its
worker thread authorizes), so its clients carry ``booking``, which has the scopes of both. The
services' own test clients (``service_app.test_client()``) carry it too; tests of the credentials
themselves build bare clients (tests/unit/test_participant_trust.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from app.config import DEV_CREDENTIALS
from app.participants.loyalty.client import LoyaltyClient
from app.participants.loyalty.service import create_app as create_loyalty_app
from app.participants.payment.client import Payment, PaymentClient
from app.participants.payment.service import create_app as create_payment_app
from app.participants.service_client import segment
from tests.faults import Faults, FaultyTransport

PAYMENT_URL = "http://payment.test"
LOYALTY_URL = "http://loyalty.test"


@contextmanager
def served(service_app: Flask) -> Iterator[str]:
    """The service on a free 127.0.0.1 port, a real socket, so client timeouts are real; its URL."""
    server = make_server("127.0.0.1", 0, service_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def payment_over_socket(url: str, read_timeout: float) -> PaymentClient:
    """A booking-side payment client of `url` that waits `read_timeout` seconds for an answer."""
    return PaymentClient(url, connect_timeout=1.0, read_timeout=read_timeout,
                         token=secret_of("payment", "booking"))


def payment_by_id(payment: PaymentClient, payment_id: str) -> Payment:
    """GET /payments/{id} through the client's transport (the app itself finds payments by key)."""
    return Payment.from_json(payment._call("GET", f"/payments/{segment(payment_id)}"))


def scopes_of(service: str) -> dict[str, str]:
    """Credential name → its scopes, as in production, plus ``booking`` with web's and worker's."""
    scopes = {name: granted for name, (granted, _) in DEV_CREDENTIALS[service].items()}
    both = sorted(set(scopes["web"].split(",")) | set(scopes["worker"].split(",")))
    return {**scopes, "booking": ",".join(both)}


def secret_of(service: str, name: str) -> str:
    return f"test-{service}-{name}"


def credentials_of(service: str, **secrets: str) -> str:
    """The ``PAYMENT_CREDENTIALS`` / ``LOYALTY_CREDENTIALS`` of a test service; ``secrets`` replaces
    the secret list (``"new,old"`` while rotating) of the credentials it names."""
    return "; ".join(f"{name}:{scopes}:{secrets.get(name, secret_of(service, name))}"
                     for name, scopes in scopes_of(service).items())


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _trusted_test_client(service: str) -> type[FlaskClient]:
    class TrustedClient(FlaskClient):
        """Flask's test client, calling as the booking app does (explicit headers still win)."""

        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret_of(service, 'booking')}"

    return TrustedClient


def build_payment_app(tmp_path: Path, **overrides: object) -> Flask:
    """The real payment service on its own SQLite file, answering at once."""
    config = {"TESTING": True, "SECRET_KEY": "test-payment-secret", "PAYMENT_LATENCY_MS": 0,
              "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'payment.db'}",
              "PAYMENT_CREDENTIALS": credentials_of("payment")}
    service_app = create_payment_app({**config, **overrides})
    service_app.test_client_class = _trusted_test_client("payment")
    return service_app


def build_loyalty_app(tmp_path: Path, **overrides: object) -> Flask:
    """The real loyalty service on its own SQLite file, answering at once."""
    config = {"TESTING": True, "SECRET_KEY": "test-loyalty-secret", "LOYALTY_LATENCY_MS": 0,
              "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'loyalty.db'}",
              "LOYALTY_CREDENTIALS": credentials_of("loyalty")}
    service_app = create_loyalty_app({**config, **overrides})
    service_app.test_client_class = _trusted_test_client("loyalty")
    return service_app


def dispose_service(service_app: Flask) -> None:
    """Closes the pooled connections of a service app's own database."""
    with service_app.app_context():
        service_app.extensions["sqlalchemy"].engine.dispose()


def _transport(service: str, service_app: Flask, faults: Faults | None) -> httpx.BaseTransport:
    wsgi = httpx.WSGITransport(app=service_app)
    return wsgi if faults is None else FaultyTransport(wsgi, service, faults)


def wsgi_payment_client(payment_app: Flask, *, connect_timeout: float = 2.0, read_timeout: float = 5.0,
                        token: str | None = None, faults: Faults | None = None) -> PaymentClient:
    return PaymentClient(PAYMENT_URL, connect_timeout=connect_timeout, read_timeout=read_timeout,
                         transport=_transport("payment", payment_app, faults),
                         token=token or secret_of("payment", "booking"))


def wsgi_loyalty_client(loyalty_app: Flask, *, connect_timeout: float = 2.0, read_timeout: float = 5.0,
                        token: str | None = None, faults: Faults | None = None) -> LoyaltyClient:
    return LoyaltyClient(LOYALTY_URL, connect_timeout=connect_timeout, read_timeout=read_timeout,
                         transport=_transport("loyalty", loyalty_app, faults),
                         token=token or secret_of("loyalty", "booking"))


@dataclass
class Participants:
    """Both services and the clients the booking app now uses to reach them."""

    payment_app: Flask
    loyalty_app: Flask
    payment: PaymentClient
    loyalty: LoyaltyClient
    faults: Faults
    owned_apps: list[Flask] = field(default_factory=list)

    def close(self) -> None:
        self.payment.close()
        self.loyalty.close()
        for service_app in self.owned_apps:
            dispose_service(service_app)


def wire_participants(booking_app: Flask, tmp_path: Path, *, payment_app: Flask | None = None,
                      loyalty_app: Flask | None = None) -> Participants:
    """Points ``booking_app``'s payment and loyalty clients at in-process services; call ``close()`` after.

    Services not given are built on SQLite files under ``tmp_path`` and disposed of by ``close()``.
    """
    owned = []
    if payment_app is None:
        payment_app = build_payment_app(tmp_path)
        owned.append(payment_app)
    if loyalty_app is None:
        loyalty_app = build_loyalty_app(tmp_path)
        owned.append(loyalty_app)
    faults = Faults()
    wired = Participants(payment_app, loyalty_app, wsgi_payment_client(payment_app, faults=faults),
                         wsgi_loyalty_client(loyalty_app, faults=faults), faults, owned)
    for name, client in (("payment", wired.payment), ("loyalty", wired.loyalty)):
        replaced = booking_app.extensions.get(name)
        if replaced is not None:
            replaced.close()
        booking_app.extensions[name] = client
    booking_app.extensions["participant_faults"] = faults  # the `faults` fixture
    return wired
