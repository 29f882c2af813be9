"""Settings: defaults here, overridden from the environment (see README "Configuration")."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

DEFAULT_SECRET_KEY = "dev-insecure-change-me"
PROJECT_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_DIR", PROJECT_DIR / "instance"))
# Seats in one hold or booking: fixed, since the request schemas are built with it at import.
MAX_SEATS_PER_HOLD = 9


# Development credentials for the payment and loyalty services (docs/security.md, "Between the
# services"): one per calling process, each with only the scopes that process needs. They are
# public, so production refuses them (app/settings_check.py, and each service when it starts).
DEV_CREDENTIALS: dict[str, dict[str, tuple[str, str]]] = {
    "payment": {"web": ("tokenize,read", "dev-payment-web"),
                "worker": ("authorize,capture,void,refund,cancel,read", "dev-payment-worker"),
                "support": ("read", "dev-payment-support")},
    "loyalty": {"web": ("read", "dev-loyalty-web"),
                "worker": ("award,post,reverse,cancel,read", "dev-loyalty-worker"),
                "support": ("read", "dev-loyalty-support")},
}


def dev_credentials(service: str) -> str:
    """The development value of PAYMENT_CREDENTIALS / LOYALTY_CREDENTIALS (app/participants/trust.py)."""
    entries = DEV_CREDENTIALS[service].items()
    return "; ".join(f"{name}:{scopes}:{secret}" for name, (scopes, secret) in entries)


def dev_secrets(service: str) -> frozenset[str]:
    return frozenset(secret for _, secret in DEV_CREDENTIALS[service].values())


def _caller_token(service: str) -> str | None:
    """This process's secret for ``service``: PAYMENT_TOKEN / LOYALTY_TOKEN, else its SERVICE_ROLE's
    development one (the Procfile names the role of each process; none for a role that calls nothing)."""
    token = os.environ.get(f"{service.upper()}_TOKEN")
    if token:
        return token
    development = DEV_CREDENTIALS[service].get(os.environ.get("SERVICE_ROLE", "web"))
    return development[1] if development else None


class SettingError(ValueError):
    """A setting in the environment is not of its type; the message names it, on one line."""


def number(name: str, default: float, kind: type = float) -> float:
    """The variable as a number of `kind`, its default when unset; SettingError when it is no number."""
    value = os.environ.get(name)
    if value is None:
        return kind(default)
    try:
        return kind(value)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise SettingError(f"refusing to start: {name}={value!r} is not {what}") from None


def _int(name: str, default: int) -> int:
    return number(name, default, int)


def _versions(name: str) -> tuple[int, ...]:
    value = os.environ.get(name, "").strip()
    try:
        return tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise SettingError(f"refusing to start: {name}={value!r} is not a list like 1,2") from None


def _float(name: str, default: float) -> float:
    return number(name, default, float)


def step_budget_seconds(settings: Mapping) -> float:
    """The hold time left that a saga step needs before it starts (app/saga.py keep_hold_for_next_step).

    SAGA_STEP_BUDGET_SECONDS, capped at half a hold. Extending a hold gives it HOLD_TTL_SECONDS from
    now, so a budget of half that is met by every extended hold (until HOLD_MAX_SECONDS) with half a
    hold to spare, while a budget of a whole hold or more can never be met: with holds shorter than
    SAGA_STEP_BUDGET_SECONDS every booking would fail `hold_expired`. A step's participant call needs
    only seconds, so half a hold is enough; app/settings_check.py refuses holds too short for that.
    """
    return min(settings["SAGA_STEP_BUDGET_SECONDS"], settings["HOLD_TTL_SECONDS"] / 2)


def broker_url_from_env() -> str:
    """CELERY_BROKER_URL, read here for the Flask config and celeryconfig.py alike."""
    return os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/1")


def logging_from_env() -> dict:
    """How every process logs: JSON lines in production, text for a developer's terminal."""
    production = os.environ.get("APP_ENV", "development") == "production"
    return {
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "json" if production else "text").lower(),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO").upper(),
    }


def _optional_bool(name: str) -> bool | None:
    """True or False when the variable is set, None (the app decides) when it is not."""
    value = os.environ.get(name)
    return None if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def database_url() -> str:
    return os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'booking.db'}")


def engine_options(url: str) -> dict:
    """A server's connection may have died in the pool (a restart, an idle timeout): ping it at
    checkout. A SQLite file has no server to lose, and the ping was a statement per checkout."""
    return {"pool_pre_ping": not url.startswith("sqlite")}


def from_env() -> dict:
    """Every setting the booking service reads, with its default."""
    return {
        **logging_from_env(),
        "ENV": os.environ.get("APP_ENV", "development"),
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY),
        "SQLALCHEMY_DATABASE_URI": database_url(),
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(database_url()),
        # Seat holds, rate limits; the Celery broker has its own DB number (celeryconfig.py).
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "CELERY_BROKER_URL": broker_url_from_env(),
        "PAYMENT_URL": os.environ.get("PAYMENT_URL", "http://127.0.0.1:8003"),
        "LOYALTY_URL": os.environ.get("LOYALTY_URL", "http://127.0.0.1:8002"),
        "FLOWER_URL": os.environ.get("FLOWER_URL", "http://127.0.0.1:5555"),
        # Where e-mail goes (app/mail.py): the development catcher by default (the Procfile's `mail`).
        "SMTP_URL": os.environ.get("SMTP_URL", "smtp://127.0.0.1:8025"),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Flight booking <bookings@localhost>"),
        # Which process this is (web, worker, beat), and its own credential for each participant.
        "SERVICE_ROLE": os.environ.get("SERVICE_ROLE", "web"),
        "PAYMENT_TOKEN": _caller_token("payment"),
        "LOYALTY_TOKEN": _caller_token("loyalty"),
        # Read by the flower process itself; here so that it is checked (app/settings_check.py).
        "FLOWER_BASIC_AUTH": os.environ.get("FLOWER_BASIC_AUTH"),
        # A worker on a machine without a web process serves its metrics on this port (0: off).
        "WORKER_METRICS_PORT": _int("WORKER_METRICS_PORT", 0),
        "PARTICIPANT_CONNECT_TIMEOUT": _float("PARTICIPANT_CONNECT_TIMEOUT", 2.0),
        "PARTICIPANT_READ_TIMEOUT": _float("PARTICIPANT_READ_TIMEOUT", 5.0),
        "HOLD_TTL_SECONDS": _int("HOLD_TTL_SECONDS", 600),
        # A saga may stretch its hold up to this long after the hold was taken.
        "HOLD_MAX_SECONDS": _int("HOLD_MAX_SECONDS", 1800),
        "MAX_SEATS_PER_HOLD": MAX_SEATS_PER_HOLD,
        "MAX_ACTIVE_HOLDS": _int("MAX_ACTIVE_HOLDS", 3),
        "TOKEN_TTL_SECONDS": _int("TOKEN_TTL_SECONDS", 86400),
        "IDEMPOTENCY_TTL_SECONDS": _int("IDEMPOTENCY_TTL_SECONDS", 86400),
        # Retry policy of saga steps and compensations: backoff = base * 2**attempt, capped, jittered.
        "SAGA_RETRY_BASE_SECONDS": _float("SAGA_RETRY_BASE_SECONDS", 0.5),
        "SAGA_RETRY_MAX_SECONDS": _float("SAGA_RETRY_MAX_SECONDS", 10.0),
        "SAGA_STEP_MAX_RETRIES": _int("SAGA_STEP_MAX_RETRIES", 4),
        "SAGA_COMPENSATION_MAX_RETRIES": _int("SAGA_COMPENSATION_MAX_RETRIES", 5),
        # The lease of a saga's writer: renewed by every write of its log and, while a step works,
        # by a heartbeat every third of it. Once it lapses the reconciler takes the saga over.
        "SAGA_LEASE_SECONDS": _float("SAGA_LEASE_SECONDS", 8.0),
        # A saga still `pending` this long after its POST was never enqueued (the broker was down).
        "SAGA_PENDING_GRACE_SECONDS": _int("SAGA_PENDING_GRACE_SECONDS", 15),
        # A step does not start with less hold time left than this (at most half of HOLD_TTL_SECONDS,
        # step_budget_seconds); the hold is extended first.
        "SAGA_STEP_BUDGET_SECONDS": _int("SAGA_STEP_BUDGET_SECONDS", 60),
        # The saga definition versions this process runs (app/saga.py), e.g. "1,2"; unset means all
        # that the code has. A worker consumes only their queues (docs/saga.md "Versions").
        "SAGA_DEFINITIONS": _versions("SAGA_DEFINITIONS"),
        # The version new bookings start under; 0 means the newest this process runs.
        "SAGA_DEFINITION_VERSION": _int("SAGA_DEFINITION_VERSION", 0),
        "RATELIMIT_ENABLED": os.environ.get("RATELIMIT_ENABLED", "true").lower() == "true",
        # Where the counters live; unset means REDIS_URL (app/api/limits.py).
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI"),
        "RATELIMIT_LOGIN": os.environ.get("RATELIMIT_LOGIN", "10/minute"),  # per address and email
        "RATELIMIT_LOGIN_PER_ADDRESS": os.environ.get("RATELIMIT_LOGIN_PER_ADDRESS", "60/minute"),
        "RATELIMIT_REGISTER": os.environ.get("RATELIMIT_REGISTER", "5/minute"),  # per address
        "RATELIMIT_HOLDS": os.environ.get("RATELIMIT_HOLDS", "30/minute"),  # per user
        "RATELIMIT_BOOKINGS": os.environ.get("RATELIMIT_BOOKINGS", "30/minute"),  # per user
        # How many reverse proxies in front set X-Forwarded-For/-Proto; 0 trusts neither header.
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
        # Browser cookies: Lax keeps them off cross-site posts; unset SESSION_COOKIE_SECURE means
        # Secure in production (settled in app/security.py).
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _optional_bool("SESSION_COOKIE_SECURE"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _optional_bool("SESSION_COOKIE_SECURE"),
        "MAX_CONTENT_LENGTH": 64 * 1024,
        # Seat spinning (app/hold_limits.py): seats one actor may hold at once, counting the holds a
        # saga takes for a direct booking; 0 turns a cap off.
        "MAX_HELD_SEATS_PER_FLIGHT": _int("MAX_HELD_SEATS_PER_FLIGHT", 9),  # per account
        "MAX_HELD_SEATS_PER_ACCOUNT": _int("MAX_HELD_SEATS_PER_ACCOUNT", 27),
        "NEW_ACCOUNT_SECONDS": _int("NEW_ACCOUNT_SECONDS", 3600),
        "MAX_HELD_SEATS_NEW_ACCOUNT": _int("MAX_HELD_SEATS_NEW_ACCOUNT", 9),  # younger than the above
        "MAX_HELD_SEATS_PER_ADDRESS_PER_FLIGHT": _int("MAX_HELD_SEATS_PER_ADDRESS_PER_FLIGHT", 18),
        "MAX_HELD_SEATS_PER_ADDRESS": _int("MAX_HELD_SEATS_PER_ADDRESS", 54),
        # Holds, bookings and cancellations stop this long before departure (app/catalog.py).
        "SALES_CLOSE_MINUTES": _int("SALES_CLOSE_MINUTES", 45),
        # The browser session expires this long after its last use (Flask checks the signature's age).
        "PERMANENT_SESSION_LIFETIME": timedelta(seconds=_int("SESSION_TTL_SECONDS", 43200)),
        # The bearer credential of the Prometheus scraper; unset, /metrics is not served.
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
        "API_TITLE": "Flight booking",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
    }


def payment_from_env() -> dict:
    """Every setting the payment service reads, with its default."""
    return {
        "SQLALCHEMY_DATABASE_URI": os.environ.get(
            "PAYMENT_DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'payment.db'}"
        ),
        # Keys the fingerprints of idempotent requests (a tokenize request carries a card number).
        "SECRET_KEY": os.environ.get("PAYMENT_SECRET_KEY", DEFAULT_SECRET_KEY),
        "ENV": os.environ.get("APP_ENV", "development"),
        # Who may call it, with what scopes (app/participants/trust.py).
        "PAYMENT_CREDENTIALS": os.environ.get("PAYMENT_CREDENTIALS", dev_credentials("payment")),
        "PAYMENT_LATENCY_MS": _int("PAYMENT_LATENCY_MS", 0),
        # When the latency is spent: "after" the work (a late answer) or "before" it (late work).
        "PAYMENT_LATENCY_AT": os.environ.get("PAYMENT_LATENCY_AT", "after").lower(),
        "MAX_CONTENT_LENGTH": 16 * 1024,
    }


def loyalty_from_env() -> dict:
    """Every setting the loyalty service reads, with its default."""
    return {
        "SQLALCHEMY_DATABASE_URI": os.environ.get(
            "LOYALTY_DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'loyalty.db'}"
        ),
        "SECRET_KEY": os.environ.get("LOYALTY_SECRET_KEY", DEFAULT_SECRET_KEY),
        "ENV": os.environ.get("APP_ENV", "development"),
        "LOYALTY_CREDENTIALS": os.environ.get("LOYALTY_CREDENTIALS", dev_credentials("loyalty")),
        "LOYALTY_LATENCY_MS": _int("LOYALTY_LATENCY_MS", 0),
        "LOYALTY_LATENCY_AT": os.environ.get("LOYALTY_LATENCY_AT", "after").lower(),
        "MAX_CONTENT_LENGTH": 16 * 1024,
    }
