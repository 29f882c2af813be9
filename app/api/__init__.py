"""The JSON API under /api/v1, documented by flask-smorest from the marshmallow schemas."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from app.api import problems

api = Api()


def init_app(app: Flask) -> None:
    from app.api import health

    api.init_app(app)
    # flask-smorest's own error bodies are not RFC 9457: ours replace them.
    problems.init_app(app)
    app.register_blueprint(health.blp)
    for module in _blueprint_modules():
        api.register_blueprint(module.blp)


def _blueprint_modules() -> list:
    from app.api import accounts, admin, bookings, flights, holds

    return [accounts, flights, holds, bookings, admin]
