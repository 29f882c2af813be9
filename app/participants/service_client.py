"""What the participant clients share: pooled connections, timeouts, failures mapped onto app.errors.

    timeout, connection error, any 5xx, unreadable 2xx   → the client's TransientError (retry)
      (a connection broken mid-request is first tried once more at once: ServiceClient._send)
    a problem whose ``code`` is a known business refusal → that BusinessError (compensate), e.g.
      409 ``operation_cancelled``                         → OperationCancelled (never retried)
    any other 4xx                                        → ParticipantRejected (a bug: compensate)
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import quote

import httpx

from app.errors import BusinessError, OperationCancelled, ParticipantRejected, TransientError

# RFC 9457's own members; the rest of a problem (``code``, ``payment_id``...) travels on the error.
_STANDARD_MEMBERS = frozenset({"type", "title", "status", "detail", "instance"})


class ServiceClient:
    """Base of PaymentClient and LoyaltyClient."""

    unavailable: type[TransientError] = TransientError
    # Problem codes that are business refusals, each with the error the saga should see.
    refusals: dict[str, type[BusinessError]] = {"operation_cancelled": OperationCancelled}

    def __init__(self, base_url: str, *, connect_timeout: float, read_timeout: float,
                 transport: httpx.BaseTransport | None = None, token: str | None = None) -> None:
        self.base_url = base_url
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        # This process's own credential (app/participants/trust.py), on every request.
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=base_url, timeout=self._timeout, transport=transport,
                                  headers=headers)

    def close(self) -> None:
        self._http.close()

    def _operation(self, idempotency_key: str, resource_name: str) -> dict[str, Any] | None:
        """The resource the write under this key made or changed, as it is now; None if none."""
        path = f"/operations/{segment(idempotency_key)}"
        answer = self._call("GET", path, absent_code="operation_not_found")
        return answer.get(resource_name) if answer else None

    def _cancel(self, key: str, resource_name: str, idempotency_key: str) -> dict[str, Any] | None:
        """Undoes the write made under ``key`` (or closes the key to it); the resource as it is now."""
        path = f"/operations/{segment(key)}/cancel"
        return self._call("POST", path, idempotency_key=idempotency_key).get(resource_name)

    def _call(self, method: str, path: str, *, body: dict | None = None,
              idempotency_key: str | None = None, absent_code: str | None = None) -> dict[str, Any] | None:
        """The JSON answer of one request; None when the answer is a 404 with ``absent_code``."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}
        what = f"{method} {self.base_url}{path}"
        response = self._send(method, path, body, headers, what)
        if response.status_code >= 500:
            raise self.unavailable(f"{what} answered {response.status_code}", status=response.status_code,
                                   code=_problem(response).get("code"))
        if response.is_success:
            try:
                return response.json()
            except ValueError as exc:
                raise self.unavailable(f"{what} answered {response.status_code} without JSON") from exc
        problem = {"code": "unknown", **_problem(response)}
        code = problem["code"]
        if response.status_code == 404 and code == absent_code:
            return None
        detail = problem.get("detail") or f"{what} answered {response.status_code}"
        members = {k: v for k, v in problem.items() if k not in _STANDARD_MEMBERS}
        refusal = self.refusals.get(code)
        if refusal is not None:
            raise refusal(detail, status=response.status_code, **members)
        raise ParticipantRejected(detail, status=response.status_code, **members)

    def _send(self, method: str, path: str, body: dict | None, headers: dict[str, str],
              what: str) -> httpx.Response:
        """One request, sent a second time at once if the connection broke under the first.

        A pooled keep-alive connection the server closed just as it was reused fails with a reset
        or "disconnected without a response", though the server is fine: the pool drops that
        connection and the second try goes over another. Repeating is safe because every write
        carries an Idempotency-Key and the rest are GETs. A refused connection or a timeout is not
        repeated at once: the service is down or slow, and the caller retries later (a saga step
        with backoff, a client on 503).
        """
        request = functools.partial(self._http.request, method, path, json=body, headers=headers,
                                    timeout=self._timeout)
        try:
            try:
                return request()
            except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
                return request()
        except httpx.TimeoutException as exc:
            raise self.unavailable(f"{what} timed out ({type(exc).__name__})") from exc
        except httpx.RequestError as exc:  # broken twice, an undecodable body
            raise self.unavailable(f"{what} failed: {type(exc).__name__}") from exc


def segment(value: str) -> str:
    """``value`` escaped to be one path segment (idempotency keys may hold slashes)."""
    return quote(value, safe="")


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
