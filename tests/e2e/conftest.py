"""End-to-end fixtures: the real processes, a private Redis when a test must restart it."""

from __future__ import annotations

import os
import shutil
import subprocess

import httpx
import pytest
import redis
from sqlalchemy import MetaData, create_engine

from tests.conftest import card
from tests.e2e.stack import Stack, free_port, wait_for

E2E_REDIS_DBS = os.environ.get("TEST_E2E_REDIS_DBS", "9,8").split(",")


class PrivateRedis:
    """A redis-server of the test's own, so the test may kill and restart it."""

    def __init__(self, workdir) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        def ping() -> bool:
            with redis.Redis(port=self.port) as client:
                return client.ping()

        wait_for(ping, what="private redis")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


LOUD_LEVELS = ('"level": "WARNING"', '"level": "ERROR"', '"level": "CRITICAL"')
LOUD_LINES_PER_LOG = 20


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report ends with the warnings and errors its stack's processes logged.

    CI keeps the report, not the temporary directory: without these lines a failure under load
    (a 503 from a participant, a step retrying) says what the test saw but not why.
    """
    report = yield
    tmp_path = item.funcargs.get("tmp_path") if hasattr(item, "funcargs") else None
    logs = tmp_path / "logs" if tmp_path is not None else None
    if report.failed and logs is not None and logs.is_dir():
        for log in sorted(logs.glob("*.log")):
            loud = [line[:400] for line in log.read_text(errors="replace").splitlines()
                    if any(level in line for level in LOUD_LEVELS) or line.startswith("Traceback")]
            if loud:
                report.sections.append((f"{log.name}: its last warnings and errors",
                                        "\n".join(loud[-LOUD_LINES_PER_LOG:])))
    return report


@pytest.fixture(autouse=True)
def close_api_clients():
    """Closes the Api clients a test opened: an unclosed socket warns in some later test."""
    before = len(Api.opened)
    yield
    for client in Api.opened[before:]:
        client.close()
    del Api.opened[before:]


@pytest.fixture
def private_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is needed for the crash tests (install the redis-server package)")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.kill()


def make_stack(tmp_path, redis_url: str, broker_url: str, **env: str) -> Stack:
    stack = Stack(tmp_path, redis_url, broker_url, **env)
    drop_every_table(stack.env["DATABASE_URL"])
    stack.migrate()
    stack.start("mail")  # the itinerary e-mails of the workers' sagas land there
    return stack


def drop_every_table(url: str) -> None:
    """Every table, alembic_version included: the migrations run again, no earlier stack's rows stay."""
    # Only a shared database (TEST_DATABASE_URL, PostgreSQL) has any; a SQLite file is new per stack.
    engine = create_engine(url)
    try:
        tables = MetaData()
        tables.reflect(engine)
        tables.drop_all(engine)
    finally:
        engine.dispose()


def shared_redis_urls() -> tuple[str, str]:
    holds_db, broker_db = E2E_REDIS_DBS
    base = os.environ.get("TEST_E2E_REDIS", "redis://127.0.0.1:6379")
    for db in (holds_db, broker_db):
        with redis.Redis.from_url(f"{base}/{db}") as client:
            client.flushdb()
    return f"{base}/{holds_db}", f"{base}/{broker_db}"


class Api:
    """A small client of the booking API over real HTTP."""

    opened: list[httpx.Client] = []

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=15)
        Api.opened.append(self.http)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.http.close()

    def signup(self, email: str, password: str = "correct horse battery") -> dict:
        self.http.post("/api/v1/auth/register", json={"email": email, "password": password, "name": "T"})
        token = self.http.post("/api/v1/auth/token", json={"email": email, "password": password})
        token.raise_for_status()
        return {"Authorization": f"Bearer {token.json()['access_token']}"}

    def book(self, headers: dict, flight_id: int, seats: list[str]) -> str:
        """POST /api/v1/bookings paid with the approved test card: the booking's id, once accepted (202)."""
        response = self.http.post("/api/v1/bookings", headers=headers,
                                  json={"flight_id": flight_id, "seats": seats, "payment": card()})
        assert response.status_code == 202, response.text
        return response.json()["id"]


@pytest.fixture
def connect():
    """Opens API clients on a base URL, closing them all at the end of the test."""
    opened: list[Api] = []

    def open_api(base_url: str) -> Api:
        opened.append(Api(base_url))
        return opened[-1]

    yield open_api
    for api in opened:
        api.http.close()
