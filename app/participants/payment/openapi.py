"""The payment service's OpenAPI document (GET /openapi.json), from docs/participants.md."""

from __future__ import annotations

from app.participants.openapi import Json, document, ok, operation, path_parameter, problem

# What marshmallow's Decimal accepts: a number or a numeric string (range and cents checked after).
AMOUNT: Json = {"anyOf": [{"type": "string"}, {"type": "number"}]}
PAYMENT: Json = {"type": "object", "required": ["id", "status", "amount", "currency"], "properties": {
    "id": {"type": "string"},
    "status": {"type": "string", "enum": ["authorized", "voided", "captured", "refunded", "declined"]},
    "amount": {"type": "string"}, "currency": {"type": "string"},
    "captured_amount": {"type": "string"}, "refunded_amount": {"type": "string"},
    "decline_code": {"type": "string", "nullable": True},
    "brand": {"type": "string"}, "last4": {"type": "string"},
    "created_at": {"type": "string"}, "updated_at": {"type": "string"},
}}
TOKEN_REQUEST: Json = {"type": "object", "additionalProperties": False,
                       "required": ["card_number", "exp_month", "exp_year", "cvc"], "properties": {
    "card_number": {"type": "string"}, "cvc": {"type": "string"},
    "exp_month": {"type": "integer", "minimum": 1, "maximum": 12},
    "exp_year": {"type": "integer", "minimum": 2000, "maximum": 2100},
}}
AUTHORIZE_REQUEST: Json = {"type": "object", "additionalProperties": False,
                           "required": ["token", "amount", "currency"], "properties": {
    "token": {"type": "string", "minLength": 1, "maxLength": 64},
    "amount": AMOUNT,
    "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
}}
AMOUNT_REQUEST: Json = {"type": "object", "additionalProperties": False, "properties": {"amount": AMOUNT}}
OPERATION: Json = {"type": "object", "required": ["idempotency_key", "method", "path", "cancelled"],
                   "properties": {"payment": {"allOf": [PAYMENT], "nullable": True}}}
CANCELLED: Json = {"type": "object", "required": ["idempotency_key", "payment"],
                   "properties": {"payment": {"allOf": [PAYMENT], "nullable": True}}}

_PAYMENT_ID = [path_parameter("payment_id")]
_KEY = [path_parameter("key")]


def _change(verb: str, summary: str, *, amount: bool) -> Json:
    spec = operation(summary, verb, {200: ok("The payment as it is now.", PAYMENT)}, write=True,
                     body=AMOUNT_REQUEST if amount else None, body_required=False)
    return {"post": spec, "parameters": _PAYMENT_ID}


PATHS: Json = {
    "/tokens": {"post": operation("Swap a card for a token", "tokenize", {
        201: ok("The token, brand, last 4 and expiry.", {"type": "object", "required": ["token"]}),
        422: problem("invalid_card, with the field in errors."),
    }, write=True, body=TOKEN_REQUEST)},
    "/payments": {"post": operation("Authorize", "authorize", {
        201: ok("The authorized payment.", PAYMENT),
        402: problem("card_declined or insufficient_funds, with payment_id."),
    }, write=True, body=AUTHORIZE_REQUEST)},
    "/payments/{payment_id}": {"get": operation("A payment", "read", {
        200: ok("The payment.", PAYMENT)}), "parameters": _PAYMENT_ID},
    "/payments/{payment_id}/void": _change("void", "Release an uncaptured authorization", amount=False),
    "/payments/{payment_id}/capture": _change("capture", "Capture (all without an amount)", amount=True),
    "/payments/{payment_id}/refund": _change("refund", "Refund (all that is left without an amount)",
                                             amount=True),
    "/operations/{key}": {"get": operation("What was done under an Idempotency-Key", "read", {
        200: ok("The record and the payment as it is now.", OPERATION)}), "parameters": _KEY},
    "/operations/{key}/cancel": {"post": operation("Cancel the authorization under a key", "cancel", {
        200: ok("What was undone, or null for a tombstone.", CANCELLED)}, write=True),
        "parameters": _KEY},
}

DOCUMENT: Json = document("Payment service", PATHS, {})
