"""`flask --app wsgi config check`: the effective settings of every process, secrets masked, and the
rules they break (exit status 1 when any).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import click
from flask import Flask

from app import config, settings_check
from app.url_checks import masked_value

# Fixed in app/config.py, not read from the environment: nothing an operator can get wrong.
FIXED = {"SQLALCHEMY_DATABASE_URI", "SQLALCHEMY_ENGINE_OPTIONS", "ENV", "MAX_SEATS_PER_HOLD",
         "MAX_CONTENT_LENGTH", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
         "REMEMBER_COOKIE_HTTPONLY", "REMEMBER_COOKIE_SAMESITE", "REMEMBER_COOKIE_SECURE", "API_TITLE",
         "API_VERSION", "OPENAPI_VERSION", "OPENAPI_URL_PREFIX", "OPENAPI_JSON_PATH"}
CELERY_SHOWN = ("broker_url", "CELERY_VISIBILITY_TIMEOUT", "task_time_limit", "default_retry_delay",
                "JANITOR_INTERVAL_SECONDS", "beat_max_loop_interval", "redbeat_lock_timeout")


def sections(app: Flask) -> dict[str, dict]:
    """What each process runs with: the booking app (as checked), Celery, the two participants."""
    booking = settings_check.booking_settings(app)
    celery = app.extensions["celery"].conf
    return {
        "booking service (web, worker, beat, flower)": {
            "APP_ENV": booking["APP_ENV"], "DATABASE_URL": booking["DATABASE_URL"],
            **{name: value for name, value in config.from_env().items() if name not in FIXED},
        },
        "celery (worker, beat)": {
            **{name: booking.get(name) for name in CELERY_SHOWN if name != "broker_url"},
            "broker_url": celery.broker_url, "redbeat_key_prefix": celery.get("redbeat_key_prefix"),
        },
        "payment service": settings_check.service_settings(config.payment_from_env(), "PAYMENT"),
        "loyalty service": settings_check.service_settings(config.loyalty_from_env(), "LOYALTY"),
    }


def report(app: Flask) -> tuple[list[str], bool]:
    """The report's lines, and whether every rule holds."""
    every = sections(app)
    merged: dict = {}
    for values in every.values():
        merged.update(values)
    merged.update(settings_check.booking_settings(app))
    broken = settings_check.broken_rules(merged)
    lines = list(_settings_lines(every))
    if broken:
        lines.append(f"{len(broken)} rule(s) broken:")
        lines.extend(f"  {settings_check.describe(merged, [rule])}" for rule in broken)
    else:
        lines.append(f"every rule holds ({len(settings_check.RULES)} checked)")
    return lines, not broken


def _settings_lines(every: Mapping[str, Mapping]) -> Iterator[str]:
    for title, values in every.items():
        yield f"{title}:"
        for name in sorted(values):
            yield f"  {name} = {masked_value(name, values[name])}"


def reporting_app() -> Flask:
    """What `flask --app wsgi config check` loads: the settings and Celery's, and nothing that opens a
    URL, so that settings the booking app would refuse can still be shown."""
    from app import celery_init_app

    app = Flask("app", instance_path=str(config.INSTANCE_DIR))
    app.config.from_mapping(config.from_env())
    celery_init_app(app)
    init_app(app)
    return app


def init_app(app: Flask) -> None:
    group = click.Group("config", help="Inspect the settings.")

    @group.command("check")
    def check() -> None:
        """Print the effective settings (secrets masked) and the rules they break; exit 1 if any."""
        lines, workable = report(app)
        click.echo("\n".join(lines))
        if not workable:
            raise SystemExit(1)

    app.cli.add_command(group)
