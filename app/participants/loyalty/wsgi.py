"""Entry point for gunicorn: `app.participants.loyalty.wsgi:app`."""

from app.observability.logs import configure_from_env
from app.participants.loyalty.service import create_app

# The service's own log lines go to stderr, in the booking service's format.
configure_from_env()
app = create_app()
