"""gunicorn settings: metrics shared across worker processes, gunicorn's own lines in our log format.

The Procfile's `web` line names this file; gunicorn also reads it by default when started from the
project's root, so the payment and loyalty services get the same log format.
"""

from __future__ import annotations

from app.config import logging_from_env
from app.observability import multiproc

# Before any worker imports prometheus_client: that import decides on multiprocess mode.
metrics_dir = multiproc.prepare()

_logging = logging_from_env()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": _logging["LOG_LEVEL"], "handlers": []},
    "loggers": {
        # The app's own loggers go through the root handler that create_app installs.
        "gunicorn.error": {"level": _logging["LOG_LEVEL"], "handlers": ["ours"], "propagate": False},
        # Off, as without this dict; the API logs what matters about a request itself.
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
    },
    "handlers": {"ours": {"()": "app.observability.logs.build_handler", "fmt": _logging["LOG_FORMAT"]}},
    "formatters": {},
}


def on_starting(server) -> None:
    """Forget the metric files of processes that are gone (workers of an earlier run)."""
    removed = multiproc.prune_dead(metrics_dir)
    if removed:
        server.log.info("metrics: removed %d files of finished processes from %s", len(removed), metrics_dir)


def child_exit(server, worker) -> None:
    """A worker died: its live gauges must stop counting (prometheus_client's bookkeeping)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(metrics_dir))
