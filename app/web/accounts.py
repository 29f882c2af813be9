"""Sign up, log in and log out: HTML forms that start and end the browser session."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from app import accounts
from app.api.schemas.accounts import CredentialsSchema, RegisterSchema
from app.auth import verify_password
from app.errors import EmailTaken
from app.extensions import db
from app.models import User
from app.web import bp
from app.web.session import end_session, safe_next, start_session

# The API's own schemas: a rule about emails or passwords is written once.
_register = RegisterSchema()
_credentials = CredentialsSchema()


def _next_page() -> str:
    return safe_next(request.values.get("next"), url_for("web.search"))


def _form(*names: str) -> dict[str, str]:
    return {name: request.form.get(name, "") for name in names}


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if request.method == "GET":
        return render_template("web/signup.html", form={}, errors={}, next=request.args.get("next", ""))
    form = _form("name", "email", "password")
    errors: dict[str, list[str]] = {}
    try:
        data = _register.load(form)
    except ValidationError as exc:
        # "Length must be between 1 and 200" means "required" to a traveller.
        errors = {name: ["Required."] if not form.get(name) else messages
                  for name, messages in exc.normalized_messages().items()}
    else:
        try:
            user = accounts.register(data["email"], data["name"], data["password"])
        except EmailTaken:
            errors = {"email": ["An account with this email exists already; log in instead."]}
        else:
            start_session(user)
            return redirect(_next_page())
    form.pop("password")  # never echoed back into the page
    return render_template("web/signup.html", form=form, errors=errors,
                           next=request.form.get("next", "")), 422


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(_next_page())
        return render_template("web/login.html", form={}, error=None, next=request.args.get("next", ""))
    form = _form("email", "password")
    try:
        data = _credentials.load(form)
    except ValidationError:
        data = None
    user = None
    if data is not None:
        user = db.session.execute(db.select(User).filter_by(email=data["email"])).scalar_one_or_none()
    # verify_password spends the same time for an unknown email, so timing tells nothing.
    if data is None or not verify_password(user, data["password"]):
        return render_template("web/login.html", form={"email": form["email"]},
                               error="Wrong email or password.", next=request.form.get("next", "")), 401
    start_session(user)
    return redirect(_next_page())


@bp.post("/logout")
def logout():
    end_session()
    return redirect(url_for("web.search"))
