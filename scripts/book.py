#!/usr/bin/env python3
"""Book seats from the command line and follow the saga to its end.

    .venv/bin/python scripts/book.py --seats 12A 12B
    .venv/bin/python scripts/book.py --seats 3C --card 4000000000000002   # a declined card
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

import httpx

TERMINAL = {"confirmed", "failed", "cancelled", "needs_attention"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--email", default="traveller@example.com")
    parser.add_argument("--password", default="correct horse battery")
    parser.add_argument("--flight", type=int, help="flight id (default: the first listed)")
    parser.add_argument("--seats", nargs="+", default=["12A"])
    parser.add_argument("--card", default="4242424242424242")
    args = parser.parse_args()

    http = httpx.Client(base_url=args.base_url, timeout=15)
    account = {"email": args.email, "password": args.password}
    http.post("/api/v1/auth/register", json={**account, "name": "Traveller"})
    token = http.post("/api/v1/auth/token", json=account)
    token.raise_for_status()
    http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    flight = args.flight or http.get("/api/v1/flights").json()["items"][0]["id"]
    body = {"flight_id": flight, "seats": args.seats,
            "payment": {"card_number": args.card, "exp_month": 12, "exp_year": 2031, "cvc": "123"}}
    response = http.post("/api/v1/bookings", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    if response.status_code != 202:
        print(f"{response.status_code}: {response.text}")
        return 1
    location = response.headers["Location"]
    print(f"POST /api/v1/bookings -> 202, polling {location}")

    seen = None
    while True:
        polled = http.get(location)
        booking = polled.json()
        steps = ", ".join(f"{s['name']}:{s['status']}" for s in booking["steps"])
        if (booking["status"], steps) != seen:
            seen = (booking["status"], steps)
            print(f"  {booking['status']:<15} {steps}")
        if booking["status"] in TERMINAL:
            break
        time.sleep(float(polled.headers.get("Retry-After", 1)) / 4)
    if booking["ticket"]:
        ticket = booking["ticket"]
        print(f"Booked: reference {ticket['reference']}, seats {', '.join(ticket['seats'])}, "
              f"{booking['amount']} {booking['currency']}, {booking['miles']} miles")
    if booking["failure"]:
        print(f"Not booked: {booking['failure']['reason']} at {booking['failure']['step']}")
    return 0 if booking["status"] == "confirmed" else 2


if __name__ == "__main__":
    sys.exit(main())
