"""What an operator sees: structured logs, Prometheus metrics at /metrics, links to Flower."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Logging (not under TESTING: pytest captures logs its own way), metric receivers, /metrics."""
    from app.observability import exposition, logs, task_signals

    if not app.testing:
        logs.configure(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
        task_signals.take_over_logging(app.config["LOG_FORMAT"])
    task_signals.connect()
    if app.config["WORKER_METRICS_PORT"]:
        task_signals.serve_metrics_from_worker(app.config["WORKER_METRICS_PORT"])
    app.register_blueprint(exposition.blp)
