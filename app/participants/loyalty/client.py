"""HTTP client of the loyalty service: what the booking service knows of miles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.errors import LoyaltyUnavailable
from app.participants.service_client import ServiceClient, segment


@dataclass(frozen=True)
class Award:
    id: str
    account_id: str
    miles: int
    status: str  # "pending" | "posted" | "reversed"

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Award:
        return cls(id=body["id"], account_id=body["account_id"], miles=body["miles"], status=body["status"])


@dataclass(frozen=True)
class Balance:
    account_id: str
    balance: int
    pending: int


class LoyaltyClient(ServiceClient):
    """Raises LoyaltyUnavailable, OperationCancelled or ParticipantRejected."""

    unavailable = LoyaltyUnavailable

    def create_award(self, account_id: str, miles: int, *, reference: str, idempotency_key: str) -> Award:
        """Pending miles: not in the balance until posted."""
        body = {"account_id": account_id, "miles": miles, "reference": reference}
        return Award.from_json(self._call("POST", "/awards", body=body, idempotency_key=idempotency_key))

    def lookup_award(self, idempotency_key: str) -> Award | None:
        """The award a create_award under this key made (as it is now); None if nothing was recorded."""
        found = self._operation(idempotency_key, "award")
        return Award.from_json(found) if found else None

    def cancel_award(self, award_key: str, *, idempotency_key: str) -> Award | None:
        """Reverses the award made under ``award_key``, pending or posted; None when there was none,
        and then there never will be: a late create_award under that key is refused."""
        found = self._cancel(award_key, "award", idempotency_key)
        return Award.from_json(found) if found else None

    def post_award(self, award_id: str, *, idempotency_key: str) -> Award:
        answer = self._call("POST", f"/awards/{segment(award_id)}/post", idempotency_key=idempotency_key)
        return Award.from_json(answer)

    def reverse_award(self, award_id: str, *, idempotency_key: str) -> Award:
        answer = self._call("POST", f"/awards/{segment(award_id)}/reverse", idempotency_key=idempotency_key)
        return Award.from_json(answer)

    def balance(self, account_id: str) -> Balance:
        answer = self._call("GET", f"/accounts/{segment(account_id)}/balance")
        return Balance(account_id=answer["account_id"], balance=answer["balance"], pending=answer["pending"])
