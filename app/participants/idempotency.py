"""Idempotent writes: the first answer under an Idempotency-Key is recorded and replayed.

An operation's *returned* answer (a success, or a decline the caller may later look up) is stored
in the same transaction as its effect, so an effect never exists without its key. Errors *raised*
as ServiceError (validation, unknown ids, invalid states, outages) record nothing: the same key may
be tried again. A key is claimed by its row's primary key, so two concurrent requests with one key
cannot both take effect.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import Response, current_app, json, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Integer, String, Text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from app.models.types import UTCDateTime, utcnow
from app.participants.web import ServiceError, json_response

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class IdempotencyRecordMixin:
    """Columns of a service's ``idempotency_records`` table."""

    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    # A keyed hash of method, path and body: the body itself may hold a card number.
    fingerprint: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(255))
    response_status: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    # The payment or award the operation created or changed, for lookups by key.
    resource_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class Answer:
    """What an operation produced: recorded under its key and replayed as is."""

    status: int
    body: dict
    resource_id: str | None = None


def request_key() -> str:
    """The request's Idempotency-Key header; 400 when missing or unusable."""
    key = request.headers.get(HEADER, "")
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ServiceError(
            400, "idempotency_key_missing",
            f"Every write needs an {HEADER} header of 1-{MAX_KEY_LENGTH} printable characters.",
        )
    return key


def find_record(db: SQLAlchemy, record_model: type, key: str) -> IdempotencyRecordMixin:
    """The record of the operation done under ``key``; 404 ``operation_not_found`` if none."""
    record = db.session.get(record_model, key)
    if record is None:
        raise ServiceError(404, "operation_not_found", "Nothing was recorded under this idempotency key.")
    return record


def lookup_body(record: IdempotencyRecordMixin, resource_name: str, resource: dict | None) -> dict:
    """The answer of ``GET /operations/<key>``: the request recorded and its resource as it is now."""
    return {
        "idempotency_key": record.key,
        "method": record.method,
        "path": record.path,
        "response_status": record.response_status,
        resource_name: resource,
    }


def require_key_on_writes() -> None:
    """A blueprint's before_request: no write is looked at without its key."""
    if request.method == "POST":
        request_key()


def fingerprint(method: str, path: str, body: dict) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, canonical.encode(), hashlib.sha256).hexdigest()


def idempotent(db: SQLAlchemy, record_model: type, operation: Callable[[], Answer], *,
               fingerprinted: dict) -> Response:
    """Replays the answer recorded under the request's key, or runs ``operation`` and records it."""
    key = request_key()
    request_print = fingerprint(request.method, request.path, fingerprinted)
    record = db.session.get(record_model, key)
    if record is None:
        answer = operation()
        body = json.dumps(answer.body)
        db.session.add(record_model(
            key=key, fingerprint=request_print, method=request.method, path=request.path,
            response_status=answer.status, response_body=body, resource_id=answer.resource_id,
        ))
        try:
            db.session.commit()
            return json_response(answer.status, body)
        except IntegrityError:
            # A concurrent request with the same key committed first: its answer stands, ours is undone.
            db.session.rollback()
            record = db.session.get(record_model, key)
            if record is None:
                raise
    if not hmac.compare_digest(record.fingerprint, request_print):
        raise ServiceError(
            422, "idempotency_key_reused",
            f"This {HEADER} was used for a different request ({record.method} {record.path}).",
        )
    return json_response(record.response_status, record.response_body, {"Idempotent-Replayed": "true"})
