"""Accounts: register, exchange credentials for a bearer token, read the caller's profile."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint

from app import accounts
from app.api import BEARER, problem_responses
from app.api.schemas.accounts import AccountSchema, CredentialsSchema, MeSchema, RegisterSchema, TokenSchema
from app.auth import (
    bearer_token,
    issue_token,
    login_required,
    require_user,
    revoke_token,
    verify_password,
)
from app.errors import Refusal, SagaError
from app.extensions import db
from app.models import User
from app.web.session import end_session

blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Accounts and bearer tokens.")


@blp.post("/auth/register")
@problem_responses(409)
@blp.arguments(RegisterSchema)
@blp.response(201, AccountSchema)
def register(data: dict) -> User:
    return accounts.register(data["email"], data["name"], data["password"])


@blp.post("/auth/token")
@problem_responses(401)
@blp.arguments(CredentialsSchema)
@blp.response(200, TokenSchema)
def token(data: dict) -> dict:
    user = db.session.execute(db.select(User).filter_by(email=data["email"])).scalar_one_or_none()
    if not verify_password(user, data["password"]):
        raise Refusal(
            401, "Wrong email or password.", headers={"WWW-Authenticate": 'Bearer realm="api"'}
        )
    access_token, expires_in = issue_token(user)
    return {"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in}


@blp.post("/auth/logout")
@blp.doc(security=BEARER)
@problem_responses(401)
@blp.response(204)
@login_required
def logout() -> None:
    raw = bearer_token()
    if raw is not None:
        revoke_token(raw)
    else:
        # From the page's script: the same as the UI's logout, every copy of the cookie ends.
        end_session()


@blp.get("/me")
@blp.doc(security=BEARER)
@problem_responses(401)
@blp.response(200, MeSchema)
@login_required
def me() -> dict:
    user = require_user()
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "is_admin": user.is_admin,
        "miles_balance": _miles_balance(user),
    }


def _miles_balance(user: User) -> int | None:
    # The profile stays readable while the loyalty service is down; only the balance is unknown.
    try:
        return current_app.extensions["loyalty"].balance(str(user.id)).balance
    except SagaError:
        return None
