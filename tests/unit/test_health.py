"""GET /healthz: 200 when the database and Redis answer, 503 naming the part that does not."""

from __future__ import annotations

import fakeredis


def test_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_503_when_redis_is_down(make_app):
    # Port 9 (discard) has no Redis behind it on a test machine: the connection is refused at once.
    app = make_app(REDIS_URL="redis://127.0.0.1:9/0")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["redis"].startswith("error: ")


def test_503_when_the_database_is_down(make_app, tmp_path):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'no-such-dir' / 'booking.db'}")
    app.extensions["redis"] = fakeredis.FakeRedis()
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert (body["status"], body["redis"]) == ("unavailable", "ok")
    assert body["database"].startswith("error: ")
