"""Faults injected at side-effect boundaries, from outside the production code.

A delivery runs under a `Plan`: which boundary to hit, and at which occurrence of it (the n-th
participant call or the n-th commit of that delivery). The boundaries:

    participant call   kill before / after forwarding; time out before / after the work;
                       time out while the request is held, to land later (`LateRequests`);
                       pause before / after forwarding, or inside the service before its first write
    e-mail hand-off    counted as a call: kill, fail (the server did or did not take it) or pause
                       before / after the mail server takes the message
    booking database   kill before / after the n-th commit; pause before the n-th write that opens
                       a transaction (a read is done, its decision not yet written)

A kill is `Killed`, a BaseException: `except Exception` in the code under test does not see it,
as it would not see SIGKILL. A pause parks the delivery's thread (`Parked`) so that other
deliveries run in between, one thread at a time: the interleaving stays deterministic.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.errors import MailUnavailable

CALL_KILLS = ("kill_before_call", "kill_after_call")
CALL_TIMEOUTS = ("timeout_before", "timeout_after", "late")
COMMIT_KILLS = ("kill_before_commit", "kill_after_commit")
PAUSES = ("pause_before_call", "pause_after_call", "pause_in_service", "pause_before_write")
CALL_FAULTS = CALL_KILLS + CALL_TIMEOUTS
MAIL_FAULTS = (*CALL_KILLS, "timeout_before", "timeout_after", "pause_before_call", "pause_after_call")


class Killed(BaseException):  # noqa: N818 - it is not an error the code may handle
    """The worker process died here."""


@dataclass
class Plan:
    """One fault for one delivery: `kind` at occurrence `nth` (0-based) of its boundary."""

    kind: str = "none"
    nth: int = 0
    calls: int = 0
    commits: int = 0
    writes: int = 0
    hit: bool = False
    in_service: bool = False  # set while the planned call runs inside the service
    doomed: bool = False  # killed after a commit: dies at its next statement, call or return
    pause: Callable[[], None] | None = None

    def take(self, counter: str, kinds: tuple[str, ...]) -> str | None:
        """The fault kind if this occurrence of the boundary is the planned one."""
        if self.hit or self.kind not in kinds:
            return None
        seen = getattr(self, counter)
        setattr(self, counter, seen + 1)
        if seen != self.nth:
            return None
        self.hit = True
        return self.kind


_local = threading.local()


def current() -> Plan:
    plan = getattr(_local, "plan", None)
    return plan if plan is not None else Plan()


def set_plan(plan: Plan | None) -> None:
    _local.plan = plan


@dataclass
class LateRequests:
    """Requests a participant received but answered too late: they land when `land` is called."""

    held: list[tuple[httpx.BaseTransport, httpx.Request]] = field(default_factory=list)

    def land(self, index: int) -> None:
        transport, request = self.held.pop(index)
        with set_plan_temporarily(Plan()):
            transport.handle_request(request).close()


class set_plan_temporarily:  # noqa: N801 - used as a context manager
    def __init__(self, plan: Plan) -> None:
        self.plan, self.saved = plan, None

    def __enter__(self) -> Plan:
        self.saved = getattr(_local, "plan", None)
        set_plan(self.plan)
        return self.plan

    def __exit__(self, *exc: object) -> None:
        set_plan(self.saved)


class FaultyTransport(httpx.BaseTransport):
    """The WSGI transport to a service, with the current plan's call faults in front of it."""

    def __init__(self, inner: httpx.BaseTransport, late: LateRequests) -> None:
        self.inner, self.late = inner, late

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        plan = current()
        die_if_doomed(plan)
        kind = plan.take("calls", CALL_FAULTS + PAUSES[:3])
        if kind is None:
            return self.inner.handle_request(request)
        if kind == "kill_before_call":
            raise Killed(f"before {request.method} {request.url.path}")
        if kind == "timeout_before":
            raise httpx.ReadTimeout("no answer (nothing done)", request=request)
        if kind == "late":
            request.read()
            self.late.held.append((self.inner, request))
            raise httpx.ReadTimeout("no answer (the request is still on its way)", request=request)
        if kind == "pause_before_call":
            plan.pause()
        if kind == "pause_in_service":
            plan.in_service = True
        try:
            response = self.inner.handle_request(request)
            response.read()
        finally:
            plan.in_service = False
        if kind == "kill_after_call":
            raise Killed(f"after {request.method} {request.url.path}")
        if kind == "timeout_after":
            raise httpx.ReadTimeout("no answer (the work was done)", request=request)
        if kind == "pause_after_call":
            plan.pause()
        return response


def faulty_mail(send: Callable[[EmailMessage], None]) -> Callable[[EmailMessage], None]:
    """app.mail.send with the current plan's call faults around the hand-off to the mail server."""

    def send_with_faults(message: EmailMessage) -> None:
        plan = current()
        die_if_doomed(plan)
        kind = plan.take("calls", MAIL_FAULTS)
        if kind == "kill_before_call":
            raise Killed("before the e-mail was handed over")
        if kind == "timeout_before":
            raise MailUnavailable("no answer (nothing sent)")
        if kind == "pause_before_call":
            plan.pause()
        send(message)
        if kind == "kill_after_call":
            raise Killed("after the mail server took the e-mail")
        if kind == "timeout_after":
            raise MailUnavailable("no answer (the mail server took it)")
        if kind == "pause_after_call":
            plan.pause()

    return send_with_faults


def die_if_doomed(plan: Plan) -> None:
    """The kill planned after a commit, at the first thing the process does next."""
    if plan.doomed:
        plan.doomed = False
        raise Killed("after a commit")


def _is_write(statement: str) -> bool:
    return statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE")


def hook_booking_db(engine: Engine, session_factory: object) -> None:
    """Kills at commits and pauses before writes of the booking database."""

    def before_commit(session: object) -> None:
        if current().take("commits", ("kill_before_commit",)):
            raise Killed("before a commit")

    def after_commit(session: object) -> None:
        # Counted like before_commit, so "the n-th commit" means the same commit for both kinds.
        # Raising here would leave the session half-closed, which no real crash does; the process
        # dies at its next step instead (`die_if_doomed`), with the commit done.
        plan = current()
        if plan.take("commits", ("kill_after_commit",)):
            plan.doomed = True

    def before_execute(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        plan = current()
        die_if_doomed(plan)
        if plan.kind != "pause_before_write" or not _is_write(statement):
            return
        # Only a write that opens a transaction: pausing inside one would hold SQLite's write lock.
        if conn.connection.dbapi_connection.in_transaction:
            return
        if plan.take("writes", ("pause_before_write",)):
            plan.pause()

    event.listen(session_factory, "before_commit", before_commit)
    event.listen(session_factory, "after_commit", after_commit)
    event.listen(engine, "before_cursor_execute", before_execute)


def hook_service_db(engine: Engine) -> None:
    """Pauses inside a service, before the first write of the planned call (after its reads)."""

    def before_execute(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        plan = current()
        if plan.in_service and _is_write(statement) and not conn.connection.dbapi_connection.in_transaction:
            plan.in_service = False
            plan.pause()

    event.listen(engine, "before_cursor_execute", before_execute)


class Parked:
    """A delivery on its own thread that stops at its plan's pause until `resume` is called.

    Exactly one thread runs at any time: the caller waits while the delivery runs, and the
    delivery waits while it is parked.
    """

    def __init__(self, name: str, body: Callable[[], object]) -> None:
        self.name = name
        self._run, self._back = threading.Semaphore(0), threading.Semaphore(0)
        self.done = False
        self.result: object = None
        self.error: BaseException | None = None
        self._body = body
        self._thread = threading.Thread(target=self._main, name=f"explore-{name}", daemon=True)

    def _main(self) -> None:
        try:
            self.result = self._body()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller as is
            self.error = exc
        finally:
            self.done = True
            self._back.release()

    def pause(self) -> None:
        """Called on the delivery's thread: hand control back and wait."""
        self._back.release()
        self._run.acquire()

    def start(self) -> None:
        self._thread.start()
        self._back.acquire()

    def resume(self) -> None:
        self._run.release()
        self._back.acquire()
        if self.done:
            self._thread.join()
