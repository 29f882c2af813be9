"""Links from the saga log to Flower: each step row keeps its Celery task id, Flower has a page per task."""

from __future__ import annotations

from urllib.parse import quote

from flask import current_app


def flower_task_url(task_id: str | None, base_url: str | None = None) -> str | None:
    """Flower's page of task `task_id` (FLOWER_URL unless `base_url` is given); None without an id."""
    if not task_id:
        return None
    base = (base_url or current_app.config["FLOWER_URL"]).rstrip("/")
    return f"{base}/task/{quote(task_id, safe='')}"
