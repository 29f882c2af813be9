"""`flask --app wsgi seed`: demo flights and the admin, and running it twice changes nothing."""

from __future__ import annotations

import pytest

from app.auth import verify_password
from app.cli import DEMO_FLIGHTS
from app.models import Flight, Seat, User


@pytest.fixture
def seed(app, monkeypatch):
    monkeypatch.delenv("ADMIN_EMAIL", raising=False)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    runner = app.test_cli_runner()

    def run() -> str:
        result = runner.invoke(args=["seed"])
        assert result.exit_code == 0, result.output
        return result.output

    return run


def test_seed_adds_the_demo_flights_once(seed):
    assert f"demo flights added: {len(DEMO_FLIGHTS)}" in seed()
    assert "demo flights added: 0" in seed()
    assert Flight.query.count() == len(DEMO_FLIGHTS)
    assert Seat.query.count() == 162 * len(DEMO_FLIGHTS)
    assert User.query.count() == 0


def test_seed_creates_the_admin_from_the_environment(seed, monkeypatch):
    monkeypatch.setenv("ADMIN_EMAIL", "Ops@Example.com")
    monkeypatch.setenv("ADMIN_PASSWORD", "change me now")
    assert "admin Ops@Example.com: created or promoted" in seed()
    assert "admin Ops@Example.com: already admin" in seed()
    admin = User.query.one()
    assert (admin.email, admin.is_admin) == ("ops@example.com", True)
    assert verify_password(admin, "change me now")


def test_seed_promotes_an_existing_account(seed, monkeypatch, make_user):
    make_user("ops@example.com")
    monkeypatch.setenv("ADMIN_EMAIL", "ops@example.com")
    monkeypatch.setenv("ADMIN_PASSWORD", "change me now")
    assert "created or promoted" in seed()
    assert User.query.one().is_admin
