"""Accounts: POST /auth/register, POST /auth/token, POST /auth/logout, GET /me (API.md "Accounts")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from app.errors import LoyaltyUnavailable
from app.extensions import db
from app.models import ApiToken, User


class FakeLoyalty:
    """The one call /me makes to the loyalty client; `down` makes it fail like a dead service."""

    def __init__(self, balances: dict[str, int] | None = None, *, down: bool = False) -> None:
        self.balances = balances or {}
        self.down = down

    def balance(self, account_id: str) -> SimpleNamespace:
        if self.down:
            raise LoyaltyUnavailable("connection refused")
        return SimpleNamespace(balance=self.balances.get(account_id, 0))


@pytest.fixture
def loyalty(app):
    fake = FakeLoyalty()
    app.extensions["loyalty"] = fake
    return fake


def register(client, **overrides):
    body = {"email": "ada@example.com", "password": "analytical", "name": "Ada Lovelace", **overrides}
    return client.post("/api/v1/auth/register", json=body)


def get_token(client, email="ada@example.com", password="analytical"):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_register_creates_an_account(client):
    response = register(client)
    assert response.status_code == 201
    body = response.get_json()
    assert body == {"id": body["id"], "email": "ada@example.com", "name": "Ada Lovelace"}
    user = db.session.get(User, body["id"])
    assert user.password_hash != "analytical"
    assert not user.is_admin


def test_register_stores_the_email_lowercased(client):
    response = register(client, email="  Ada@Example.COM ")
    assert response.status_code == 201
    assert response.get_json()["email"] == "ada@example.com"
    assert get_token(client, email="ADA@example.com").status_code == 200


def test_register_refuses_a_taken_email_whatever_its_case(client):
    assert register(client).status_code == 201
    response = register(client, email="ADA@example.com", name="Someone Else")
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == "/problems/email-taken"
    assert User.query.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a" * 250 + "@example.com"}, "email"),
        ({"password": "seven77"}, "password"),
        ({"password": "x" * 257}, "password"),
        ({"name": ""}, "name"),
        ({"name": "n" * 201}, "name"),
        ({"name": "Ada\x00"}, "name"),
        ({"name": "Ada \ud800"}, "name"),
        ({"is_admin": True}, "is_admin"),
    ],
)
def test_register_rejects_invalid_fields(client, overrides, field):
    response = register(client, **overrides)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert User.query.count() == 0


def test_register_needs_every_field(client):
    response = client.post("/api/v1/auth/register", json={})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"email", "password", "name"}


def test_a_password_of_eight_characters_is_enough(client):
    assert register(client, password="k7#mPq2z").status_code == 201


def test_token_for_the_right_credentials(client):
    register(client)
    response = get_token(client)
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    assert len(body["access_token"]) >= 32


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.com", "wrong password"), ("nobody@example.com", "analytical")],
)
def test_no_token_for_wrong_credentials(client, email, password):
    register(client)
    response = get_token(client, email, password)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert ApiToken.query.count() == 0


def test_only_a_hash_of_the_token_is_stored(client):
    register(client)
    raw = get_token(client).get_json()["access_token"]
    assert ApiToken.query.one().token_hash != raw


def test_me_with_a_token(client, loyalty):
    user_id = register(client).get_json()["id"]
    loyalty.balances[str(user_id)] = 1350
    token = get_token(client).get_json()["access_token"]
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json() == {
        "id": user_id,
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "is_admin": False,
        "miles_balance": 1350,
    }


def test_me_says_null_miles_while_the_loyalty_service_is_down(client, loyalty):
    register(client)
    loyalty.down = True
    token = get_token(client).get_json()["access_token"]
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json()["miles_balance"] is None


def test_me_shows_admins(client, loyalty, make_user, auth_headers):
    admin = make_user(is_admin=True)
    assert client.get("/api/v1/me", headers=auth_headers(admin)).get_json()["is_admin"] is True


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("made-up"), {"Authorization": "Basic YWRhOmFuYWx5dGljYWw="}, {"Authorization": "Bearer "}],
)
def test_me_without_valid_credentials_is_401(client, loyalty, headers):
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_an_expired_token_is_401(client, loyalty):
    register(client)
    token = get_token(client).get_json()["access_token"]
    ApiToken.query.one().expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_logout_revokes_the_token(client, loyalty):
    register(client)
    token = get_token(client).get_json()["access_token"]
    other = get_token(client).get_json()["access_token"]
    response = client.post("/api/v1/auth/logout", headers=bearer(token))
    assert response.status_code == 204
    assert response.get_data() == b""
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(other)).status_code == 200


def test_logout_needs_credentials(client):
    assert client.post("/api/v1/auth/logout").status_code == 401


def test_each_request_answers_for_its_own_caller(client, loyalty, make_user, auth_headers):
    ada, alan = make_user("ada@example.com"), make_user("alan@example.com")
    assert client.get("/api/v1/me", headers=auth_headers(ada)).get_json()["email"] == "ada@example.com"
    assert client.get("/api/v1/me", headers=auth_headers(alan)).get_json()["email"] == "alan@example.com"
    assert client.get("/api/v1/me").status_code == 401
