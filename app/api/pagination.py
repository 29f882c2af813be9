"""`?page=&page_size=` arguments and the list body every collection answers with."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

MAX_PAGE_SIZE = 100


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(1, 100_000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(1, MAX_PAGE_SIZE))


def page_body(items: list, total: int, args: dict) -> dict:
    return {"items": items, "page": args["page"], "page_size": args["page_size"], "total": total}
