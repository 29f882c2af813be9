"""Every process of the Procfile refuses unworkable settings at start: one line, no traceback.

`flask --app wsgi config check` shows the effective settings, secrets masked, and what is wrong.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.e2e.stack import ROOT, VENV_BIN, Stack

# Its subject (settings refused at start) does not depend on the database engine: not run again on PostgreSQL.
pytestmark = [pytest.mark.e2e, pytest.mark.engine_independent]

# One broken setting per process; each is a rule of app/settings_check.py.
BROKEN = {
    "web": {"REDIS_URL": "redis://127.0.0.1:6379/holds"},
    "worker": {"DATABASE_URL": "postgres://booking:hunter2@db/booking"},
    "beat": {"SAGA_LEASE_SECONDS": "2"},
    "flower": {"CELERY_BROKER_URL": "127.0.0.1:6379"},
    "payment": {"PAYMENT_DATABASE_URL": "payments.db"},
    "loyalty": {"LOYALTY_LATENCY_AT": "sometimes"},
}


def run(stack: Stack, command: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env={**stack.env, **env}, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def stack(tmp_path):
    return Stack(tmp_path, "redis://127.0.0.1:1/0", "redis://127.0.0.1:1/1")


@pytest.mark.parametrize("process", list(BROKEN))
def test_each_process_refuses_with_one_line_naming_the_setting(stack, process):
    [(name, value)] = BROKEN[process].items()
    done = run(stack, stack.commands()[process], **BROKEN[process])
    assert done.returncode != 0
    output = done.stdout + done.stderr
    # The same line from each of gunicorn's workers, which load the app; then gunicorn halts.
    refusals = sorted({line for line in output.splitlines() if "refusing to start" in line})
    assert len(refusals) == 1, output
    assert f"{name}=" in refusals[0] and "must" in refusals[0]
    assert "Traceback" not in output and "hunter2" not in output


def test_a_number_that_is_none_is_refused_in_one_line(stack):
    done = run(stack, stack.commands()["worker"], HOLD_TTL_SECONDS="ten")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip() == "refusing to start: HOLD_TTL_SECONDS='ten' is not an integer"


def test_config_check_prints_the_settings_with_secrets_masked(stack):
    done = run(stack, [f"{VENV_BIN}/flask", "--app", "wsgi", "config", "check"],
               DATABASE_URL="postgresql+psycopg://booking:hunter2@db/booking", SECRET_KEY="s3cr3t-key",
               FLOWER_BASIC_AUTH="ops:flower-pass", PAYMENT_SECRET_KEY="pay-key")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "DATABASE_URL = postgresql+psycopg://booking:***@db/booking" in done.stdout
    assert "SECRET_KEY = ***" in done.stdout and "FLOWER_BASIC_AUTH = ***" in done.stdout
    assert "redbeat_lock_timeout = 15\n" in done.stdout  # whole seconds (celeryconfig.py)
    for secret in ("hunter2", "s3cr3t-key", "flower-pass", "pay-key"):
        assert secret not in done.stdout
    assert done.stdout.rstrip().endswith("checked)")


def test_config_check_names_what_is_wrong_and_exits_1(stack):
    done = run(stack, [f"{VENV_BIN}/flask", "--app", "wsgi", "config", "check"],
               DATABASE_URL="postgres://booking:hunter2@db/booking", SAGA_LEASE_SECONDS="1",
               LOYALTY_DATABASE_URL="nowhere")
    assert done.returncode == 1
    assert "3 rule(s) broken:" in done.stdout
    assert "DATABASE_URL=postgres://booking:***@db/booking" in done.stdout
    assert "SAGA_LEASE_SECONDS=1.0" in done.stdout and "LOYALTY_DATABASE_URL=nowhere" in done.stdout
    assert "hunter2" not in done.stdout and "Traceback" not in done.stderr
