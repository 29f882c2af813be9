"""The loyalty service's app factory: its own Flask app on its own database (port 8002)."""

from __future__ import annotations

from flask import Flask

from app import config, settings_check
from app.participants import trust, web
from app.participants.loyalty.models import db
from app.participants.loyalty.views import bp


def create_app(test_config: dict | None = None) -> Flask:
    # No static files: every route is an API endpoint with a declared scope (trust.py).
    app = Flask(__name__, instance_path=str(config.INSTANCE_DIR), static_folder=None)
    app.config.from_mapping(config.loyalty_from_env())
    if test_config:
        app.config.update(test_config)
    config.INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    # Before init_app, which opens the database URL.
    settings_check.refuse_unworkable_service(app, "LOYALTY")

    db.init_app(app)
    web.init_app(app, db, latency_setting="LOYALTY_LATENCY_MS",
                 latency_at_setting="LOYALTY_LATENCY_AT")
    app.register_blueprint(bp)
    # Every endpoint but /healthz and /openapi.json needs a caller's credential with its scope.
    trust.init_app(app, setting="LOYALTY_CREDENTIALS", development=config.dev_secrets("loyalty"))
    with app.app_context():
        web.create_tables(db)
    return app
