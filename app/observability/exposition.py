"""GET /metrics: this machine's saga metrics, merged over its processes, and the scrape-time gauges."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response
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
    return Response(generate_latest(Scrape()), content_type=CONTENT_TYPE_LATEST)
