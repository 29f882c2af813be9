"""Sending e-mail over SMTP (`SMTP_URL`), and what a failure to send is.

    smtp://host:port        plain SMTP (the development catcher: app/mail_catcher.py)
    smtp+starttls://host:port, smtps://host:port   TLS; user:password@ in the URL logs in
    memory://               no network: messages are kept in app.extensions["outbox"] (tests)
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from flask import current_app

from app.errors import MailUnavailable

TIMEOUT_SECONDS = 10


def outbox() -> list[EmailMessage]:
    """What memory:// sent, in this app."""
    return current_app.extensions.setdefault("outbox", [])


def send(message: EmailMessage) -> None:
    """Hand `message` to the SMTP server; MailUnavailable when it did not take it."""
    url = urlsplit(current_app.config["SMTP_URL"])
    if url.scheme == "memory":
        outbox().append(message)
        return
    try:
        if url.scheme == "smtps":
            server = smtplib.SMTP_SSL(url.hostname, url.port or 465, timeout=TIMEOUT_SECONDS,
                                      context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(url.hostname, url.port or 25, timeout=TIMEOUT_SECONDS)
        with server:
            if url.scheme == "smtp+starttls":
                server.starttls(context=ssl.create_default_context())
            if url.username:
                server.login(unquote(url.username), unquote(url.password or ""))
            server.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailUnavailable(f"SMTP {url.hostname}:{url.port}: {type(exc).__name__}: {exc}") from exc
