"""Faults by name, injected into the booking app's calls to the in-process participants.

``FaultyTransport`` wraps the WSGI transport of a participant client (tests/participants.py), so the
production client and the real service run unchanged; a test names what goes wrong with one call:

    fail_before   the request never reaches the service (connection refused): nothing was done
    fail_after    the service does the work, the answer is lost (read timeout): done, caller unsure
    answer_late   the service does the work, and `then` runs before the answer comes back
    answer_twice  the request is delivered twice (a duplicate on the wire); the caller gets the second

``faults.fail_before("loyalty", "POST", "/awards")`` applies to every matching call until
``faults.clear()``; ``times=1`` to the first only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx

FAULTS = ("fail_before", "fail_after", "answer_late", "answer_twice")


@dataclass
class Fault:
    name: str
    service: str
    method: str
    path: str  # a regular expression searched in the request's path
    times: int | None  # None: every matching call
    then: Callable[[], None] | None = None

    def matches(self, service: str, request: httpx.Request) -> bool:
        return (self.service == service and self.method == request.method
                and re.search(self.path, request.url.path) is not None)


class Faults:
    """The faults in force for both participants; FaultyTransport consults them on every call."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def inject(self, name: str, service: str, method: str, path: str, *, times: int | None = None,
               then: Callable[[], None] | None = None) -> Fault:
        if name not in FAULTS:
            raise ValueError(f"no fault named {name!r}; there are {', '.join(FAULTS)}")
        fault = Fault(name, service, method, path, times, then)
        with self._lock:
            self._faults.append(fault)
        return fault

    def fail_before(self, service: str, method: str, path: str, **options) -> Fault:
        return self.inject("fail_before", service, method, path, **options)

    def fail_after(self, service: str, method: str, path: str, **options) -> Fault:
        return self.inject("fail_after", service, method, path, **options)

    def answer_late(self, service: str, method: str, path: str, *, then: Callable[[], None],
                    **options) -> Fault:
        return self.inject("answer_late", service, method, path, then=then, **options)

    def answer_twice(self, service: str, method: str, path: str, **options) -> Fault:
        return self.inject("answer_twice", service, method, path, **options)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, service: str, request: httpx.Request) -> Fault | None:
        """The first fault for this call, used up by one if it has a count."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(service, request):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
        return None


class FaultyTransport(httpx.BaseTransport):
    """A participant's transport that suffers the faults named for its service."""

    def __init__(self, inner: httpx.BaseTransport, service: str, faults: Faults) -> None:
        self.inner = inner
        self.service = service
        self.faults = faults

    @property
    def app(self):
        """The service behind the transport (httpx.WSGITransport's own attribute)."""
        return self.inner.app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        fault = self.faults.take(self.service, request)
        if fault is None:
            return self.inner.handle_request(request)
        if fault.name == "fail_before":
            raise httpx.ConnectError(f"fault: {self.service} refused the connection", request=request)
        response = self._delivered(request)
        if fault.name == "fail_after":
            raise httpx.ReadTimeout(f"fault: {self.service} did the work, its answer was lost",
                                    request=request)
        if fault.name == "answer_late":
            fault.then()
        elif fault.name == "answer_twice":
            response = self._delivered(request)
        return response

    def _delivered(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        return response

    def close(self) -> None:
        self.inner.close()
