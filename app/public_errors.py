"""What a traveller is told about a failed step or booking: one sentence per failure reason.

The saga log keeps the raw error (an exception's text, which may name internal hosts, ports and
libraries); travellers get the stable code and these words, and only operators (the admin API and
page) and the logs see the raw text.
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    "seat_unavailable": "Some of these seats were taken by another booking.",
    "hold_expired": "The seats were held for too long and were released before the booking was confirmed.",
    "card_declined": "The card was declined.",
    "insufficient_funds": "The card was declined for insufficient funds.",
    "invalid_card": "The card details are not valid.",
    "payment_unavailable": "The payment service could not be reached; nothing was charged.",
    "loyalty_unavailable": "The miles service could not be reached.",
    "mail_unavailable": "The itinerary e-mail could not be sent yet; it will be, and the booking stands.",
    "internal_error": "Something went wrong on our side.",
}


def public_message(code: str | None) -> str:
    """The words for `code`; a code without words of its own gets the words for internal_error."""
    return MESSAGES.get(code or "", MESSAGES["internal_error"])
