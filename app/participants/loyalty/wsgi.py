"""Entry point for gunicorn: `app.participants.loyalty.wsgi:app`."""

import logging

from app.participants.loyalty.service import create_app

# The service's own log lines go to stderr, beside gunicorn's.
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
app = create_app()
