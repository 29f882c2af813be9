"""Shapes every endpoint shares: problem details, pages, bounded text."""

from __future__ import annotations

import re

from marshmallow import RAISE, Schema, ValidationError, fields, validate


class FullMatch(validate.Regexp):
    """A regex the whole value must match: with re.match, `$` also lets a trailing newline through.

    The pattern keeps ^ and $ so the OpenAPI document (ECMA regex) means the same thing.
    """

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


class StrictBoolean(fields.Boolean):
    """Only JSON true and false: 1 or "yes" are more likely mistakes than intent."""

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class DecimalString(fields.Decimal):
    """Money as a decimal string with at most two decimals ("150.00"), never a float-prone number."""

    PATTERN = r"^[0-9]+(\.[0-9]{1,2})?$"

    def __init__(self, **kwargs) -> None:
        # Documented as what it is on the wire; apispec would call a Decimal field a number.
        metadata = {"type": "string", "format": "decimal", "pattern": self.PATTERN, "example": "150.00"}
        super().__init__(as_string=True, metadata={**metadata, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or re.fullmatch(self.PATTERN, value) is None:
            raise ValidationError('Must be a decimal string with at most 2 decimals, such as "150.00".')
        return super()._deserialize(value, attr, data, **kwargs)


# Control characters (Unicode Cc) cannot be stored in PostgreSQL text (NUL) or are never meant,
# and lone surrogates (Cs) cannot be encoded at all: text that reaches the database has neither.
# A pattern rather than a function, so the OpenAPI document says so too.
printable = FullMatch(r"^[^\x00-\x1f\x7f-\x9f\ud800-\udfff]*$", error="Must not contain control characters.")


def text(max_length: int, *, min_length: int = 1, **kwargs) -> fields.String:
    """A required-by-default string of bounded length, free of control characters."""
    kwargs.setdefault("required", True)
    return fields.String(validate=[validate.Length(min=min_length, max=max_length), printable], **kwargs)


class ProblemSchema(Schema):
    """RFC 9457 problem details; `errors` maps each invalid field to its messages."""

    type = fields.String(metadata={"example": "/problems/validation-error"})
    title = fields.String(metadata={"example": "Unprocessable Entity"})
    status = fields.Integer(metadata={"example": 422})
    detail = fields.String()
    instance = fields.String(metadata={"example": "/api/v1/flights"})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


# Bounded so that the SQL offset stays far inside a 64-bit integer.
MAX_PAGE = 1_000_000
MAX_PAGE_SIZE = 100


class PageArgsSchema(Schema):
    """The base of every query-string schema: `?page=&page_size=`, and no parameter it does not know."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))

    def load(self, data, *, many=None, partial=None, unknown=None):
        # webargs loads query strings with unknown=EXCLUDE, which would silently drop a mistyped
        # parameter (`?pagesize=100`); refused here like an unknown field of a body.
        return super().load(data, many=many, partial=partial, unknown=RAISE)


class PageSchema(Schema):
    """A page of a list; subclasses declare `items`."""

    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True, metadata={"description": "Items on all pages together."})
