"""Idempotent writes: the first answer under an Idempotency-Key is recorded and replayed.

An operation's *returned* answer (a success, or a decline the caller may later look up) is stored
in the same transaction as its effect, so an effect never exists without its key. Errors *raised*
as ServiceError (validation, unknown ids, invalid states, outages) record nothing: the same key may
be tried again. A key is claimed by its row's primary key, so two concurrent requests with one key
cannot both take effect.

Cancelling by key (``POST /operations/<key>/cancel``) undoes what was done under a key, and when
nothing was, claims the key with a *tombstone*: a record that refuses every later request under it
(409 ``operation_cancelled``). A tombstone and the operation it forestalls race for the same primary
key, so exactly one of them wins.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Response, current_app, json, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Integer, String, Text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from app.models.types import UTCDateTime, utcnow
from app.participants.web import ServiceError, json_response, problem_body, raw_body

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# The fingerprint of a tombstone. Real ones are 64 hex digits, so no request ever matches it; a marker
# in an existing column rather than a new one, because the services create their tables with
# create_all, which never adds a column to a table that exists.
TOMBSTONE = "cancelled"
# A claim can lose at most twice: to the target key of a cancel, then to a request with its own key.
CLAIM_ATTEMPTS = 3
CANCELLED_DETAIL = "The operation under this Idempotency-Key was cancelled before it ran; it never will."


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

    @property
    def is_tombstone(self) -> bool:
        """True when the key was cancelled before any operation ran under it."""
        return self.fingerprint == TOMBSTONE


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
        "cancelled": record.is_tombstone,
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


def cancel_target(db: SQLAlchemy, record_model: type, key: str, *, method: str,
                  path: str) -> IdempotencyRecordMixin | None:
    """The record of the ``method path`` done under ``key``, or None after adding a tombstone there.

    Run inside ``idempotent()``: if the operation under ``key`` commits first, the tombstone's insert
    fails and ``idempotent()`` runs the cancel again, which then finds that operation to undo.
    """
    if key == request_key():
        raise ServiceError(422, "idempotency_key_reused", f"A cancel needs an {HEADER} of its own.")
    record = db.session.get(record_model, key)
    if record is None:
        db.session.add(record_model(
            key=key, fingerprint=TOMBSTONE, method=request.method, path=request.path,
            response_status=409, response_body=json.dumps(problem_body(409, "operation_cancelled",
                                                                       CANCELLED_DETAIL)),
        ))
        return None
    if not record.is_tombstone and (record.method, record.path) != (method, path):
        raise ServiceError(409, "invalid_state", f"Only a {method} {path} can be cancelled by its key; "
                                                 f"this one was used for {record.method} {record.path}.")
    return record


def idempotent(db: SQLAlchemy, record_model: type, operation: Callable[[], Answer], *,
               fingerprinted: dict) -> Response:
    """Replays the answer recorded under the request's key, or runs ``operation`` and records it."""
    key = request_key()
    request_print = fingerprint(request.method, request.path, fingerprinted)
    lost = 0
    while True:
        record = db.session.get(record_model, key)
        if record is not None:
            return _replay(record, request_print)
        try:
            return _run_and_record(db, record_model, key, request_print, operation)
        except IntegrityError:
            # A concurrent request committed first under this key (its answer stands, ours is undone),
            # or under the key this cancel tombstones (there is an operation to undo now): look again.
            db.session.rollback()
            lost += 1
            if lost == CLAIM_ATTEMPTS:
                raise


def _run_and_record(db: SQLAlchemy, record_model: type, key: str, request_print: str,
                    operation: Callable[[], Answer]) -> Response:
    """Runs ``operation`` and commits its answer under ``key`` in the same transaction as its effect."""
    answer = operation()
    body = json.dumps(answer.body)
    db.session.add(record_model(
        key=key, fingerprint=request_print, method=request.method, path=request.path,
        response_status=answer.status, response_body=body, resource_id=answer.resource_id,
    ))
    db.session.commit()
    return json_response(answer.status, body)


def _replay(record: IdempotencyRecordMixin, request_print: str) -> Response:
    if record.is_tombstone:
        raise ServiceError(409, "operation_cancelled", CANCELLED_DETAIL)
    if not hmac.compare_digest(record.fingerprint, request_print):
        raise ServiceError(
            422, "idempotency_key_reused",
            f"This {HEADER} was used for a different request ({record.method} {record.path}).",
        )
    return json_response(record.response_status, record.response_body, {"Idempotent-Replayed": "true"})


@dataclass(frozen=True)
class KeyedResource:
    """A service's resource as its key-addressed endpoints see it: the shape both services share.

    ``create_path`` is the POST whose key a cancel may target; ``undo`` reverses the resource by id
    (void or refund a payment, reverse an award); ``to_json`` is its wire shape.
    """

    db: SQLAlchemy
    record_model: type
    name: str
    create_path: str
    find: Callable[[str], Any]
    undo: Callable[[str], Any]
    to_json: Callable[[Any], dict]

    def lookup(self, key: str) -> Response:
        """``GET /operations/<key>``: the request recorded under ``key`` and its resource now."""
        record = find_record(self.db, self.record_model, key)
        resource = self.find(record.resource_id) if record.resource_id else None
        body = lookup_body(record, self.name, self.to_json(resource) if resource else None)
        return json_response(200, body)

    def cancel(self, key: str) -> Response:
        """``POST /operations/<key>/cancel``: undo what was made under ``key``, or close the key."""
        def run() -> Answer:
            record = cancel_target(self.db, self.record_model, key, method="POST", path=self.create_path)
            resource = self.undo(record.resource_id) if record and record.resource_id else None
            body = {"idempotency_key": key, self.name: self.to_json(resource) if resource else None}
            return Answer(200, body, resource.id if resource else None)

        return idempotent(self.db, self.record_model, run, fingerprinted=raw_body())

    def change(self, change: Callable[[], Any]) -> Response:
        """An idempotent write that answers 200 with the resource it changed."""
        def run() -> Answer:
            resource = change()
            return Answer(200, self.to_json(resource), resource.id)

        return idempotent(self.db, self.record_model, run, fingerprinted=raw_body())
