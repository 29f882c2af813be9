"""Entry point for gunicorn: `app.participants.payment.wsgi:app`."""

from app.observability.logs import configure_from_env
from app.participants.payment.service import create_app
from app.settings_check import created_or_exit

# The service's own log lines (brand and last 4 at most, never a card number) go to stderr, in the
# booking service's format and through its redaction of card numbers.
configure_from_env()
app = created_or_exit(create_app)  # unworkable settings: one line, exit
