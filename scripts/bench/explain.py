#!/usr/bin/env python3
"""The query plan of every statement behind the status GET and the seat map's reads.

    .venv/bin/python -m scripts.bench.explain --database-url postgresql+psycopg://…/test_bench
    .venv/bin/python -m scripts.bench.explain --grow        # a fresh SQLite file with the growth rows

Runs in-process: a status GET through the Flask test client (its statements are captured with
their parameters) and the seat map's three reads, each then given to EXPLAIN (SQLite: EXPLAIN
QUERY PLAN). Point it at the database a `python -m scripts.bench --growth` run left behind (PostgreSQL), or
let it build a SQLite one. A plan line that scans a whole table is what to look for.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts.bench.stack import ROOT, VENV_BIN


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url")
    parser.add_argument("--grow", action="store_true", help="build a SQLite database with the growth rows")
    parser.add_argument("--flights", type=int, default=10_000)
    parser.add_argument("--sagas", type=int, default=100_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-explain-"))
    os.environ.update({"INSTANCE_DIR": str(workdir), "RATELIMIT_ENABLED": "false",
                       "DATABASE_URL": args.database_url or f"sqlite:///{workdir / 'booking.db'}"})
    if not args.database_url:
        subprocess.run([f"{VENV_BIN}/flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, check=True,
                       capture_output=True, env=os.environ)
    from app import create_app
    from scripts.bench import data

    app = create_app()
    if args.grow:
        data.create_flights(app, 2)
        data.grow(app, args.flights, args.sagas)
    for title, statements in capture(app):
        print(f"\n## {title}")
        for statement, parameters in statements:
            print(f"\n{' '.join(statement.split())[:200]}")
            for line in explain(app, statement, parameters):
                print(f"    {line}")
    return 0


def capture(app) -> list[tuple[str, list]]:
    from sqlalchemy import event, select

    from app.auth import issue_token
    from app.extensions import db
    from app.models import Flight, Saga, User

    with app.app_context():
        saga = db.session.scalars(select(Saga).where(Saga.status == "confirmed").limit(1)).first()
        flight_id = db.session.scalar(select(Flight.id).order_by(Flight.id.desc()).limit(1))
        token, _ = issue_token(db.session.get(User, saga.user_id))
        saga_id = saga.id
        engine = db.engine
    captured: list = []
    listener = lambda conn, cursor, statement, parameters, context, many: captured.append(  # noqa: E731
        (statement, parameters))
    event.listen(engine, "before_cursor_execute", listener)
    try:
        app.test_client().get(f"/api/v1/bookings/{saga_id}", headers={"Authorization": f"Bearer {token}"})
        status = list(captured)
        captured.clear()

        from scripts.bench import data

        data.seat_map_sql_ms(app, flight_id, 1)
        seat_map = list(captured)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return [("GET /api/v1/bookings/<id>", status), ("seat map reads", seat_map)]


def explain(app, statement: str, parameters) -> list[str]:
    from app.extensions import db

    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            if db.engine.dialect.name == "sqlite":
                cursor.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
                return [row[-1] for row in cursor.fetchall()]
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS OFF, COSTS OFF) {statement}", parameters)
            return [row[0] for row in cursor.fetchall()]
        finally:
            raw.rollback()
            raw.close()


if __name__ == "__main__":
    sys.exit(main())
