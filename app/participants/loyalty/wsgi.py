"""Entry point for gunicorn: `app.participants.loyalty.wsgi:app`."""

from app.observability.logs import configure_from_env
from app.participants.loyalty.service import create_app
from app.settings_check import created_or_exit

# The service's own log lines go to stderr, in the booking service's format.
configure_from_env()
app = created_or_exit(create_app)  # unworkable settings: one line, exit
