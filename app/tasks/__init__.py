"""Celery tasks: thin wrappers that carry ids, retries and names; the logic lives in app/."""

from app.tasks import chains, maintenance, steps  # noqa: F401  (registers the tasks)
