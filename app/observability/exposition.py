"""GET /metrics: this machine's saga metrics, merged over its processes, and the scrape-time gauges."""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

from app.observability import metrics, state

blp = Blueprint("metrics", __name__)


class Scrape:
    """What one scrape of the web app reports (generate_latest only needs `collect`)."""

    def collect(self) -> Iterator[Metric]:
        yield from recorded()
        yield from state.collect()


class Recorded:
    """The counters and histograms alone: what a worker machine serves (WORKER_METRICS_PORT)."""

    def collect(self) -> Iterator[Metric]:
        yield from recorded()


def recorded() -> Iterator[Metric]:
    """The counters and histograms: every process's files in multiprocess mode, else this process's."""
    if not metrics.MULTIPROC_DIR:
        yield from metrics.REGISTRY.collect()
        return
    # Only ours: a Flower started with the same environment writes its own metrics there too.
    for family in MultiProcessCollector(None, path=metrics.MULTIPROC_DIR).collect():
        if family.name.startswith(metrics.PREFIX):
            yield family


@blp.get("/metrics")
def serve() -> Response:
    """For the scraper only: each scrape runs SQL and Redis queries and tells how the service is doing."""
    expected = current_app.config["METRICS_TOKEN"]
    if not expected:
        abort(404)  # no scraper configured: nothing is served to anyone
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), expected.encode()):
        return Response("Send the METRICS_TOKEN as a bearer token.\n", status=401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    response = Response(generate_latest(Scrape()), content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response
