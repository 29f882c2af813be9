"""Celery tasks: thin wrappers that carry ids, retries and names; the logic lives in app/."""
