"""Errors on the UI's pages answer with a page, not the API's problem+json."""

from __future__ import annotations

from flask import render_template
from flask_wtf.csrf import CSRFError

from app.web import bp

MESSAGES = {
    403: ("Not allowed", "This page is for administrators."),
    404: ("Not found", "There is nothing here, or it belongs to another account."),
}


@bp.errorhandler(CSRFError)
def csrf_failed(exc: CSRFError):
    return render_template(
        "web/error.html", title="Please try again",
        message="This form was open too long or came from another site, so it was not sent. "
                "Go back, reload the page and send it again.",
    ), 400


@bp.errorhandler(403)
@bp.errorhandler(404)
def not_here(exc):
    title, message = MESSAGES[exc.code]
    return render_template("web/error.html", title=title, message=message), exc.code
