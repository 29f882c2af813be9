"""Liveness of the service and of what it depends on."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from app.extensions import db, get_redis

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    parts = {"database": _check(lambda: db.session.execute(text("SELECT 1"))),
             "redis": _check(lambda: get_redis().ping())}
    healthy = all(state == "ok" for state in parts.values())
    return jsonify(status="ok" if healthy else "unavailable", **parts), 200 if healthy else 503


def _check(probe) -> str:
    try:
        probe()
    except Exception as exc:  # a health probe reports every failure instead of raising it
        return f"error: {type(exc).__name__}"
    return "ok"
