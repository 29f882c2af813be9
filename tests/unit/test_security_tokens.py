"""Bearer tokens: random, stored only as a hash, expiring, revocable by logout."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from app.auth import issue_token
from app.extensions import db
from app.models import ApiToken
from app.models.types import utcnow

TOKEN = "/api/v1/auth/token"
ME = "/api/v1/me"
LOGOUT = "/api/v1/auth/logout"


@pytest.fixture
def alice(make_user):
    return make_user("alice@example.com")


def login(client, email: str = "alice@example.com", password: str = "correct horse") -> dict:
    response = client.post(TOKEN, json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_tokens_are_random_and_only_their_hash_is_stored(app, client, alice, tmp_path):
    tokens = {login(client)["access_token"] for _ in range(5)}
    assert len(tokens) == 5
    assert all(len(token) >= 43 for token in tokens)  # 32 random bytes, base64url
    stored = set(db.session.execute(db.select(ApiToken.token_hash)).scalars())
    assert stored == {hashlib.sha256(token.encode()).hexdigest() for token in tokens}
    if db.engine.url.get_backend_name() == "sqlite":
        database = (tmp_path / "booking.db").read_bytes()
        assert not any(token.encode() in database for token in tokens)


def test_a_token_expires_after_its_lifetime(app, client, alice):
    answer = login(client)
    assert answer["expires_in"] == app.config["TOKEN_TTL_SECONDS"]
    row = db.session.execute(db.select(ApiToken)).scalar_one()
    lifetime = row.expires_at - row.created_at
    assert abs(lifetime - timedelta(seconds=app.config["TOKEN_TTL_SECONDS"])) < timedelta(seconds=5)
    assert client.get(ME, headers=bearer(answer["access_token"])).status_code == 200

    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = client.get(ME, headers=bearer(answer["access_token"]))
    assert response.status_code == 401
    assert response.get_json()["type"] == "/problems/unauthorized"


def test_a_short_lifetime_setting_is_honoured(app, client, alice):
    app.config["TOKEN_TTL_SECONDS"] = 1
    raw, ttl = issue_token(alice)
    assert ttl == 1
    row = db.session.execute(db.select(ApiToken)).scalar_one()
    assert row.expires_at - row.created_at < timedelta(seconds=2)


def test_logout_revokes_that_token_only(app, client, alice):
    first, second = login(client)["access_token"], login(client)["access_token"]
    assert client.post(LOGOUT, headers=bearer(first)).status_code == 204
    assert client.get(ME, headers=bearer(first)).status_code == 401
    # Logging out again with the revoked token is itself unauthenticated.
    assert client.post(LOGOUT, headers=bearer(first)).status_code == 401
    assert client.get(ME, headers=bearer(second)).status_code == 200
    revoked = db.session.execute(
        db.select(ApiToken).filter_by(token_hash=hashlib.sha256(first.encode()).hexdigest())
    ).scalar_one()
    assert revoked.revoked_at is not None


def test_wrong_credentials_say_nothing_about_which_part_was_wrong(app, client, alice):
    unknown = client.post(TOKEN, json={"email": "nobody@example.com", "password": "correct horse"})
    wrong = client.post(TOKEN, json={"email": "alice@example.com", "password": "wrong horse"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.get_json()["detail"] == wrong.get_json()["detail"]


@pytest.mark.parametrize("header", [
    "Bearer", "Bearer  ", "bearer x", "Token abc", "Bearer " + "A" * 5000, "Bearer \x00abc", "Bearer é",
])
def test_malformed_authorization_headers_are_401(app, client, alice, header):
    response = client.get(ME, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
