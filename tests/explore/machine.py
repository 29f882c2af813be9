"""The interleaving explorer: any order of deliveries, duplicates, stale messages, kills, timeouts,
late requests, pauses, janitors, admin retries, cancellations and clock jumps, over the real saga
code and the real payment and loyalty services (no broker, no worker).

The model is Celery's at-least-once delivery: `pending` holds the messages the broker would hand
out, in no particular order; `consumed` every message already run (a stale redelivery picks one).
After every rule the invariants of SPEC §5 are checked; at the end `teardown` quiesces the world
(drains everything, runs the janitors, moves the clock on, until nothing is left) and checks that
every saga ended with its money, miles and holds settled.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from app import saga_log
from app.extensions import db
from app.models import StepStatus
from tests.explore import faults
from tests.explore.delivery import JANITORS, Delivery, Driver
from tests.explore.world import CARDS, SEATS, World

MAX_SAGAS = 3
MAX_PARKED = 2
QUIESCE_ROUNDS = 30
RECOVERY_ROUNDS = 3
DRAIN_LIMIT = 400

seat_sets = st.lists(st.sampled_from(SEATS), min_size=1, max_size=2, unique=True)
cards = st.sampled_from(["approved", "approved", "approved", "declined", "no_funds", "processor_down"])
picks = st.integers(min_value=0, max_value=63)  # an index into a list, taken modulo its length
nth = st.integers(min_value=0, max_value=3)
CLOCK_JUMPS = ("second", "lease", "hold_ttl", "hold_max")


class Violation(AssertionError):
    """An invariant of SPEC §5 broke."""


_kinds: dict[str, type[Violation]] = {}


def violation(clause: str) -> type[Violation]:
    """One subclass per invariant clause: Hypothesis tells bugs apart by exception type, so two
    clauses broken by two interleavings are shrunk and reported separately."""
    if clause not in _kinds:
        _kinds[clause] = type(clause, (Violation,), {"__module__": __name__})
    return _kinds[clause]


def step(function: Callable) -> Callable:
    """Marks the machine unclean while a rule or check runs: one that raised leaves it so, and
    teardown then skips the quiesce (its own failure would hide the first one)."""

    @functools.wraps(function)
    def run(self: SagaExplorer, **kwargs: object) -> None:
        self.clean = False
        function(self, **kwargs)
        self.clean = True

    return run


class SagaExplorer(RuleBasedStateMachine):
    world: World  # set by the test before the machine runs
    driver: Driver
    examples = 0  # how many examples ran, in this process (scripts/explore reports it)

    def __init__(self) -> None:
        super().__init__()
        SagaExplorer.examples += 1
        self.world.reset()
        self.driver.outbox.clear()
        self.pending: list[Delivery] = []
        self.consumed: list[Delivery] = []
        self.parked: list[tuple[Delivery, faults.Parked]] = []
        self.keys: list[tuple[int, list[str], str, str]] = []  # (user, seats, card, key) of each POST
        self.saga_ids: list[str] = []
        self._keys = itertools.count(1)
        self.clean = True

    # Helpers ---------------------------------------------------------------------------------------

    def _collect(self) -> None:
        self.pending += self.driver.take_outbox()

    def _run(self, delivery: Delivery, plan: faults.Plan, *, redeliver: bool = True) -> str:
        """Run one delivery on this thread under `plan`; a killed one goes back to the broker."""
        if delivery.countdown:
            self.world.clock.advance(delivery.countdown, self.world.redis)
        self.consumed.append(delivery)
        with faults.set_plan_temporarily(plan):
            try:
                sent = self.driver.run(delivery)
                faults.die_if_doomed(plan)  # killed after its last commit, before the ack
            except faults.Killed:
                _lose_session()
                if redeliver:  # acks_late + reject_on_worker_lost: the broker hands it out again
                    self.pending.append(delivery)
                self._collect()
                return "killed"
        self.pending += sent
        self._collect()
        return "ran"

    def _take(self, pick: int) -> Delivery:
        return self.pending.pop(pick % len(self.pending))

    # Rules -----------------------------------------------------------------------------------------

    @precondition(lambda self: len(self.saga_ids) < MAX_SAGAS)
    @rule(user=st.integers(0, 1), seats=seat_sets, card=cards)
    @step
    def create_booking(self, user: int, seats: list[str], card: str) -> None:
        key = f"explore-{next(self._keys)}"
        status, saga_id = self.world.book(user, seats, card, key)
        assert status == 202, status
        self.keys.append((user, seats, card, key))
        self.saga_ids.append(saga_id)
        self._collect()

    @precondition(lambda self: self.keys)
    @rule(pick=picks)
    @step
    def retry_booking_post(self, pick: int) -> None:
        """I5: the same POST again with its Idempotency-Key starts nothing new."""
        user, seats, card, key = self.keys[pick % len(self.keys)]
        before = len(self.world.sagas())
        status, saga_id = self.world.book(user, seats, card, key)
        self._collect()
        if status != 200 or saga_id not in self.saga_ids or len(self.world.sagas()) != before:
            raise violation("I5_second_saga")(
                f"I5: a retried POST answered {status} and started saga {saga_id}")

    @precondition(lambda self: self.pending)
    @rule(pick=picks)
    @step
    def deliver(self, pick: int) -> None:
        self._run(self._take(pick), faults.Plan())

    @precondition(lambda self: self.pending)
    @rule()
    @step
    def drain(self, until: datetime | None = None) -> None:
        """Everything pending runs, oldest first, without faults (what follows from it too), or as
        much as runs before the clock passes `until`."""
        for _ in range(DRAIN_LIMIT):
            if not self.pending or (until is not None and self.world.clock.now > until):
                return
            self._run(self.pending.pop(0), faults.Plan())

    @precondition(lambda self: self.pending)
    @rule(pick=picks, kind=st.sampled_from(faults.CALL_FAULTS + faults.COMMIT_KILLS), at=nth,
          redeliver=st.booleans())
    @step
    def deliver_with_fault(self, pick: int, kind: str, at: int, redeliver: bool) -> None:
        """A kill or timeout at the `at`-th participant call or commit of this delivery."""
        self._run(self._take(pick), faults.Plan(kind, at), redeliver=redeliver)

    @precondition(lambda self: self.pending)
    @rule(pick=picks)
    @step
    def duplicate(self, pick: int) -> None:
        """The broker hands the same message out twice (a redelivery after a visibility timeout)."""
        self.pending.append(self.pending[pick % len(self.pending)])

    @precondition(lambda self: self.consumed)
    @rule(pick=picks)
    @step
    def redeliver_stale(self, pick: int) -> None:
        """An already consumed message comes again (from an older chain a re-drive replaced)."""
        self.pending.append(self.consumed[pick % len(self.consumed)])

    @precondition(lambda self: self.pending)
    @rule(pick=picks)
    @step
    def broker_loses(self, pick: int) -> None:
        """Redis loses a queued message (eviction, a flush, a restart without AOF)."""
        self._take(pick)

    @precondition(lambda self: self.pending and len(self.parked) < MAX_PARKED)
    @rule(pick=picks, kind=st.sampled_from(faults.PAUSES), at=nth)
    @step
    def deliver_and_pause(self, pick: int, kind: str, at: int) -> None:
        """Start a delivery on a worker of its own and stop it at a boundary: others run meanwhile."""
        delivery = self._take(pick)
        if delivery.countdown:
            self.world.clock.advance(delivery.countdown, self.world.redis)
        self.consumed.append(delivery)
        plan = faults.Plan(kind, at)
        app = current_app._get_current_object()

        def body() -> list[Delivery]:
            faults.set_plan(plan)
            with app.app_context():
                try:
                    return self.driver.run(delivery)
                finally:
                    db.session.remove()

        parked = faults.Parked(str(delivery), body)
        plan.pause = parked.pause
        parked.start()
        self._settle(delivery, parked)

    def _settle(self, delivery: Delivery, parked: faults.Parked) -> None:
        if not parked.done:
            self.parked.append((delivery, parked))
            return
        if parked.error is not None:
            raise parked.error
        self.pending += parked.result
        self._collect()

    @precondition(lambda self: self.parked)
    @rule(pick=picks)
    @step
    def resume(self, pick: int) -> None:
        delivery, parked = self.parked.pop(pick % len(self.parked))
        parked.resume()
        self._settle(delivery, parked)

    @precondition(lambda self: self.world.late.held)
    @rule(pick=picks)
    @step
    def late_request_lands(self, pick: int) -> None:
        """A request that timed out on the caller's side reaches the service after all."""
        self.world.late.land(pick % len(self.world.late.held))

    @rule(name=st.sampled_from(JANITORS))
    @step
    def janitor(self, name: str) -> None:
        self.driver.janitor(name)
        self._collect()

    @precondition(lambda self: self.saga_ids)
    @rule(pick=picks)
    @step
    def admin_retry(self, pick: int) -> None:
        try:
            self.driver.retry_now(self.saga_ids[pick % len(self.saga_ids)])
        except Exception as exc:  # noqa: BLE001 - the engine's NotStalled, say: the API answers 409
            if type(exc).__name__ != "NotStalled":
                raise
        self._collect()

    @precondition(lambda self: self.saga_ids)
    @rule(pick=picks)
    @step
    def cancel(self, pick: int) -> None:
        self.driver.cancel(self.saga_ids[pick % len(self.saga_ids)])
        self._collect()

    @rule(jump=st.sampled_from(CLOCK_JUMPS))
    @step
    def advance_clock(self, jump: str) -> None:
        config = current_app.config
        seconds = {"second": 1, "lease": config["SAGA_LEASE_SECONDS"] + 1,
                   "hold_ttl": config["HOLD_TTL_SECONDS"] + 1, "hold_max": config["HOLD_MAX_SECONDS"] + 1}
        self.world.clock.advance(seconds[jump], self.world.redis)

    # Checks ----------------------------------------------------------------------------------------

    @invariant()
    @step
    def invariants_hold(self) -> None:
        self._check(settled=False)

    def _check(self, *, settled: bool) -> None:
        found = self.world.violations(settled=settled)
        if found:
            self.clean = False
            raise violation(found[0][0])("\n".join(line for _, line in found))

    def quiesce(self) -> None:
        """Let everything in flight finish, then drain, sweep and wait until nothing is left.

        First I4's bound: once the faults stop, every saga ends (a confirmed one with its follow-ups
        done) before the clock has moved RECOVERY_ROUNDS times past a lease and the pending grace,
        retries' countdowns included; each round runs the janitors once. Whatever a dead writer
        left behind (its lease, an e-mail claim) must not outlive the takeover. Only debts may take
        the longer rounds after that."""
        config = current_app.config
        recovery_step = max(config["SAGA_LEASE_SECONDS"], config["SAGA_PENDING_GRACE_SECONDS"]) + 1
        deadline = self.world.clock.now + timedelta(seconds=RECOVERY_ROUNDS * recovery_step)
        while self.parked:
            self.resume(pick=0)
        for round_ in range(QUIESCE_ROUNDS):
            while self.world.late.held:
                self.world.late.land(0)
            bounded = round_ <= RECOVERY_ROUNDS
            self.drain(until=deadline if bounded else None)
            sagas = self.world.sagas()
            if not self.pending and all(_ended(saga) and not _owes(saga) for saga in sagas):
                break
            late = [saga for saga in sagas if not _ended(saga)]
            if bounded and late and (round_ == RECOVERY_ROUNDS or self.world.clock.now > deadline):
                self.clean = False
                raise violation("I4_recovery_bound")(
                    f"I4: not ended {RECOVERY_ROUNDS * recovery_step} s after the faults stopped: "
                    + "; ".join(f"{saga.id} {saga.status} ({_steps_left(saga)})" for saga in late))
            jump = recovery_step if bounded else max(config["SAGA_LEASE_SECONDS"], 300) + 1
            self.world.clock.advance(jump, self.world.redis)
            for name in JANITORS:
                self.driver.janitor(name)
                self._collect()
        self.world.clock.advance(config["HOLD_MAX_SECONDS"] + 1, self.world.redis)
        self.driver.janitor("sweep_expired")
        self._check(settled=True)

    def teardown(self) -> None:
        try:
            if self.clean:
                self.clean = False  # an exception below must not run it twice
                self.quiesce()
        finally:
            while self.parked:  # never leave a worker thread waiting
                _, parked = self.parked.pop()
                parked.resume()
            _lose_session()


def _ended(saga) -> bool:  # noqa: ANN001 - a Saga
    """Terminal, and a confirmed one's follow-ups done too."""
    return not saga_log.is_in_flight(saga)


def _steps_left(saga) -> str:  # noqa: ANN001 - a Saga
    return ", ".join(f"{step.name} {step.status}" for step in saga.steps
                     if step.status != StepStatus.SUCCEEDED)


def _owes(saga) -> bool:  # noqa: ANN001 - a Saga
    return any(debt.paid_at is None and debt.next_attempt_at is not None for debt in saga.debts)


def _lose_session() -> None:
    """What a dead worker leaves: nothing of its session survives."""
    with contextlib.suppress(Exception):  # a session broken mid-commit: it is discarded anyway
        db.session.rollback()
    db.session.remove()


__all__ = ["CARDS", "SagaExplorer", "Violation"]
