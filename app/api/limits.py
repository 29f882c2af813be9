"""Rate limits (Flask-Limiter on Redis): who may ask how often, and the 429 they get otherwise.

Every limit is in LIMITS below; the rates are settings (app/config.py). Counters live in Redis
(RATELIMIT_STORAGE_URI, else REDIS_URL), so all web workers share them. Only POSTs count.

When Redis is down the limiter falls back to in-memory counters, one set per process, and goes
back to Redis once it answers again: limits stay in force (looser, per process) instead of being
dropped, and no request fails because of them. Errors the fallback does not cover are swallowed
and logged: a limiter fault lets the request through rather than answering 500.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from redis.exceptions import RedisError

from app.api.problems import handle_http_exception
from app.auth import current_user
from app.security import API_PREFIX

EXTENSION = "rate_limiter"


def client_address() -> str:
    # request.remote_addr is the client's own address only with TRUSTED_PROXIES set right.
    return request.remote_addr or "unknown"


def address_and_email() -> str:
    """The client address and the email it tries to log in as (hashed: keys and logs stay free of it)."""
    # The API sends JSON, the login page a form.
    body = request.get_json(silent=True) if request.is_json else request.form
    email = body.get("email") if isinstance(body, Mapping) else None
    # Normalised as the token endpoint looks accounts up, so "Ada@x" and "ada@x " share a counter.
    email = email.strip().lower() if isinstance(email, str) else ""
    digest = hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{client_address()}/{digest}"


def caller() -> str:
    """The authenticated user (whatever address they come from), else the client address."""
    user = current_user()
    return f"user:{user.id}" if user is not None else f"address:{client_address()}"


@dataclass(frozen=True)
class RateLimit:
    setting: str  # the config key holding the rate, e.g. "10/minute"; also the counter's scope
    key: Callable[[], str]
    # Counted together: the API and the login page are two doors to the same accounts.
    endpoints: tuple[str, ...]


LIMITS: tuple[RateLimit, ...] = (
    # Guessing passwords: per account from one address, and per address across accounts.
    RateLimit("RATELIMIT_LOGIN", address_and_email, ("accounts.token", "web.login")),
    RateLimit("RATELIMIT_LOGIN_PER_ADDRESS", client_address, ("accounts.token", "web.login")),
    RateLimit("RATELIMIT_REGISTER", client_address, ("accounts.register", "web.signup")),
    # Holding seats and starting sagas: per user, wherever they come from.
    RateLimit("RATELIMIT_HOLDS", caller, ("holds.create_hold",)),
    RateLimit("RATELIMIT_BOOKINGS", caller, ("bookings.create_booking",)),
)


def _rate(setting: str) -> Callable[[], str]:
    # Read per request, so a test (or an operator's config) can change the rate of a running app.
    return lambda: current_app.config[setting]


def _storage_options(uri: str) -> dict:
    # A Redis that does not answer should cost a request half a second, not the client's patience.
    if not uri.startswith(("redis://", "rediss://", "unix://")):
        return {}
    return {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}


def init_app(app: Flask) -> None:
    """Limit the views of LIMITS; call after the API's and the pages' blueprints are registered."""
    missing = {endpoint for limit in LIMITS for endpoint in limit.endpoints} - set(app.view_functions)
    if missing:
        # A renamed view would otherwise silently lose its limit.
        raise RuntimeError(f"rate limits name endpoints that do not exist: {sorted(missing)}")
    if not app.config["RATELIMIT_ENABLED"]:
        return
    storage_uri = app.config.get("RATELIMIT_STORAGE_URI") or app.config["REDIS_URL"]
    limiter = Limiter(
        key_func=client_address,
        storage_uri=storage_uri,
        storage_options=_storage_options(storage_uri),
        # Exact: a limit of 10 per minute never lets 11 through in any 60 s, and the oldest counted
        # request says when the next one may come (Retry-After). Small limits keep it cheap.
        strategy="moving-window",
        key_prefix="ratelimit",
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        headers_enabled=False,
    )
    limiter.init_app(app)
    app.extensions[EXTENSION] = limiter
    for limit in LIMITS:
        shared = limiter.shared_limit(_rate(limit.setting), scope=limit.setting, key_func=limit.key,
                                      methods=["POST"])
        for endpoint in limit.endpoints:
            # Several limits on one view share its name, and the innermost wrapper checks them all.
            app.view_functions[endpoint] = shared(app.view_functions[endpoint])
    app.register_error_handler(RateLimitExceeded, rate_limited)


def rate_limited(exc: RateLimitExceeded) -> Response:
    """The 429 problem, with Retry-After: the seconds until the limit lets a request through."""
    exc.retry_after = _seconds_to_reset(exc)
    exc.description = f"Too many requests: at most {exc.limit.limit}. Try again in {exc.retry_after} s."
    if request.path.startswith(API_PREFIX):
        # handle_http_exception turns retry_after into the Retry-After header, this into `detail`.
        return handle_http_exception(exc)
    # A page (the login form): werkzeug's plain HTML error page, unless the UI handles 429 itself.
    response = exc.get_response()
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _seconds_to_reset(exc: RateLimitExceeded) -> int:
    current = current_app.extensions[EXTENSION].current_limit
    try:
        reset_at = current.reset_at if current is not None else None
    except (RedisError, OSError):
        # Redis went away since the counter said no: the window length is an upper bound.
        reset_at = None
    window = exc.limit.limit.get_expiry()
    if reset_at is None:
        return window
    # Flask-Limiter rounds reset_at up by a second; no wait is longer than the window itself.
    return max(1, min(window, math.ceil(reset_at - time.time())))
