"""Settings that cannot work are refused when the app is created, in one line naming them (SPEC I9)."""

from __future__ import annotations

import pytest

import celeryconfig
from app import config, create_app
from app.participants.loyalty.service import create_app as loyalty_app
from app.participants.payment.service import create_app as payment_app
from app.settings_check import UnworkableSettings
from tests.conftest import make_config

SAGA_TASKS = ("saga.reserve_seat", "saga.authorize_payment", "saga.award_miles", "saga.confirm_booking",
              "saga.cancel_seat", "saga.cancel_payment", "saga.reverse_miles", "saga.cancel_booking",
              "saga.finish")


def refusal(tmp_path, **overrides) -> str:
    with pytest.raises(RuntimeError) as refused:
        create_app(make_config(tmp_path, **overrides))
    message = str(refused.value)
    assert "\n" not in message
    return message


def test_the_defaults_and_the_test_settings_start(tmp_path):
    create_app(make_config(tmp_path))
    create_app({**config.from_env(), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'd.db'}"})


@pytest.mark.parametrize("overrides", [
    {"HOLD_TTL_SECONDS": 20},  # a test stack's holds
    {"HOLD_TTL_SECONDS": 45},  # a deployment's
    {"HOLD_TTL_SECONDS": 5, "PARTICIPANT_CONNECT_TIMEOUT": 0.5, "PARTICIPANT_READ_TIMEOUT": 2.0},
])
def test_holds_shorter_than_the_step_budget_start_when_a_step_fits(tmp_path, overrides):
    create_app(make_config(tmp_path, **overrides))


@pytest.mark.parametrize("overrides", [
    {"HOLD_TTL_SECONDS": 10},
    {"HOLD_TTL_SECONDS": 20, "PARTICIPANT_READ_TIMEOUT": 9.0},
    {"SAGA_STEP_BUDGET_SECONDS": 5},
])
def test_a_hold_too_short_for_a_step_is_refused(tmp_path, overrides):
    message = refusal(tmp_path, **overrides)
    for name in ("HOLD_TTL_SECONDS", "SAGA_STEP_BUDGET_SECONDS", "PARTICIPANT_CONNECT_TIMEOUT",
                 "PARTICIPANT_READ_TIMEOUT"):
        assert name in message


def test_a_hold_that_may_not_be_stretched_to_its_own_length_is_refused(tmp_path):
    message = refusal(tmp_path, HOLD_TTL_SECONDS=600, HOLD_MAX_SECONDS=300)
    assert "HOLD_MAX_SECONDS=300" in message and "HOLD_TTL_SECONDS=600" in message


@pytest.mark.parametrize(("visibility", "overrides", "named"), [
    (30, {}, "task_time_limit=60"),  # a step still running would be handed to a second worker
    (60, {}, "task_time_limit=60"),
    (120, {"SAGA_RETRY_MAX_SECONDS": 120.0}, "SAGA_RETRY_MAX_SECONDS=120.0"),  # countdowns wait unacked
])
def test_a_visibility_timeout_not_above_a_countdown_or_the_time_limit_is_refused(
        tmp_path, monkeypatch, visibility, overrides, named):
    monkeypatch.setattr(celeryconfig, "broker_transport_options", {"visibility_timeout": visibility})
    message = refusal(tmp_path, **overrides)
    assert f"CELERY_VISIBILITY_TIMEOUT={visibility}" in message and named in message


def test_a_step_whose_worker_was_lost_is_retried_promptly(app):
    tasks = app.extensions["celery"].tasks
    assert {name: tasks[name].default_retry_delay for name in SAGA_TASKS} == dict.fromkeys(SAGA_TASKS, 1)


def test_a_retry_after_a_lost_worker_later_than_the_visibility_timeout_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(celeryconfig, "task_annotations", {"*": {"default_retry_delay": 180}})
    message = refusal(tmp_path)
    assert "default_retry_delay=180" in message and "CELERY_VISIBILITY_TIMEOUT=120" in message


def test_production_with_the_default_secret_key_is_refused(tmp_path):
    message = refusal(tmp_path, ENV="production", SECRET_KEY=config.DEFAULT_SECRET_KEY)
    assert "SECRET_KEY" in message and "APP_ENV=production" in message


def test_every_broken_rule_is_named_in_the_one_line(tmp_path):
    message = refusal(tmp_path, ENV="production", SECRET_KEY=config.DEFAULT_SECRET_KEY,
                      HOLD_TTL_SECONDS=10, HOLD_MAX_SECONDS=5)
    assert message.count(";") == 2
    for named in ("SECRET_KEY", "HOLD_MAX_SECONDS=5", "PARTICIPANT_READ_TIMEOUT"):
        assert named in message


@pytest.mark.parametrize("env", ["Production", "prod", "PRODUCTION", "staging", ""])
def test_only_known_environments_start(tmp_path, env):
    message = refusal(tmp_path, ENV=env, SECRET_KEY="k" * 48)
    assert f"APP_ENV={env}" in message and "development, test, production" in message


@pytest.mark.parametrize("env", ["development", "test", "production"])
def test_the_known_environments_start(tmp_path, env):
    create_app(make_config(tmp_path, ENV=env, SECRET_KEY="k" * 48))


@pytest.mark.parametrize("key", ["x", "short-but-not-default", "k" * 31])
def test_production_needs_a_secret_key_of_real_strength(tmp_path, key):
    message = refusal(tmp_path, ENV="production", SECRET_KEY=key)
    assert "SECRET_KEY" in message and "32" in message
    assert key not in message.split("SECRET_KEY")[0]  # the key itself is never printed


def test_no_refusal_prints_the_secret_key(tmp_path):
    message = refusal(tmp_path, ENV="production", SECRET_KEY="tiny-secret")
    assert "tiny-secret" not in message


def test_production_refuses_cookies_that_are_not_secure(tmp_path):
    message = refusal(tmp_path, ENV="production", SECRET_KEY="k" * 48, SESSION_COOKIE_SECURE=False)
    assert "SESSION_COOKIE_SECURE" in message


@pytest.mark.parametrize(("setting", "value"), [
    ("SQLALCHEMY_DATABASE_URI", "postgres://user:pw@db/booking"),  # the dialect is postgresql
    ("SQLALCHEMY_DATABASE_URI", "not a url"),
    ("SQLALCHEMY_DATABASE_URI", "postgresql+psycopg://user@db:54x/booking"),
    ("REDIS_URL", "http://127.0.0.1:6379/0"),
    ("REDIS_URL", "redis://127.0.0.1:63x9/0"),
    ("REDIS_URL", "redis://127.0.0.1:6379/holds"),
    ("CELERY_BROKER_URL", "bogus://127.0.0.1/1"),
    ("CELERY_BROKER_URL", "127.0.0.1:6379"),
    ("PAYMENT_URL", "127.0.0.1:8003"),
    ("LOYALTY_URL", "ftp://loyalty"),
    ("FLOWER_URL", "http://"),
])
def test_a_url_that_does_not_parse_is_refused(tmp_path, setting, value):
    named = {"SQLALCHEMY_DATABASE_URI": "DATABASE_URL"}.get(setting, setting)
    message = refusal(tmp_path, **{setting: value})
    assert message.count(f"{named}=") == 1 and "must be" in message


def test_a_password_in_a_refused_url_is_not_shown(tmp_path):
    message = refusal(tmp_path, SQLALCHEMY_DATABASE_URI="postgres://booking:hunter2@db/booking")
    assert "hunter2" not in message and "booking:***@db" in message


@pytest.mark.parametrize("url", ["sentinel://127.0.0.1:26379", "rediss://:pw@redis.example:6380/1"])
def test_other_broker_transports_start(tmp_path, url):
    create_app(make_config(tmp_path, CELERY_BROKER_URL=url))


@pytest.mark.parametrize("lease", [0.0, 1.5, 2.9])
def test_a_lease_too_short_for_its_heartbeat_is_refused(tmp_path, lease):
    assert f"SAGA_LEASE_SECONDS={lease}" in refusal(tmp_path, SAGA_LEASE_SECONDS=lease)


@pytest.mark.parametrize("interval", [0.0, -5.0])
def test_a_janitor_interval_that_is_not_positive_is_refused(tmp_path, monkeypatch, interval):
    schedule = {**celeryconfig.beat_schedule,
                "reconcile-sagas": {**celeryconfig.beat_schedule["reconcile-sagas"], "schedule": interval}}
    monkeypatch.setattr(celeryconfig, "beat_schedule", schedule)
    assert f"JANITOR_INTERVAL_SECONDS={interval}" in refusal(tmp_path)


def test_a_beat_lock_shorter_than_its_loop_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(celeryconfig, "redbeat_lock_timeout", 5)
    monkeypatch.setattr(celeryconfig, "beat_max_loop_interval", 5)
    message = refusal(tmp_path)
    assert "redbeat_lock_timeout=5" in message and "beat_max_loop_interval=5" in message


@pytest.mark.parametrize("auth", ["admin", "admin:", ":secret", "ops:one,guest"])
def test_flower_credentials_that_are_not_user_password_are_refused(tmp_path, auth):
    message = refusal(tmp_path, FLOWER_BASIC_AUTH=auth)
    assert "FLOWER_BASIC_AUTH=***" in message and auth not in message.split(": ", 1)[1]


def test_every_broken_rule_is_named_on_the_one_line(tmp_path):
    message = refusal(tmp_path, REDIS_URL="nope", SAGA_LEASE_SECONDS=1.0, HOLD_MAX_SECONDS=1)
    assert all(name in message for name in ("REDIS_URL=nope", "SAGA_LEASE_SECONDS=1.0", "HOLD_MAX_SECONDS=1"))


def test_a_number_that_is_not_one_is_refused_with_its_name(monkeypatch):
    monkeypatch.setenv("HOLD_TTL_SECONDS", "ten minutes")
    with pytest.raises(config.SettingError, match="HOLD_TTL_SECONDS='ten minutes' is not an integer"):
        config.from_env()


@pytest.mark.parametrize(("service", "factory"), [("PAYMENT", payment_app), ("LOYALTY", loyalty_app)])
@pytest.mark.parametrize(("overrides", "named"), [
    ({"SQLALCHEMY_DATABASE_URI": "sqlite//nowhere"}, "_DATABASE_URL=sqlite//nowhere"),
    ({"SQLALCHEMY_DATABASE_URI": "postgres://u:pw@h/db"}, "_DATABASE_URL=postgres://u:***@h/db"),
    ({"{service}_LATENCY_AT": "during"}, "_LATENCY_AT=during"),
])
def test_the_participants_refuse_their_own_unworkable_settings(tmp_path, service, factory, overrides, named):
    overrides = {key.format(service=service): value for key, value in overrides.items()}
    with pytest.raises(UnworkableSettings) as refused:
        factory({"TESTING": True, **overrides})
    assert f"{service}{named}" in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize(("service", "factory"), [("PAYMENT", payment_app), ("LOYALTY", loyalty_app)])
def test_a_participant_in_production_with_the_default_key_is_refused(monkeypatch, tmp_path, service, factory):
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(UnworkableSettings, match=f"{service}_SECRET_KEY=\\*\\*\\*"):
        factory({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}"})
