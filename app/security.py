"""Headers every response carries, cookie settings, and the client address behind a proxy."""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

# No inline script or style anywhere: a page that needs one must ship it as a file under 'self'.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
))

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # For browsers older than CSP's frame-ancestors.
    "X-Frame-Options": "DENY",
}

API_PREFIX = "/api/"
# RFC 9110's safe methods: they change nothing, so they need no CSRF token and may be cached.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    if request.path.startswith(API_PREFIX) and (request.method not in SAFE_METHODS or carries_credentials()):
        # Someone's bookings, holds or a fresh token: no cache, shared or private, may keep a copy.
        response.headers["Cache-Control"] = "no-store"
    return response


def carries_credentials() -> bool:
    """Whether the request came with a bearer token or a session cookie (valid or not)."""
    config = current_app.config
    cookies = (config["SESSION_COOKIE_NAME"], config.get("REMEMBER_COOKIE_NAME", "remember_token"))
    return "Authorization" in request.headers or any(name in request.cookies for name in cookies)


def _settle_cookie_flags(app: Flask) -> None:
    # The one place the cookie flags are settled (the defaults and SESSION_COOKIE_SECURE are read in
    # app/config.py). Unset means "Secure in production": a Secure cookie is never sent over plain
    # HTTP, so a developer on http://127.0.0.1 could not log in with it.
    for name in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        if app.config.get(name) is None:
            app.config[name] = app.config["ENV"] == "production"


def init_app(app: Flask) -> None:
    _settle_cookie_flags(app)
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        # Only behind proxies that set X-Forwarded-For: trusting it otherwise would let any client
        # pick the address its rate limits are counted under.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    app.after_request(add_security_headers)
