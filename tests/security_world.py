"""Two travellers, an administrator and what they own, and every API endpoint with who may call it.

Alice owns a hold (seat 1A) and a confirmed booking (seat 2A); Bob owns nothing; the administrator
operates. The ENDPOINTS table drives the authorization tests (tests/unit/test_security_authz.py),
and a test there fails when an endpoint is added without a row here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import Flask

from app.auth import issue_token
from app.holds import take_hold
from app.models import User
from tests.conftest import card

PUBLIC = "public"  # anyone, even without credentials
USER = "user"  # any authenticated caller
OWNER = "owner"  # only the owner of the object in the path or body; everyone else gets 404
OWNER_READ = "owner-read"  # the owner, and administrators may read it too
ADMIN = "admin"  # administrators; other callers 403

TOMORROW = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # placeholders: {flight}, {seat}, {hold}, {booking}
    access: str
    body: dict | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/api/v1/openapi.json", PUBLIC),
    Endpoint("POST", "/api/v1/auth/register", PUBLIC,
             {"email": "new@example.com", "password": "long enough", "name": "New"}),
    Endpoint("POST", "/api/v1/auth/token", PUBLIC,
             {"email": "alice@example.com", "password": "correct horse"}),
    Endpoint("POST", "/api/v1/auth/logout", USER),
    Endpoint("GET", "/api/v1/me", USER),
    Endpoint("GET", "/api/v1/flights", PUBLIC),
    Endpoint("POST", "/api/v1/flights", ADMIN, {
        "number": "SA777", "origin": "CDG", "destination": "NRT",
        "departs_at": TOMORROW.isoformat(), "arrives_at": (TOMORROW + timedelta(hours=12)).isoformat()}),
    Endpoint("GET", "/api/v1/flights/{flight}", PUBLIC),
    Endpoint("GET", "/api/v1/flights/{flight}/seats", PUBLIC),
    Endpoint("POST", "/api/v1/flights/{flight}/holds", USER, {"seats": ["3A"]}),
    Endpoint("GET", "/api/v1/holds/{hold}", OWNER_READ),
    Endpoint("DELETE", "/api/v1/holds/{hold}", OWNER),
    # Booking someone else's hold is using their object: as unknown as their hold itself.
    Endpoint("POST", "/api/v1/bookings", OWNER, {"hold_id": "{hold}", "payment": card()}),
    Endpoint("GET", "/api/v1/bookings", USER),
    Endpoint("GET", "/api/v1/bookings/{booking}", OWNER_READ),
    Endpoint("POST", "/api/v1/bookings/{booking}/cancel", OWNER),
    Endpoint("PUT", "/api/v1/admin/flights/{flight}/seats/{seat}", ADMIN, {"blocked": True}),
    Endpoint("GET", "/api/v1/admin/sagas", ADMIN),
    Endpoint("POST", "/api/v1/admin/sagas/{booking}/retry", ADMIN),
)


@dataclass
class World:
    app: Flask
    alice: User
    bob: User
    admin: User
    flight_id: int
    hold_id: str
    booking_id: str
    ids: dict = field(init=False)

    def __post_init__(self) -> None:
        self.ids = {"flight": self.flight_id, "seat": "4A", "hold": self.hold_id, "booking": self.booking_id}

    def path(self, endpoint: Endpoint) -> str:
        return endpoint.path.format(**self.ids)

    def body(self, endpoint: Endpoint) -> dict | None:
        if endpoint.body is None:
            return None
        return {name: value.format(**self.ids) if isinstance(value, str) else value
                for name, value in endpoint.body.items()}

    def call(self, endpoint: Endpoint, user: User | None = None, headers: dict | None = None):
        """One request, in its own app context as in production, with a fresh token for `user`."""
        headers = dict(headers or {})
        if user is not None:
            headers["Authorization"] = f"Bearer {issue_token(user)[0]}"
        with self.app.app_context(), self.app.test_client() as client:
            return client.open(self.path(endpoint), method=endpoint.method, json=self.body(endpoint),
                               headers=headers)


def build_world(app, make_user, make_flight, insert_ticket) -> World:
    alice = make_user("alice@example.com", name="Alice")
    bob = make_user("bob@example.com", name="Bob")
    admin = make_user("admin@example.com", name="Admin", is_admin=True)
    flight = make_flight()
    hold = take_hold(alice.id, flight, ["1A"])
    ticket = insert_ticket(flight, alice, ["2A"])
    return World(app, alice, bob, admin, flight.id, hold.id, ticket.saga_id)


def stub_enqueue(monkeypatch) -> list[tuple[str, str]]:
    """Record what would be sent to the broker instead of sending it: no broker is needed."""
    from app.tasks import chains as saga_tasks

    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(saga_tasks, "dispatch", lambda plan: sent.append(
        ("start" if plan.actions else "compensate", plan.saga_id)))
    return sent
