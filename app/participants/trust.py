"""Who may call the payment and loyalty services: bearer credentials, each with its scopes.

A service's credentials come from one setting (``PAYMENT_CREDENTIALS`` / ``LOYALTY_CREDENTIALS``),
entries separated by ``;``, each ``name:scope,scope:secret[,previous]``:

    web:tokenize,read:<secret>; worker:authorize,capture,...:<new secret>,<old secret>

The second secret is the one being rotated out: both open the door until it is removed. Every view
declares the scope it needs (``requires``) or that it is ``public``; a service refuses to start with
a view that does neither. No credential, or an unknown secret: 401; a known one without the view's
scope: 403. Both are problem+json and are answered before the body is read, so nothing changes.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from flask import Flask, g, request

from app.participants.web import ServiceError

View = TypeVar("View", bound=Callable)
# A secret is one token of RFC 6750's b64token alphabet (what secrets.token_urlsafe makes); the
# separators of the setting (: , ;) cannot appear in one.
_SECRET = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_NAME = re.compile(r"[a-z][a-z0-9_-]*")


class InsecureSettings(RuntimeError):
    """A service refuses to start: its credentials are malformed, or public ones in production."""


@dataclass(frozen=True)
class Credential:
    name: str
    scopes: frozenset[str]
    secrets: tuple[str, ...]  # the current one first, then the one being rotated out

    def __repr__(self) -> str:  # never the secrets, in a log line or a test failure
        return f"Credential({self.name!r}, scopes={sorted(self.scopes)})"


def parse_credentials(text: str, setting: str) -> tuple[Credential, ...]:
    """The credentials a ``name:scope,scope:secret[,previous]; ...`` setting names; InsecureSettings
    when it is malformed."""
    credentials = []
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        name, scopes, secrets = _fields(entry, setting)
        credentials.append(Credential(name, scopes, secrets))
    names = [credential.name for credential in credentials]
    if len(set(names)) != len(names):
        raise InsecureSettings(f"{setting} names a credential twice: {sorted(names)}")
    every_secret = [secret for credential in credentials for secret in credential.secrets]
    if len(set(every_secret)) != len(every_secret):
        # A secret shared by two credentials would make the caller whichever one is checked first.
        raise InsecureSettings(f"{setting} gives two credentials the same secret")
    return tuple(credentials)


def _fields(entry: str, setting: str) -> tuple[str, frozenset[str], tuple[str, ...]]:
    parts = entry.split(":")
    name = parts[0].strip()
    if len(parts) != 3 or not _NAME.fullmatch(name):
        raise InsecureSettings(f"{setting}: an entry must read name:scope,scope:secret[,previous] "
                               f"(the one starting {name[:20]!r} does not)")
    scopes = frozenset(scope.strip() for scope in parts[1].split(",") if scope.strip())
    secrets = tuple(secret.strip() for secret in parts[2].split(","))
    if not 1 <= len(secrets) <= 2 or not all(_SECRET.fullmatch(secret) for secret in secrets):
        raise InsecureSettings(f"{setting}: credential {name!r} needs one secret, or two while rotating")
    return name, scopes, secrets


def requires(scope: str) -> Callable[[View], View]:
    """Marks a view as callable only by a credential that carries ``scope``."""
    def mark(view: View) -> View:
        view.required_scope = scope  # type: ignore[attr-defined]
        return view

    return mark


def public(view: View) -> View:
    """Marks a view as callable without a credential (health checks, the API description)."""
    view.public = True  # type: ignore[attr-defined]
    return view


def authenticate(credentials: Iterable[Credential], presented: str) -> Credential | None:
    """The credential whose secret (current or previous) is ``presented``, else None.

    Every secret is compared, in constant time, so how long a refusal takes tells nothing about
    which secret a guess came close to.
    """
    found = None
    for credential in credentials:
        for secret in credential.secrets:
            if hmac.compare_digest(secret.encode(), presented.encode()):
                found = credential
    return found


def init_app(app: Flask, *, setting: str, development: Iterable[str]) -> None:
    """Reads the credentials from ``app.config[setting]`` and checks each request against them.

    Call after the blueprints are registered: a view that declares neither a scope nor ``public``,
    or a credential with a scope no view requires (a typo), stops the service from starting; so does
    a ``development`` secret (they are public) when ``ENV`` is production.
    """
    credentials = parse_credentials(app.config[setting], setting)
    _refuse_undeclared_views(app)
    known = {getattr(view, "required_scope", None) for view in app.view_functions.values()}
    unknown = {scope for credential in credentials for scope in credential.scopes} - known
    if unknown:
        raise InsecureSettings(f"{setting} grants scopes this service does not have: {sorted(unknown)}")
    if app.config.get("ENV") == "production":
        public_secrets = set(development) & {s for c in credentials for s in c.secrets}
        if public_secrets or not credentials:
            raise InsecureSettings(f"production needs {setting} of its own: the development "
                                   "credentials are public")
    app.extensions["credentials"] = credentials
    realm = app.name.rsplit(".", 2)[-2]  # app.participants.payment.service → payment

    @app.before_request
    def check_credential() -> None:
        view = app.view_functions.get(request.endpoint or "")
        if view is not None and getattr(view, "public", False):
            return
        # An unknown path or method is authenticated too: a stranger learns nothing of the routes.
        auth = request.authorization
        token = auth.token if auth is not None and auth.type == "bearer" else None
        caller = authenticate(app.extensions["credentials"], token) if token else None
        if caller is None:
            raise ServiceError(401, "unauthorized", "A valid bearer credential is required.",
                               headers={"WWW-Authenticate": f'Bearer realm="{realm}"'})
        g.caller = caller.name
        scope = getattr(view, "required_scope", None)
        if view is not None and scope not in caller.scopes:
            raise ServiceError(403, "forbidden", f"The credential {caller.name!r} may not {scope}.",
                               headers={"WWW-Authenticate": f'Bearer realm="{realm}", '
                                                           f'error="insufficient_scope", scope="{scope}"'})


def _refuse_undeclared_views(app: Flask) -> None:
    undeclared = sorted(name for name, view in app.view_functions.items()
                        if not getattr(view, "public", False) and not getattr(view, "required_scope", None))
    if undeclared:
        raise InsecureSettings(f"views without a scope or @public (fail closed): {undeclared}")

