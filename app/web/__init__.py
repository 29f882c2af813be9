"""The web UI at `/`: server-rendered pages whose scripts call the JSON API as the browser session."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    # Not /static: that is the app's own static route, should it ever get one.
    static_url_path="/ui-static",
)


def init_app(app: Flask) -> None:
    from app.web import accounts, errors, filters, pages, session  # noqa: F401  (register on bp)

    session.init_app(app)
    app.register_blueprint(bp)
