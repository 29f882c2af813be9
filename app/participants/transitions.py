"""State changes of payments and awards, written only by conditional UPDATEs.

A change is decided from the row as read, then written with ``UPDATE ... WHERE id = ? AND status = <as
read>`` (and any other column the decision read). A plain read locks nothing on SQLite (FOR UPDATE is
ignored there) and PostgreSQL re-checks an UPDATE's WHERE once a concurrent writer commits, so on both
only one of two conflicting changes matches the row. The other decides again from what the winner
left: usually a 409 ``invalid_state``, sometimes nothing to do (voiding a voided payment).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import update

from app.participants.web import ServiceError

Row = TypeVar("Row")
# Every failed attempt means another request changed the row in between: that cannot go on for long.
ATTEMPTS = 3


def change(db: SQLAlchemy, row: Row, decide: Callable[[Row], dict[str, Any] | None], *,
           also_guarded: tuple[str, ...] = ()) -> str | None:
    """Writes the column values ``decide`` makes of ``row`` (None: nothing to do) while its status and
    ``also_guarded`` columns are still as read; refreshes ``row`` and returns the status it left, or
    None when nothing was written. ``decide`` raises ServiceError for a change it refuses."""
    model = type(row)
    for _ in range(ATTEMPTS):
        values = decide(row)
        if values is None:
            return None
        seen = {name: getattr(row, name) for name in ("status", *also_guarded)}
        matched = db.session.execute(
            update(model)
            .where(model.id == row.id, *(getattr(model, name) == value for name, value in seen.items()))
            .values(**values)
            # The row is refreshed from the database below, whichever request won.
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.refresh(row)
        if matched == 1:
            return seen["status"]
    raise ServiceError(409, "invalid_state", f"The {model.__name__.lower()} kept changing; try again.",
                       **{f"{model.__name__.lower()}_status": row.status})
