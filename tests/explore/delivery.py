"""The delivery layer: what a message is, and how a worker runs one, for the code under test.

Everything the machine knows about how the saga is driven lives here, so that switching to
another engine means rewriting this module only. The machine sees:

    Delivery                      one message: task, saga id, fence, attempt, the rest of its chain
    Driver.install(monkeypatch)   route every enqueue into `Driver.outbox` instead of Celery
    Driver.run(delivery)          run it as a worker would; returns the deliveries it sends next
    Driver.janitor(name)          one beat janitor; what it plans lands in the outbox
    Driver.retry_now / cancel     the admin retry and the owner's cancellation

The code is driven through the step engine (app/engine.py) as app/tasks/runner.py drives it: each
delivery is one `engine.run_step`, a failure for good calls the chain's errback inline (as Celery
calls a new-style errback), and every plan the engine or recovery makes is turned into messages
that carry its fence, in place of `app.tasks.chains.dispatch`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

from app import engine, holds, recovery
from app.engine import Plan
from app.tasks import chains as saga_tasks
from app.tasks import maintenance

JANITORS = ("stalled_sagas", "lapsed_holds", "retry_debts", "sweep_expired")
_ids = itertools.count(1)


@dataclass(frozen=True)
class Delivery:
    """One message as a worker receives it; a retry or a redelivery keeps its id."""

    task: str  # a step or compensation name, "finish" or "pay_debts"
    saga_id: str
    rest: tuple[str, ...] = ()  # the chain's later tasks, sent once this one succeeds
    errback: bool = False  # the chain has on_step_failed attached
    attempt: int = 0
    fence: int | None = None  # the fence of the chain that sent it
    countdown: float = 0.0  # a retry's delay, from when it was sent
    id: int = field(default_factory=lambda: next(_ids))

    def __str__(self) -> str:
        return f"{self.task}#{self.id}(attempt {self.attempt})"


def chain(saga_id: str, names: list[str] | tuple[str, ...], *, errback: bool, fence: int) -> list[Delivery]:
    """A Celery chain is sent as its first message, carrying the others."""
    names = tuple(names)
    return [Delivery(names[0], saga_id, names[1:], errback, fence=fence)] if names else []


class Driver:
    """Today's task layer, without a broker."""

    def __init__(self) -> None:
        self.outbox: list[Delivery] = []

    # Enqueueing --------------------------------------------------------------------------------

    def install(self, monkeypatch) -> None:  # noqa: ANN001 - pytest's MonkeyPatch
        monkeypatch.setattr(saga_tasks, "dispatch", self._dispatch)
        monkeypatch.setattr(maintenance, "dispatch", self._dispatch)
        from app.api import admin

        monkeypatch.setattr(admin, "dispatch", self._dispatch)

    def _dispatch(self, plan: Plan) -> None:
        """What app.tasks.chains.dispatch sends for a plan."""
        if plan.debts:
            self.outbox.append(Delivery("pay_debts", plan.saga_id, fence=plan.fence))
        elif plan.actions:
            self.outbox += chain(plan.saga_id, plan.actions, errback=True, fence=plan.fence)
        else:
            self.outbox += chain(plan.saga_id, [*plan.compensations, "finish"], errback=False,
                                 fence=plan.fence)

    def take_outbox(self) -> list[Delivery]:
        sent, self.outbox = self.outbox, []
        return sent

    # Running -----------------------------------------------------------------------------------

    def run(self, delivery: Delivery) -> list[Delivery]:
        """Run one delivery to its end; returns what it sends (next in chain, its retry).

        A `faults.Killed` passes through: the caller decides whether the broker redelivers it.
        """
        task, saga_id = delivery.task, delivery.saga_id
        if task == "finish":
            engine.finish(saga_id, delivery.fence)
            return []
        if task == "pay_debts":
            recovery.pay_debts_of(saga_id)
            return []
        # Celery gives every message of a chain its id when the chain is sent.
        next_id = next(_ids) if delivery.rest else None
        outcome = engine.run_step(saga_id, task, delivery.fence, delivery.attempt, f"task-{delivery.id}",
                                  next_id and f"task-{next_id}")
        if isinstance(outcome, engine.Retry):
            return [replace(delivery, attempt=delivery.attempt + 1, countdown=outcome.countdown)]
        if isinstance(outcome, engine.Failed):  # Celery stops the chain and calls its errback
            if delivery.errback:
                plan = engine.step_failed(saga_id, delivery.fence, task, outcome.error)
                if plan is not None:
                    self._dispatch(plan)
            return []
        if isinstance(outcome, engine.Fenced) or not delivery.rest:
            return []
        return [Delivery(delivery.rest[0], saga_id, delivery.rest[1:], delivery.errback,
                         fence=delivery.fence, id=next_id)]

    # Janitors, admin, owner --------------------------------------------------------------------

    def janitor(self, name: str) -> None:
        """One beat janitor, as app/tasks/maintenance.py runs it."""
        if name == "stalled_sagas":
            for plan in recovery.stalled_sagas():
                self._dispatch(plan)
        elif name == "lapsed_holds":
            for plan in recovery.lapsed_holds():
                self._dispatch(plan)
        elif name == "retry_debts":
            recovery.retry_debts()
        elif name == "sweep_expired":
            holds.sweep_expired()
        else:
            raise ValueError(f"unknown janitor {name}")

    def retry_now(self, saga_id: str) -> bool:
        """The admin's retry; False when there was nothing to retry (NotStalled passes through)."""
        plan = recovery.retry_now(saga_id)
        if plan is None:
            return False
        self._dispatch(plan)
        return True

    def cancel(self, saga_id: str) -> bool:
        """The owner cancels a confirmed booking."""
        return saga_tasks.cancel(saga_id)
