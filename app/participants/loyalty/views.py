"""The loyalty service's HTTP endpoints (docs/participants.md): parse, call an operation, answer."""

from __future__ import annotations

from flask import Blueprint, Response

from app.participants.idempotency import Answer, KeyedResource, idempotent, require_key_on_writes
from app.participants.loyalty import operations
from app.participants.loyalty.models import IdempotencyRecord, db
from app.participants.loyalty.openapi import DOCUMENT
from app.participants.loyalty.schemas import AwardRequest, award_json
from app.participants.trust import public, requires
from app.participants.web import health, json_response, load_body, raw_body

bp = Blueprint("loyalty", __name__)
bp.before_request(require_key_on_writes)
# A cancel by key reverses the award, pending or posted.
AWARDS = KeyedResource(db, IdempotencyRecord, "award", "/awards", operations.find, operations.reverse,
                       award_json)


@bp.get("/healthz")
@public
def healthz() -> Response:
    return health(db)


@bp.get("/openapi.json")
@public
def openapi() -> Response:
    return json_response(200, DOCUMENT)


@bp.post("/awards")
@requires("award")
def create_award() -> Response:
    data = load_body(AwardRequest())

    def run() -> Answer:
        award = operations.create_award(data["account_id"], data["miles"], data["reference"])
        return Answer(201, award_json(award), award.id)

    return idempotent(db, IdempotencyRecord, run, fingerprinted=raw_body())


@bp.get("/awards/<award_id>")
@requires("read")
def get_award(award_id: str) -> Response:
    return json_response(200, award_json(operations.find(award_id)))


@bp.post("/awards/<award_id>/post")
@requires("post")
def post_award(award_id: str) -> Response:
    return AWARDS.change(lambda: operations.post(award_id))


@bp.post("/awards/<award_id>/reverse")
@requires("reverse")
def reverse_award(award_id: str) -> Response:
    return AWARDS.change(lambda: operations.reverse(award_id))


@bp.get("/accounts/<account_id>/balance")
@requires("read")
def balance(account_id: str) -> Response:
    posted, pending = operations.balance(account_id)
    return json_response(200, {"account_id": account_id, "balance": posted, "pending": pending})


@bp.get("/operations/<path:key>")
@requires("read")
def lookup(key: str) -> Response:
    return AWARDS.lookup(key)


@bp.post("/operations/<path:key>/cancel")
@requires("cancel")
def cancel_operation(key: str) -> Response:
    """Reverses the award made under ``key``; if none was, none ever will be."""
    return AWARDS.cancel(key)
