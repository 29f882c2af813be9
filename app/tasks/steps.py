"""The saga's actions and compensations as Celery tasks, generated from the definitions (app/saga.py).

One task per step name of any registered version, named `saga.<step>` so Flower reads as the saga.
Each message carries the saga id and the fence of the chain that sent it (app/engine.py); which
version's function runs is the saga's own, read by the engine, and which workers get the message
is decided by its queue (app/tasks/chains.py).
"""

from __future__ import annotations

from celery import Task, shared_task

from app import definitions
from app.tasks.runner import run


def _task(name: str) -> Task:
    # max_retries=None: the engine bounds the attempts, and work past the pivot must be able to retry
    # until it succeeds (Celery reads None in retry() as "the task's default"). A pool child killed
    # mid-step is retried after default_retry_delay; its lease and the fence cover a longer wait.
    # A compensation likewise: the engine records a debt after its retries and the chain goes on.
    def step(self: Task, saga_id: str, fence: int | None = None) -> None:
        run(self, saga_id, name, fence)

    step.__name__ = step.__qualname__ = name
    step.__doc__ = f"The saga step {name}."
    return shared_task(bind=True, name=f"saga.{name}", max_retries=None)(step)


_names = dict.fromkeys(name for definition in definitions.registered().values()
                       for name in (*definition.actions, *definition.compensations))
TASKS: dict[str, Task] = {name: _task(name) for name in _names}
