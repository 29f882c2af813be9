"""`flask --app wsgi seed`: demo flights, and an admin when ADMIN_EMAIL/ADMIN_PASSWORD are set."""

from __future__ import annotations

import os
from datetime import UTC, datetime, time, timedelta

import click
from flask import Flask

from app.catalog import create_flight
from app.extensions import db
from app.models import Flight, User

# (number, origin, destination, days from today, departure hour, minutes in the air)
DEMO_FLIGHTS = (
    ("SA101", "LHR", "JFK", 1, 9, 480),
    ("SA102", "JFK", "LHR", 2, 18, 420),
    ("SA201", "CDG", "FCO", 1, 7, 125),
    ("SA202", "FCO", "CDG", 3, 16, 130),
    ("SA301", "SFO", "NRT", 2, 11, 660),
    ("SA302", "NRT", "SFO", 5, 17, 560),
    ("SA401", "AMS", "BCN", 1, 13, 140),
    ("SA402", "BCN", "AMS", 4, 8, 145),
)


def seed_demo_flights(today: datetime | None = None) -> int:
    """Adds the demo flights that are missing or have departed; returns how many it added."""
    today = today or datetime.now(UTC)
    added = 0
    for number, origin, destination, days, hour, minutes in DEMO_FLIGHTS:
        departs = datetime.combine(today.date() + timedelta(days=days), time(hour), tzinfo=UTC)
        # A demo flight that has departed no longer sells (nor shows in search): seed its next one.
        exists = db.session.execute(
            db.select(Flight.id).where(Flight.number == number, Flight.departs_at > today)
        ).first()
        if exists:
            continue
        create_flight(
            number=number,
            origin=origin,
            destination=destination,
            departs_at=departs,
            arrives_at=departs + timedelta(minutes=minutes),
        )
        added += 1
    db.session.commit()
    return added


def seed_admin(email: str, password: str) -> bool:
    """Creates the admin, or makes an existing account admin; True when anything changed."""
    from app.auth import hash_password

    user = db.session.execute(db.select(User).filter_by(email=email.lower())).scalar_one_or_none()
    if user is None:
        db.session.add(User(email=email.lower(), name="Administrator",
                            password_hash=hash_password(password), is_admin=True))
    elif not user.is_admin:
        user.is_admin = True
    else:
        return False
    db.session.commit()
    return True


def init_app(app: Flask) -> None:
    @app.cli.command("seed")
    def seed() -> None:
        """Create the demo flights (idempotent) and the admin user from the environment."""
        click.echo(f"demo flights added: {seed_demo_flights()}")
        email, password = os.environ.get("ADMIN_EMAIL"), os.environ.get("ADMIN_PASSWORD")
        if email and password:
            changed = seed_admin(email, password)
            click.echo(f"admin {email}: {'created or promoted' if changed else 'already admin'}")

    @app.cli.command("saga-versions")
    def saga_versions() -> None:
        """Sagas with work left under each definition version; a version at 0 can be removed."""
        from app import definitions, saga_log

        newest = definitions.current().version
        for version, count in saga_log.in_flight_by_version().items():
            note = "new bookings start here" if version == newest else (
                "can be removed" if count == 0 else "keep: sagas still run under it")
            registered = "" if version in definitions.registered() else " (NOT in this code: deploy it back)"
            click.echo(f"v{version}: {count} in flight{registered}, {note}")
