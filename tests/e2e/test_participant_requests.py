"""The payment service under gunicorn, spoken to over a raw socket: a request cut short does nothing.

A worker killed while it sends a capture leaves the service its headers and no body; gunicorn hands
that over as an empty body. Acted on, "no body" meant "capture all of it" under the step's key, and
the step's retry with its whole body was refused as a different request until someone stepped in.
"""

from __future__ import annotations

import json
import socket
import uuid
from decimal import Decimal

import pytest

from app.participants.payment.client import PaymentClient
from tests.conftest import card
from tests.e2e.conftest import make_stack, shared_redis_urls
from tests.e2e.stack import e2e_secret

# Participants keep their own SQLite files whatever the booking service's database is.
pytestmark = [pytest.mark.e2e, pytest.mark.engine_independent]


@pytest.fixture
def payment_url(tmp_path):
    stack = make_stack(tmp_path, *shared_redis_urls())
    try:
        stack.start("payment")
        yield stack.env["PAYMENT_URL"]
    finally:
        stack.stop()


@pytest.fixture
def as_caller(payment_url):
    """PaymentClient of a caller ("web", "worker") of the service under test, closed afterwards."""
    clients: list[PaymentClient] = []

    def make(caller: str) -> PaymentClient:
        clients.append(PaymentClient(payment_url, connect_timeout=2, read_timeout=10,
                                     token=e2e_secret("payment", caller)))
        return clients[-1]

    yield make
    for made in clients:
        made.close()


def headers_only(url: str, path: str, *, key: str, length: int) -> tuple[int, dict]:
    """POST `path` with a Content-Length of `length` and no body, then end the connection's sending
    side, as a caller killed between its headers and its body; the status and problem answered."""
    host, port = url.removeprefix("http://").split(":")
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\nIdempotency-Key: {key}\r\n"
            f"Authorization: Bearer {e2e_secret('payment', 'worker')}\r\nConnection: close\r\n\r\n")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head.encode())
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2] or b"{}")


def test_a_capture_whose_caller_died_after_its_headers_captures_nothing(payment_url, as_caller):
    token = as_caller("web").tokenize(**card())
    worker = as_caller("worker")
    key = f"{uuid.uuid4()}:capture_payment"
    payment = worker.authorize(token.token, Decimal("300.00"), "USD", idempotency_key=f"{key}:auth")

    status, problem = headers_only(payment_url, f"/payments/{payment.id}/capture", key=key,
                                   length=len(json.dumps({"amount": "120.00"})))

    assert (status, problem.get("code")) == (400, "incomplete_body")
    assert worker.lookup(f"{key}:auth").status == "authorized"
    # The step's retry, whole, under the same key: done as asked, not refused as another request.
    captured = worker.capture(payment.id, Decimal("120.00"), idempotency_key=key)
    assert (captured.status, captured.captured_amount) == ("captured", Decimal("120.00"))
