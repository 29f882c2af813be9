"""Round trips of one booking, counted in-process: SQL statements and commits, Redis, HTTP.

Runs against the live stack's database, Redis and participants while no worker consumes: the
POST and the status GET go through the Flask test client, and each step task runs in this
process as the worker would run the chain's message for it: with that message's id, and the rest
of the chain naming the next message's (the chain itself is not sent on: its message is dropped).
The counts are what one saga costs besides Celery's own messaging.
"""

from __future__ import annotations

import base64
import cProfile
import json
import pstats
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import redis.connection
from sqlalchemy import event


@dataclass
class Count:
    sql: int = 0
    commits: int = 0
    checkouts: int = 0  # each one pings the server first (pool_pre_ping)
    redis: Counter = field(default_factory=Counter)  # round trips by DB number
    http: list[str] = field(default_factory=list)
    ms: float = 0.0
    cpu_ms: float = 0.0  # this process's CPU: the booking service's own code, not the participants'
    # Python function calls (builtins too), when counted: unlike CPU time, the same for the same
    # code and input whatever else the machine is doing, so it resolves changes of a few percent.
    calls: int | None = None
    statements: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"sql_statements": self.sql, "sql_commits": self.commits, "pool_checkouts": self.checkouts,
                "redis_round_trips": dict(self.redis), "http_calls": self.http, "ms": round(self.ms, 1),
                "cpu_ms": round(self.cpu_ms, 2), "python_calls": self.calls, "statements": self.statements}


class Counters:
    """Hooks on the SQLAlchemy engine, redis-py's connection and httpx's client; one Count at a time."""

    def __init__(self, engine, count_calls: bool = False) -> None:
        self.current: Count | None = None
        self.engine = engine
        self.count_calls = count_calls  # under the profiler: its CPU figures are not the code's

    @contextmanager
    def installed(self) -> Iterator[Counters]:
        send = redis.connection.Connection.send_packed_command
        http_send = httpx.Client.send
        counters = self

        def counted_send(conn, command, check_health=True):
            if counters.current is not None:
                counters.current.redis[conn.db] += 1
            return send(conn, command, check_health)

        def counted_http(client, request, **kwargs):
            if counters.current is not None and not request.url.path.startswith("/api/"):
                counters.current.http.append(f"{request.method} {request.url.path.split('/')[1]}")
            return http_send(client, request, **kwargs)

        def on_execute(conn, cursor, statement, parameters, context, executemany):
            if counters.current is not None:
                counters.current.sql += 1
                counters.current.statements.append(" ".join(statement.split())[:90])

        def on_commit(conn):
            if counters.current is not None:
                counters.current.commits += 1

        def on_checkout(dbapi_connection, record, proxy):
            if counters.current is not None:
                counters.current.checkouts += 1

        redis.connection.Connection.send_packed_command = counted_send
        httpx.Client.send = counted_http
        event.listen(self.engine, "before_cursor_execute", on_execute)
        event.listen(self.engine, "commit", on_commit)
        event.listen(self.engine.pool, "checkout", on_checkout)
        try:
            yield self
        finally:
            redis.connection.Connection.send_packed_command = send
            httpx.Client.send = http_send
            event.remove(self.engine, "before_cursor_execute", on_execute)
            event.remove(self.engine, "commit", on_commit)
            event.remove(self.engine.pool, "checkout", on_checkout)

    def measure(self, call: Callable[[], object]) -> tuple[Count, object]:
        self.current = Count()
        profiler = cProfile.Profile() if self.count_calls else None
        started, cpu = time.perf_counter(), time.process_time()
        try:
            result = call() if profiler is None else profiler.runcall(call)
        finally:
            count, self.current = self.current, None
        if profiler is not None:
            count.calls = pstats.Stats(profiler).total_calls
        count.ms = (time.perf_counter() - started) * 1000
        count.cpu_ms = (time.process_time() - cpu) * 1000
        return count, result


def trace_one(app, token: str, flight_id: int, seat: str, broker: redis.Redis,
              count_calls: bool = False) -> dict:
    """Book one seat and count what each part costs (and its Python calls, with `count_calls`); the
    caller makes sure no worker is running."""
    from app.extensions import db
    from scripts.bench.load import booking_body

    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"trace-{flight_id}-{seat}"}
    out: dict[str, dict] = {}
    with app.app_context():
        engine = db.engine
    client = app.test_client()
    with Counters(engine, count_calls).installed() as counters:
        count, response = counters.measure(
            lambda: client.post("/api/v1/bookings", json=booking_body(flight_id, [seat]), headers=headers))
        if response.status_code != 202:
            raise RuntimeError(f"trace POST answered {response.status_code}: {response.text}")
        saga_id = response.get_json()["id"]
        out["POST /bookings"] = count.as_dict()
        out["POST /bookings"]["response_bytes"] = len(response.data)
        # The chain the POST enqueued: measured, then dropped, since its steps run here instead.
        queue = f"saga.v{response.get_json()['definition_version']}"  # one queue per version
        messages = broker.lrange(queue, 0, -1)
        out["POST /bookings"]["broker_message_bytes"] = [len(m) for m in messages]
        broker.delete(queue)
        task_ids = chain_task_ids(messages[0])
        _acting_as(app, "worker")  # the steps call the participants with the worker's credential
        # The saga's own steps, as its status lists them, each run as its task (`saga.<step>`).
        auth = {"Authorization": headers["Authorization"]}
        listed = client.get(f"/api/v1/bookings/{saga_id}", headers=auth)
        names = [step["name"] for step in listed.get_json()["steps"] if step["kind"] == "action"]
        for position, name in enumerate(names):
            task = app.extensions["celery"].tasks[f"saga.{name}"]
            count, _ = counters.measure(
                lambda t=task, i=position: delivered(t, saga_id, task_ids[i], task_ids[i + 1:i + 2]))
            out[name] = count.as_dict()
        _acting_as(app, "web")
        count, response = counters.measure(lambda: client.get(f"/api/v1/bookings/{saga_id}", headers=auth))
        out["GET /bookings/<id>"] = count.as_dict()
        out["GET /bookings/<id>"]["response_bytes"] = len(response.data)
        etag = response.headers["ETag"]
        count, response = counters.measure(
            lambda: client.get(f"/api/v1/bookings/{saga_id}", headers={**auth, "If-None-Match": etag}))
        out["GET /bookings/<id> (304)"] = count.as_dict()
    return out


def chain_task_ids(raw: bytes) -> list[str]:
    """The ids Celery gave the chain's messages, first to last, from its first message."""
    message = json.loads(raw)
    _, _, embed = json.loads(base64.b64decode(message["body"]))
    rest = embed.get("chain") or []  # the next message last
    return [message["headers"]["id"], *(sig["options"]["task_id"] for sig in reversed(rest))]


def delivered(task, saga_id: str, task_id: str, next_ids: list[str]) -> None:
    """The step task run as its message's first delivery (fence 1): the request the worker builds,
    with the rest of the chain down to the next message's id, which the step's success records."""
    task.push_request(id=task_id, retries=0, chain=[{"options": {"task_id": i}} for i in next_ids])
    try:
        task(saga_id, 1)  # FlaskTask.__call__: the app context, as in the worker; no request of its own
    finally:
        task.pop_request()


def _acting_as(app, role: str) -> None:
    """This process's participant clients with `role`'s credential, as the stack gave it out."""
    from app import participants
    from tests.e2e.stack import caller_env

    app.config.update({name: value for name, value in caller_env(role).items() if name.endswith("_TOKEN")})
    participants.init_app(app)
