"""Entry point for gunicorn: `app.participants.payment.wsgi:app`."""

import logging

from app.participants.payment.service import create_app

# The service's own log lines (brand and last 4 at most, never a card number) go to stderr.
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
app = create_app()
