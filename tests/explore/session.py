"""Builds the explorer's world and driver and hands back the machine class bound to them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import teardown_app
from tests.explore.delivery import Driver
from tests.explore.machine import SagaExplorer
from tests.explore.world import World


@contextmanager
def explorer(tmp_path: Path, monkeypatch) -> Iterator[type[SagaExplorer]]:  # noqa: ANN001
    """A SagaExplorer subclass on a fresh world, inside the booking app's context."""
    world = World.build(tmp_path, monkeypatch)
    driver = Driver()
    driver.install(monkeypatch)
    machine = type("SagaExplorer", (SagaExplorer,), {"world": world, "driver": driver})
    try:
        with world.app.app_context():
            yield machine
    finally:
        world.close()
        teardown_app(world.app)
