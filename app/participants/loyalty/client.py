"""HTTP client of the loyalty service (to be built)."""

from __future__ import annotations


class LoyaltyClient:
    def __init__(self, base_url: str, *, connect_timeout: float, read_timeout: float, transport=None) -> None:
        self.base_url = base_url
