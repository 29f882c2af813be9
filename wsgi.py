"""Entry point for gunicorn, flask and celery: `app` and `celery_app`."""

from app import create_app

app = create_app()
celery_app = app.extensions["celery"]
