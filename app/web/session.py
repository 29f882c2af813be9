"""The browser session: its cookie, CSRF for the UI's forms and API calls, and page guards.

The CSRF rule, in one place:
- an HTML form posted to the UI carries the `csrf_token` field (Flask-WTF's CSRFProtect checks it);
- a state-changing call to the JSON API authenticated by the session cookie carries the same
  token in the `X-CSRFToken` header, since a cookie is sent by any site that makes the browser post;
- a call with a bearer token needs none: no other site can make a browser send that header.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, abort, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect, validate_csrf
from wtforms import ValidationError

from app.auth import SESSION_GENERATION, bearer_token, end_browser_sessions
from app.errors import Refusal
from app.models import User
from app.security import API_PREFIX, SAFE_METHODS

csrf = CSRFProtect()

CSRF_HEADER = "X-CSRFToken"


def init_app(app: Flask) -> None:
    # CSRFProtect's own hook would check every POST, the API's too; check_csrf below decides.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    app.before_request(check_csrf)


def check_csrf() -> None:
    """Before every request: the CSRF rule of the module docstring."""
    if request.method in SAFE_METHODS:
        return
    if request.path.startswith(API_PREFIX):
        if bearer_token() is None and current_user.is_authenticated:
            try:
                validate_csrf(request.headers.get(CSRF_HEADER))
            except ValidationError as exc:
                raise Refusal(
                    400,
                    f"{exc.args[0]} A call authenticated by the session cookie sends the page's "
                    f"CSRF token in the {CSRF_HEADER} header.",
                    type="csrf-failed",
                ) from None
        return
    csrf.protect(apply_exemptions=True)


def start_session(user: User) -> None:
    """Log the browser in as `user`, dropping whatever the anonymous session held (its CSRF token too)."""
    session.clear()
    login_user(user)
    session[SESSION_GENERATION] = user.session_generation
    # Permanent: the cookie carries an expiry, and Flask refuses one signed longer ago than
    # PERMANENT_SESSION_LIFETIME (renewed as the session is used).
    session.permanent = True


def end_session() -> None:
    """Log out: this browser, and on the server every copy of the user's session cookies."""
    if current_user.is_authenticated:
        end_browser_sessions(current_user.id)
    logout_user()
    session.clear()


# A path of this site as it goes out in Location: printable ASCII, no space, no backslash. Anything
# else is refused rather than cleaned: Werkzeug drops or refuses control characters on the way out
# (`/\t//evil.example` left as `//evil.example`, a newline a 500), so the string checked would not
# be the string sent.
_PATH = re.compile(r"/(?![/\\])[!-~]*")
# Percent-encoded control characters: a browser may decode them, and no page of ours has them.
_ENCODED_CONTROL = re.compile(r"%(?:[01][0-9a-f]|7f)", re.IGNORECASE)


def safe_next(target: str | None, default: str) -> str:
    """`target` if it is a path on this site, exactly as it will be sent; never another host."""
    if not target or not _PATH.fullmatch(target) or "\\" in target or _ENCODED_CONTROL.search(target):
        return default
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else default


def page_login_required(view: Callable) -> Callable:
    """A page for logged-in users; others go to the login form and come back."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            here = request.full_path if request.query_string else request.path
            return redirect(url_for("web.login", next=here))
        return view(*args, **kwargs)

    return wrapper


def page_admin_required(view: Callable) -> Callable:
    @wraps(view)
    @page_login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper
