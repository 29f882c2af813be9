"""Who is calling: bearer tokens for API clients, the Flask-Login session for the browser."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from functools import cache, wraps

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from flask import Flask, current_app, g, request, session
from flask_login import LoginManager
from flask_login import current_user as session_user
from sqlalchemy import bindparam, select, update

from app.errors import Refusal
from app.extensions import db
from app.models import ApiToken, User
from app.models.types import utcnow

login_manager = LoginManager()
# The session key holding the user's session generation as it was at login (User.session_generation).
SESSION_GENERATION = "generation"
_hasher = PasswordHasher()  # Argon2id with argon2-cffi's RFC 9106 "low memory" profile


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    if user is None:
        # Spend the same time as a real check, so timing does not reveal which emails exist.
        _hasher.hash(password)
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def _digest(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def issue_token(user: User) -> tuple[str, int]:
    """A new random bearer token for `user` and its lifetime in seconds; only its hash is kept."""
    raw = secrets.token_urlsafe(32)
    ttl = current_app.config["TOKEN_TTL_SECONDS"]
    db.session.add(
        ApiToken(user_id=user.id, token_hash=_digest(raw), expires_at=utcnow() + timedelta(seconds=ttl))
    )
    db.session.commit()
    return raw, ttl


def revoke_token(raw_token: str) -> None:
    token = db.session.execute(
        db.select(ApiToken).filter_by(token_hash=_digest(raw_token))
    ).scalar_one_or_none()
    if token is not None and token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


# Every API request reads it: built once (building a statement cost about as much as running it).
# The token's two columns, not the token as an object: nothing changes it here.
@cache
def _token_read():
    return (select(User, ApiToken.revoked_at, ApiToken.expires_at)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == bindparam("token_hash")))


def _user_for_token(raw_token: str) -> User | None:
    row = db.session.execute(_token_read(), {"token_hash": _digest(raw_token)}).first()
    if row is None:
        return None
    user, revoked_at, expires_at = row
    if revoked_at is not None or expires_at <= utcnow():
        return None
    return user


def current_user() -> User | None:
    """The caller, from a bearer token or the browser session; None when anonymous."""
    # Cached per request (not on `g`, which outlives a request when an app context is already pushed).
    cache = request.environ
    if "booking.user" not in cache:
        raw = bearer_token()
        if raw is not None:
            cache["booking.user"] = _user_for_token(raw)
            cache["booking.via_session"] = False
        else:
            user = session_user._get_current_object() if session_user.is_authenticated else None
            cache["booking.user"] = user
            cache["booking.via_session"] = user is not None
    return cache["booking.user"]


def require_user() -> User:
    user = current_user()
    if user is None:
        raise Refusal(
            401,
            "Send a valid bearer token (POST /api/v1/auth/token) or log in.",
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )
    return user


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        require_user()
        return view(*args, **kwargs)

    return wrapper


def admin_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not require_user().is_admin:
            raise Refusal(403, "This needs an administrator.")
        return view(*args, **kwargs)

    return wrapper


def init_app(app: Flask) -> None:
    login_manager.init_app(app)

    @app.before_request
    def forget_previous_caller() -> None:
        # Flask-Login caches the session user on g, which belongs to the app context; that outlives
        # a request when the context was pushed first (tests, scripts), so one caller would answer
        # for the next.
        g.pop("_login_user", None)

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        user = db.session.get(User, int(user_id))
        # A session from before the user's last logout (a copied cookie, another browser) is over.
        if user is None or session.get(SESSION_GENERATION) != user.session_generation:
            return None
        return user


def end_browser_sessions(user_id: int) -> None:
    """Log the user out of every browser session: each cookie issued so far stops working."""
    db.session.execute(
        update(User).where(User.id == user_id).values(session_generation=User.session_generation + 1)
    )
    db.session.commit()
