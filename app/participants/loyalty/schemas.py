"""Request bodies of the loyalty service, and the JSON shape of what it answers."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.participants.loyalty.models import Award

# Account ids travel in URL paths: no slashes, nothing that needs escaping.
ACCOUNT_ID = validate.Regexp(r"^[A-Za-z0-9._:@-]{1,64}$")
MAX_MILES = 10_000_000


class AwardRequest(Schema):
    account_id = fields.String(required=True, validate=ACCOUNT_ID)
    miles = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_MILES))
    reference = fields.String(required=True, validate=validate.Length(min=1, max=255))


def award_json(award: Award) -> dict:
    return {
        "id": award.id,
        "account_id": award.account_id,
        "miles": award.miles,
        "reference": award.reference,
        "status": str(award.status),
        "created_at": award.created_at.isoformat(),
        "posted_at": award.posted_at.isoformat() if award.posted_at else None,
        "reversed_at": award.reversed_at.isoformat() if award.reversed_at else None,
    }
