"""Sign-up: the one way an account is made, for the API and the pages alike."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from app.auth import hash_password
from app.errors import EmailTaken
from app.extensions import db
from app.models import User


def register(email: str, name: str, password: str) -> User:
    """A new account, committed; EmailTaken when the email has one already."""
    if db.session.execute(db.select(User.id).filter_by(email=email)).first():
        raise EmailTaken(email)
    user = User(email=email, name=name, password_hash=hash_password(password))
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        # Another sign-up with the same email won the race since the check above.
        db.session.rollback()
        raise EmailTaken(email) from None
    return user
