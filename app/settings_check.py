"""Settings that cannot work, refused when the app is created (SPEC I9): the rules, as one list.

Each rule names the settings it reads; the app refuses to start with one line that names, with their
values, the settings of every rule they break. Celery's settings come from the configured Celery app
(celeryconfig.py), so what is checked is what the worker will use. A rule applies to a process when
that process has every setting it names: the booking app (web, worker, beat, Flower, `flask`) checks
its rules, the payment and loyalty services theirs, and `flask --app wsgi config check` all of them.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from celery import Celery
from flask import Flask

from app import definitions
from app.config import DEFAULT_SECRET_KEY, SettingError, dev_secrets, step_budget_seconds
from app.url_checks import broker_url_ok, database_url_ok, http_url_ok, masked_value, redis_url_ok

# Participant calls a step makes while it needs its hold: authorize_payment and award_miles make one
# each, and confirm_booking consumes the hold (its fence) before it captures and posts the miles.
CALLS_PER_STEP = 1
# What kombu's Redis transport uses when broker_transport_options names no visibility_timeout.
KOMBU_VISIBILITY_TIMEOUT = 3600
# The environments APP_ENV may name: anything else ("prod", "Production") would skip production's
# rules and its Secure cookies without a word.
ENVIRONMENTS = ("development", "test", "production")
# 32 characters of token_urlsafe are 192 bits; a short key signs sessions anyone can brute-force.
MIN_SECRET_KEY_LENGTH = 32
# A lease heartbeat is a SQL write on its own connection, which may wait a second for a lock: beats
# closer together than this would be spent waiting, and the lease would lapse under a live writer.
MIN_HEARTBEAT_SECONDS = 1.0
# The exit status of a refusal. gunicorn halts on it ("App failed to load") instead of booting its
# workers again and again; any other process just exits with it.
REFUSED_EXIT_STATUS = 4


class UnworkableSettings(RuntimeError):
    """The settings break at least one rule; the message names each, on one line."""


@dataclass(frozen=True)
class Rule:
    settings: tuple[str, ...]  # shown with their values when the rule is broken
    says: str
    holds: Callable[[Mapping], bool]


def step_call_seconds(settings: Mapping) -> float:
    """The longest a step's participant calls may take: their connect and read timeouts."""
    return CALLS_PER_STEP * (settings["PARTICIPANT_CONNECT_TIMEOUT"] + settings["PARTICIPANT_READ_TIMEOUT"])


RULES: tuple[Rule, ...] = (
    Rule(("HOLD_TTL_SECONDS", "SAGA_STEP_BUDGET_SECONDS", "PARTICIPANT_CONNECT_TIMEOUT",
          "PARTICIPANT_READ_TIMEOUT"),
         "a hold must outlast a step: min(SAGA_STEP_BUDGET_SECONDS, HOLD_TTL_SECONDS / 2) must be at "
         "least PARTICIPANT_CONNECT_TIMEOUT + PARTICIPANT_READ_TIMEOUT",
         lambda s: step_budget_seconds(s) >= step_call_seconds(s)),
    Rule(("HOLD_MAX_SECONDS", "HOLD_TTL_SECONDS"),
         "a saga must be able to extend a hold to a whole HOLD_TTL_SECONDS: HOLD_MAX_SECONDS must be "
         "at least HOLD_TTL_SECONDS",
         lambda s: s["HOLD_MAX_SECONDS"] >= s["HOLD_TTL_SECONDS"]),
    # A worker keeps a task unacked while it runs and while its countdown waits; past the visibility
    # timeout Redis hands it to another worker as well.
    Rule(("CELERY_VISIBILITY_TIMEOUT", "SAGA_RETRY_MAX_SECONDS", "task_time_limit"),
         "CELERY_VISIBILITY_TIMEOUT must be longer than the longest retry countdown "
         "(SAGA_RETRY_MAX_SECONDS) and the longest run (task_time_limit), or tasks run twice",
         lambda s: s["CELERY_VISIBILITY_TIMEOUT"] > max(s["SAGA_RETRY_MAX_SECONDS"],
                                                         s["task_time_limit"] or math.inf)),
    Rule(("CELERY_VISIBILITY_TIMEOUT", "default_retry_delay"),
         "a task whose worker was lost is sent again after its default_retry_delay, which must be "
         "shorter than CELERY_VISIBILITY_TIMEOUT",
         lambda s: s["default_retry_delay"] < s["CELERY_VISIBILITY_TIMEOUT"]),
    Rule(("APP_ENV", "SECRET_KEY"),
         "production needs its own SECRET_KEY: the default one is public",
         lambda s: s["APP_ENV"] != "production" or s["SECRET_KEY"] != DEFAULT_SECRET_KEY),
    Rule(("APP_ENV", "SERVICE_ROLE"),
         "production needs this process's own PAYMENT_TOKEN: the development ones are public",
         lambda s: s["APP_ENV"] != "production" or s["PAYMENT_TOKEN"] not in dev_secrets("payment")),
    Rule(("APP_ENV", "SERVICE_ROLE"),
         "production needs this process's own LOYALTY_TOKEN: the development ones are public",
         lambda s: s["APP_ENV"] != "production" or s["LOYALTY_TOKEN"] not in dev_secrets("loyalty")),
    Rule(("APP_ENV",),
         f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}",
         lambda s: s["APP_ENV"] in ENVIRONMENTS),
    # The key's length, never the key: the refusal is logged.
    Rule(("APP_ENV", "SECRET_KEY_LENGTH"),
         f"production needs a SECRET_KEY of at least {MIN_SECRET_KEY_LENGTH} random characters",
         lambda s: s["APP_ENV"] != "production" or s["SECRET_KEY"] == DEFAULT_SECRET_KEY
         or s["SECRET_KEY_LENGTH"] >= MIN_SECRET_KEY_LENGTH),
    Rule(("APP_ENV", "SESSION_COOKIE_SECURE"),
         "production sends session cookies over TLS only: SESSION_COOKIE_SECURE must not be false",
         # Unset (None) means Secure in production (app/security.py): only an explicit false is refused.
         lambda s: s["APP_ENV"] != "production" or s["SESSION_COOKIE_SECURE"] is not False),
    *(Rule((name,), f"{name} must be a SQLAlchemy URL of a known dialect, e.g. "
           "postgresql+psycopg://user:password@host/db or sqlite:///path",
           lambda s, name=name: database_url_ok(s[name]))
      for name in ("DATABASE_URL", "PAYMENT_DATABASE_URL", "LOYALTY_DATABASE_URL")),
    Rule(("REDIS_URL",), "REDIS_URL must be a redis://, rediss:// or unix:// URL, e.g. redis://host:6379/0",
         lambda s: redis_url_ok(s["REDIS_URL"])),
    Rule(("CELERY_BROKER_URL",),
         "CELERY_BROKER_URL must be a broker URL Celery knows, e.g. redis://host:6379/1",
         lambda s: broker_url_ok(s["CELERY_BROKER_URL"])),
    *(Rule((name,), f"{name} must be an http:// or https:// URL with a host",
           lambda s, name=name: http_url_ok(s[name]))
      for name in ("PAYMENT_URL", "LOYALTY_URL", "FLOWER_URL")),
    # The heartbeat renews the lease every third of it (app/engine.py): a lease shorter than three
    # beats cannot be kept alive by a writer that is alive.
    Rule(("SAGA_LEASE_SECONDS",),
         f"the lease is renewed every third of itself and a renewal needs about {MIN_HEARTBEAT_SECONDS:.0f}"
         f" s: SAGA_LEASE_SECONDS must be at least {3 * MIN_HEARTBEAT_SECONDS:.0f}",
         lambda s: s["SAGA_LEASE_SECONDS"] >= 3 * MIN_HEARTBEAT_SECONDS),
    Rule(("SAGA_DEFINITIONS",),
         "SAGA_DEFINITIONS must name saga versions the code has (app/saga.py)",
         lambda s: set(s["SAGA_DEFINITIONS"]) <= set(definitions.registered())),
    Rule(("SAGA_DEFINITIONS", "SAGA_DEFINITION_VERSION"),
         "new bookings must start under a version this process runs: SAGA_DEFINITION_VERSION must be "
         "0 (the newest) or one of SAGA_DEFINITIONS",
         lambda s: not s["SAGA_DEFINITION_VERSION"]
         or s["SAGA_DEFINITION_VERSION"] in (s["SAGA_DEFINITIONS"] or definitions.registered())),
    Rule(("JANITOR_INTERVAL_SECONDS",),
         "JANITOR_INTERVAL_SECONDS must be positive: the reconciler that takes over lapsed leases runs "
         "that often",
         lambda s: s["JANITOR_INTERVAL_SECONDS"] > 0),
    # RedBeat's lock must outlive a loop of beat, or the beat that schedules loses it between two
    # ticks and another takes over (sibson/redbeat #92).
    Rule(("redbeat_lock_timeout", "beat_max_loop_interval"),
         "beat's lock must outlast its loop: redbeat_lock_timeout must exceed beat_max_loop_interval",
         lambda s: s["redbeat_lock_timeout"] > s["beat_max_loop_interval"]),
    Rule(("FLOWER_BASIC_AUTH",),
         "FLOWER_BASIC_AUTH must be user:password, several separated by commas",
         lambda s: not s["FLOWER_BASIC_AUTH"] or all(
             user and password for user, _, password in
             (pair.partition(":") for pair in s["FLOWER_BASIC_AUTH"].split(",")))),
    *(Rule((f"{service}_LATENCY_AT",), f"{service}_LATENCY_AT must be before or after",
           lambda s, service=service: s[f"{service}_LATENCY_AT"] in ("before", "after"))
      for service in ("PAYMENT", "LOYALTY")),
    *(Rule(("APP_ENV", f"{service}_SECRET_KEY"),
           f"production needs its own {service}_SECRET_KEY: the default one is public",
           lambda s, service=service: s["APP_ENV"] != "production"
           or s[f"{service}_SECRET_KEY"] != DEFAULT_SECRET_KEY)
      for service in ("PAYMENT", "LOYALTY")),
)


def broken_rules(settings: Mapping) -> list[Rule]:
    """The rules these settings break, among those whose settings are all present."""
    return [rule for rule in RULES
            if all(name in settings for name in rule.settings) and not rule.holds(settings)]


def describe(settings: Mapping, rules: list[Rule]) -> str:
    """One line: each broken rule's settings with their values, then what the rule says."""
    return "; ".join(", ".join(f"{name}={masked_value(name, settings[name])}" for name in rule.settings)
                     + f": {rule.says}" for rule in rules)


def refuse_unworkable(app: Flask) -> None:
    """Raise UnworkableSettings naming every broken rule, before the app serves or runs anything.

    Called twice by create_app: first before anything opens a URL (Flask-SQLAlchemy builds its
    engine in init_app), then once Celery is configured, for the rules over Celery's settings.
    """
    refuse(booking_settings(app))


def refuse(settings: Mapping) -> None:
    broken = broken_rules(settings)
    if broken:
        raise UnworkableSettings("refusing to start with unworkable settings: " + describe(settings, broken))


def booking_settings(app: Flask) -> dict:
    """The app's settings, under the names the rules use, and the Celery settings they read."""
    settings = {
        **app.config,
        "APP_ENV": app.config["ENV"],
        "SECRET_KEY_LENGTH": len(app.config["SECRET_KEY"] or ""),
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
    }
    celery: Celery | None = app.extensions.get("celery")
    if celery is None:
        return settings
    conf = celery.conf
    lost_worker_retries = [task.default_retry_delay for task in celery.tasks.values()
                           if task.retry_on_worker_lost]
    janitor = (conf.beat_schedule or {}).get("reconcile-sagas", {})
    return {
        **settings,
        "CELERY_VISIBILITY_TIMEOUT": (conf.broker_transport_options or {}).get(
            "visibility_timeout", KOMBU_VISIBILITY_TIMEOUT),
        "task_time_limit": conf.task_time_limit,  # None: no limit
        "default_retry_delay": max(lost_worker_retries, default=0),
        "JANITOR_INTERVAL_SECONDS": janitor.get("schedule", 0),
        "beat_max_loop_interval": conf.beat_max_loop_interval,
        "redbeat_lock_timeout": conf.get("redbeat_lock_timeout") or 0,
    }


def service_settings(config: Mapping, service: str) -> dict:
    """A participant's settings under the names its environment gives them (PAYMENT_DATABASE_URL...)."""
    return {
        "APP_ENV": os.environ.get("APP_ENV", "development"),
        f"{service}_DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        f"{service}_SECRET_KEY": config["SECRET_KEY"],
        **{name: value for name, value in config.items() if name.startswith(f"{service}_")},
    }


def refuse_unworkable_service(app: Flask, service: str) -> None:
    """The payment or loyalty service's own rules (`service` is PAYMENT or LOYALTY)."""
    refuse(service_settings(app.config, service))


def reporting_only(argv: list[str] | None = None) -> bool:
    """True in `flask ... config check`: that command must load an app it is about to find wrong."""
    argv = sys.argv if argv is None else argv
    words = argv[1:]
    return Path(argv[0]).name == "flask" and any(
        words[i:i + 2] == ["config", "check"] for i in range(len(words)))


def created_or_exit(factory: Callable[..., Flask], **kwargs: object) -> Flask:
    """factory(**kwargs), or, when the settings are refused, one line on stderr and exit (no traceback).

    For the entry points (wsgi.py files) that gunicorn, celery and flask import: a person starting a
    process should read which settings break which rule, not a traceback ending in it.
    """
    try:
        return factory(**kwargs)
    except (UnworkableSettings, SettingError) as exc:
        sys.stderr.write(f"{exc}\n")
        sys.stderr.flush()
        raise SystemExit(1 if reporting_only() else REFUSED_EXIT_STATUS) from None
