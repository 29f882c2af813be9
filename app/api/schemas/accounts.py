"""Accounts: registration, tokens and the caller's profile."""

from __future__ import annotations

from marshmallow import Schema, fields, pre_load, validate

from app.api.schemas.common import printable, text
from app.passwords import MIN_PASSWORD, acceptable_password

MAX_PASSWORD = 256
MAX_EMAIL = 254  # RFC 5321's limit on a forward path


class _NormalisesEmail(Schema):
    @pre_load
    def _normalise_email(self, data, **kwargs):
        # Emails are unique case-insensitively: store and look them up lowercased.
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            data = {**data, "email": data["email"].strip().lower()}
        return data


class RegisterSchema(_NormalisesEmail):
    email = fields.Email(required=True, validate=[validate.Length(max=MAX_EMAIL), printable])
    password = fields.String(
        required=True, load_only=True,
        validate=[validate.Length(min=MIN_PASSWORD, max=MAX_PASSWORD), printable, acceptable_password],
        metadata={"description": f"At least {MIN_PASSWORD} characters besides spaces around them, and not "
                                 "one of the most common passwords."})
    name = text(200)


class AccountSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()


class CredentialsSchema(_NormalisesEmail):
    email = text(MAX_EMAIL)
    password = text(MAX_PASSWORD, load_only=True)


class TokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer(metadata={"description": "Seconds until the token expires."})


class MeSchema(AccountSchema):
    is_admin = fields.Boolean()
    miles_balance = fields.Integer(
        allow_none=True, metadata={"description": "Posted miles; null while the loyalty service is down."}
    )
