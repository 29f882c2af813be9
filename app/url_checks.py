"""Does a URL setting parse, for the client that will use it? One predicate per kind of URL.

Each says yes only when the library that will open the URL accepts it, so a typo is refused when a
process starts (app/settings_check.py) instead of at its first connection, minutes later.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from kombu.transport import resolve_transport
from redis.connection import parse_url as parse_redis_url
from sqlalchemy.engine import make_url

REDIS_SCHEMES = ("redis", "rediss", "unix")
# Settings whose whole value is a secret; URLs show all but their password.
SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "AUTH")
NOT_SECRET_SUFFIXES = ("_SECONDS", "_TTL")
# A password between "user:" and "@", in any URL (what masked() hides).
_PASSWORD = re.compile(r"(?P<head>://[^:/@\s]*:)[^@/\s]+@")


def database_url_ok(url: object) -> bool:
    """SQLAlchemy parses it and knows its dialect (`postgres://` is not one: `postgresql://` is)."""
    try:
        parsed = make_url(str(url))
        parsed.get_dialect()
        _ = parsed.port  # a port that is not a number fails here
    except Exception:  # ArgumentError, NoSuchModuleError, ValueError: all mean "cannot be used"
        return False
    return True


def redis_url_ok(url: object) -> bool:
    """redis-py parses it: a redis://, rediss:// or unix:// URL with a numeric port and DB."""
    text = str(url)
    try:
        parse_redis_url(text)
        parts = urlsplit(text)
        _ = parts.port
    except ValueError:
        return False
    db = parts.path.strip("/")
    return parts.scheme in REDIS_SCHEMES and (parts.scheme == "unix" or db == "" or db.isdigit())


def broker_url_ok(url: object) -> bool:
    """kombu knows the transport; a Redis broker's URL must also satisfy redis_url_ok."""
    text = str(url)
    scheme = text.partition("://")[0]
    if "://" not in text or not scheme:
        return False
    try:
        resolve_transport(scheme)
    except (KeyError, ImportError):
        return False
    return redis_url_ok(text) if scheme in REDIS_SCHEMES else True


def http_url_ok(url: object) -> bool:
    """An http:// or https:// URL with a host (and a numeric port, if any)."""
    try:
        parts = urlsplit(str(url))
        _ = parts.port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def masked(text: str) -> str:
    """The URL with its password, if any, replaced by ***."""
    return _PASSWORD.sub(lambda match: f"{match['head']}***@", text)


def masked_value(name: str, value: object) -> object:
    """What a setting may show in a log line or a report: no secret, no password in a URL."""
    upper = name.upper()
    if value and any(word in upper for word in SECRET_WORDS) and not upper.endswith(NOT_SECRET_SUFFIXES):
        return "***"
    return masked(value) if isinstance(value, str) else value
