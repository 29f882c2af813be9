"""Settings that cannot work, refused when the app is created (SPEC I9): the rules, as one list.

Each rule names the settings it reads; the app refuses to start with one line that names, with their
values, the settings of every rule they break. Celery's settings come from the configured Celery app
(celeryconfig.py), so what is checked is what the worker will use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from celery import Celery
from flask import Flask

from app.config import DEFAULT_SECRET_KEY, dev_secrets, step_budget_seconds

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
    Rule(("APP_ENV",),
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
         lambda s: s["APP_ENV"] != "production" or bool(s["SESSION_COOKIE_SECURE"])),
)


def refuse_unworkable(app: Flask) -> None:
    """Raise UnworkableSettings naming every broken rule, before the app serves or runs anything."""
    settings = _settings(app)
    broken = [rule for rule in RULES if not rule.holds(settings)]
    if broken:
        raise UnworkableSettings("refusing to start with unworkable settings: " + "; ".join(
            ", ".join(f"{name}={settings[name]}" for name in rule.settings) + f": {rule.says}"
            for rule in broken))


def _settings(app: Flask) -> dict:
    """The app's settings, under the names the rules use, and the Celery settings they read."""
    celery: Celery = app.extensions["celery"]
    lost_worker_retries = [task.default_retry_delay for task in celery.tasks.values()
                           if task.retry_on_worker_lost]
    return {
        **app.config,
        "APP_ENV": app.config["ENV"],
        "SECRET_KEY_LENGTH": len(app.config["SECRET_KEY"] or ""),
        "CELERY_VISIBILITY_TIMEOUT": (celery.conf.broker_transport_options or {}).get(
            "visibility_timeout", KOMBU_VISIBILITY_TIMEOUT),
        "task_time_limit": celery.conf.task_time_limit,  # None: no limit
        "default_retry_delay": max(lost_worker_retries, default=0),
    }
