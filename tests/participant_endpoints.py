"""Every endpoint of the payment and loyalty services with the scope it needs.

The table drives tests/unit/test_participant_trust.py, where a test fails when a service gains an
endpoint without a row here (compared with each service's url_map).
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.conftest import card

PUBLIC = None  # no credential needed

CARD = card()


@dataclass(frozen=True)
class Endpoint:
    service: str  # "payment" | "loyalty"
    method: str
    path: str  # placeholders: {payment}, {award}, {key}, {account}, {token}
    scope: str | None
    body: dict | None = None

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.path}"


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("payment", "GET", "/healthz", PUBLIC),
    Endpoint("payment", "GET", "/openapi.json", PUBLIC),
    Endpoint("payment", "POST", "/tokens", "tokenize", CARD),
    Endpoint("payment", "POST", "/payments", "authorize",
             {"token": "{token}", "amount": "10.00", "currency": "USD"}),
    Endpoint("payment", "GET", "/payments/{payment}", "read"),
    Endpoint("payment", "POST", "/payments/{payment}/void", "void"),
    Endpoint("payment", "POST", "/payments/{payment}/capture", "capture"),
    Endpoint("payment", "POST", "/payments/{payment}/refund", "refund"),
    Endpoint("payment", "GET", "/operations/{key}", "read"),
    Endpoint("payment", "POST", "/operations/{key}/cancel", "cancel"),
    Endpoint("loyalty", "GET", "/healthz", PUBLIC),
    Endpoint("loyalty", "GET", "/openapi.json", PUBLIC),
    Endpoint("loyalty", "POST", "/awards", "award",
             {"account_id": "42", "miles": 1_000_000, "reference": "booking-1"}),
    Endpoint("loyalty", "GET", "/awards/{award}", "read"),
    Endpoint("loyalty", "POST", "/awards/{award}/post", "post"),
    Endpoint("loyalty", "POST", "/awards/{award}/reverse", "reverse"),
    Endpoint("loyalty", "GET", "/accounts/{account}/balance", "read"),
    Endpoint("loyalty", "GET", "/operations/{key}", "read"),
    Endpoint("loyalty", "POST", "/operations/{key}/cancel", "cancel"),
)
