"""The loyalty service's OpenAPI document (GET /openapi.json), from docs/participants.md."""

from __future__ import annotations

from app.participants.loyalty.schemas import MAX_MILES
from app.participants.openapi import Json, document, ok, operation, path_parameter

AWARD: Json = {"type": "object", "required": ["id", "account_id", "miles", "status"], "properties": {
    "id": {"type": "string"}, "account_id": {"type": "string"}, "miles": {"type": "integer"},
    "reference": {"type": "string"},
    "status": {"type": "string", "enum": ["pending", "posted", "reversed"]},
    "created_at": {"type": "string"},
    "posted_at": {"type": "string", "nullable": True}, "reversed_at": {"type": "string", "nullable": True},
}}
AWARD_REQUEST: Json = {"type": "object", "additionalProperties": False,
                       "required": ["account_id", "miles", "reference"], "properties": {
    "account_id": {"type": "string", "pattern": "^[A-Za-z0-9._:@-]{1,64}$"},
    "miles": {"type": "integer", "minimum": 1, "maximum": MAX_MILES},
    "reference": {"type": "string", "minLength": 1, "maxLength": 255},
}}
BALANCE: Json = {"type": "object", "required": ["account_id", "balance", "pending"], "properties": {
    "account_id": {"type": "string"}, "balance": {"type": "integer"}, "pending": {"type": "integer"}}}
OPERATION: Json = {"type": "object", "required": ["idempotency_key", "method", "path", "cancelled"],
                   "properties": {"award": {"allOf": [AWARD], "nullable": True}}}
CANCELLED: Json = {"type": "object", "required": ["idempotency_key", "award"],
                   "properties": {"award": {"allOf": [AWARD], "nullable": True}}}

_AWARD_ID = [path_parameter("award_id")]
_KEY = [path_parameter("key")]

PATHS: Json = {
    "/awards": {"post": operation("Award pending miles", "award", {
        201: ok("The pending award.", AWARD)}, write=True, body=AWARD_REQUEST)},
    "/awards/{award_id}": {"get": operation("An award", "read", {200: ok("The award.", AWARD)}),
                           "parameters": _AWARD_ID},
    "/awards/{award_id}/post": {"post": operation("Post an award's miles", "post", {
        200: ok("The award as it is now.", AWARD)}, write=True), "parameters": _AWARD_ID},
    "/awards/{award_id}/reverse": {"post": operation("Reverse an award", "reverse", {
        200: ok("The award as it is now.", AWARD)}, write=True), "parameters": _AWARD_ID},
    "/accounts/{account_id}/balance": {"get": operation("Posted and pending miles", "read", {
        200: ok("The balance.", BALANCE)}), "parameters": [path_parameter("account_id")]},
    "/operations/{key}": {"get": operation("What was done under an Idempotency-Key", "read", {
        200: ok("The record and the award as it is now.", OPERATION)}), "parameters": _KEY},
    "/operations/{key}/cancel": {"post": operation("Cancel the award under a key", "cancel", {
        200: ok("What was undone, or null for a tombstone.", CANCELLED)}, write=True),
        "parameters": _KEY},
}

DOCUMENT: Json = document("Loyalty service", PATHS, {})
