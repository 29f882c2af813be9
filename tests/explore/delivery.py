"""The delivery layer: what a message is, and how a worker runs one, for the code under test.

Everything the machine knows about how the saga is driven lives here, so that switching to
another engine means rewriting this module only. The machine sees:

    Delivery                      one message: task, saga id, fence, attempt, the rest of its chain
    Driver.install(monkeypatch)   route every enqueue into `Driver.outbox` instead of Celery
    Driver.run(delivery)          run it as a worker would; returns the deliveries it sends next
    Driver.janitor(name)          one beat janitor; what it plans lands in the outbox
    Driver.retry_now / cancel     the admin retry and the owner's cancellation

Today's code is driven through app/tasks: `run_action`/`run_compensation` with a stand-in for the
bound Celery task, the chain's errback `on_step_failed` called inline (as Celery calls a
new-style errback), and the module-level `start`/`compensate`/`dispatch` replaced.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

from app import holds, recovery, saga_log
from app import saga as definition
from app.extensions import db
from app.tasks import maintenance, runner
from app.tasks import saga as saga_tasks

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
    fence: int | None = None  # today's code has no fencing token
    countdown: float = 0.0  # a retry's delay, from when it was sent
    id: int = field(default_factory=lambda: next(_ids))

    def __str__(self) -> str:
        return f"{self.task}#{self.id}(attempt {self.attempt})"


def chain(saga_id: str, names: list[str] | tuple[str, ...], *, errback: bool) -> list[Delivery]:
    """A Celery chain is sent as its first message, carrying the others."""
    names = tuple(names)
    return [Delivery(names[0], saga_id, names[1:], errback)] if names else []


class RetryRequested(Exception):  # noqa: N818 - Celery's Retry, as this stand-in raises it
    def __init__(self, countdown: float) -> None:
        super().__init__(countdown)
        self.countdown = countdown


class _Task:
    """What run_action/run_compensation use of a bound Celery task."""

    def __init__(self, delivery: Delivery) -> None:
        self.request = SimpleNamespace(id=f"task-{delivery.id}", retries=delivery.attempt)

    def retry(self, exc: BaseException | None = None, countdown: float = 0.0,
              max_retries: int | None = None) -> RetryRequested:
        if max_retries is not None and self.request.retries >= max_retries:
            raise exc  # Celery re-raises the original exception once retries are used up
        raise RetryRequested(countdown)


class Driver:
    """Today's task layer, without a broker."""

    def __init__(self) -> None:
        self.outbox: list[Delivery] = []

    # Enqueueing --------------------------------------------------------------------------------

    def install(self, monkeypatch) -> None:  # noqa: ANN001 - pytest's MonkeyPatch
        monkeypatch.setattr(saga_tasks, "start", self._start)
        monkeypatch.setattr(saga_tasks, "compensate", self._compensate)
        monkeypatch.setattr(saga_tasks, "dispatch", self._dispatch)
        monkeypatch.setattr(maintenance, "dispatch", self._dispatch)
        from app.api import admin

        monkeypatch.setattr(admin, "dispatch", self._dispatch)

    def _start(self, saga_id: str, from_step: str | None = None) -> None:
        names = definition.ACTION_NAMES
        names = names[names.index(from_step):] if from_step else names
        self.outbox += chain(saga_id, names, errback=True)

    def _compensate(self, saga_id: str, names: list[str]) -> None:
        self.outbox += chain(saga_id, [*names, "finish"], errback=False)

    def _dispatch(self, redrive: recovery.Redrive) -> None:
        if redrive.debts:
            self.outbox.append(Delivery("pay_debts", redrive.saga_id))
        elif redrive.actions_from:
            self._start(redrive.saga_id, redrive.actions_from)
        else:
            self._compensate(redrive.saga_id, list(redrive.compensations))

    def take_outbox(self) -> list[Delivery]:
        sent, self.outbox = self.outbox, []
        return sent

    # Running -----------------------------------------------------------------------------------

    def run(self, delivery: Delivery) -> list[Delivery]:
        """Run one delivery to its end; returns what it sends (next in chain, its retry).

        A `faults.Killed` passes through: the caller decides whether the broker redelivers it.
        """
        try:
            self._body(delivery)
        except RetryRequested as retry:
            return [replace(delivery, attempt=delivery.attempt + 1, countdown=retry.countdown)]
        except Exception as exc:  # the task failed for good: Celery stops the chain, calls the errback
            db.session.rollback()
            if delivery.errback:
                saga_tasks.on_step_failed.run(SimpleNamespace(task=f"saga.{delivery.task}"), exc, None,
                                              saga_id=delivery.saga_id)
            return []
        if not delivery.rest:
            return []
        return [Delivery(delivery.rest[0], delivery.saga_id, delivery.rest[1:], delivery.errback,
                         fence=delivery.fence)]

    def _body(self, delivery: Delivery) -> None:
        task, saga_id = delivery.task, delivery.saga_id
        if task in definition.ACTIONS:
            runner.run_action(_Task(delivery), saga_id, task)
        elif task in definition.COMPENSATIONS:
            runner.run_compensation(_Task(delivery), saga_id, task)
        elif task == "finish":
            saga_log.finish(saga_id)
        elif task == "pay_debts":
            recovery.pay_debts_of(saga_id)
        else:
            raise ValueError(f"unknown task {task}")

    # Janitors, admin, owner --------------------------------------------------------------------

    def janitor(self, name: str) -> None:
        """One beat janitor, as app/tasks/maintenance.py runs it."""
        if name == "stalled_sagas":
            for redrive in recovery.stalled_sagas():
                self._dispatch(redrive)
        elif name == "lapsed_holds":
            for redrive in recovery.lapsed_holds():
                self._dispatch(redrive)
        elif name == "retry_debts":
            recovery.retry_debts()
        elif name == "sweep_expired":
            holds.sweep_expired()
        else:
            raise ValueError(f"unknown janitor {name}")

    def retry_now(self, saga_id: str) -> bool:
        """The admin's retry; False when there was nothing to retry."""
        redrive = recovery.retry_now(saga_id)
        if redrive is None:
            return False
        self._dispatch(redrive)
        return True

    def cancel(self, saga_id: str) -> bool:
        """The owner cancels a confirmed booking."""
        return saga_tasks.cancel(saga_id)
