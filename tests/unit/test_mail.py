"""E-mail over real SMTP: app/mail.py sends to the development catcher, which keeps .eml files."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from app import mail
from tests.mail_catcher import running_catcher


@pytest.fixture
def catcher(tmp_path):
    with running_catcher(tmp_path / "mail") as running:
        yield running


def message(subject: str) -> EmailMessage:
    sent = EmailMessage()
    sent["From"], sent["To"], sent["Subject"] = "bookings@example.test", "ada@example.test", subject
    sent.set_content("Hello")
    return sent


def test_a_message_sent_over_smtp_lands_in_the_catcher_as_an_eml_file(app, catcher):
    app.config["SMTP_URL"] = catcher.url
    with app.app_context():
        mail.send(message("First"))
        mail.send(message("Second"))
    received = catcher.messages()
    assert [m["Subject"] for m in received] == ["First", "Second"]
    assert received[0]["To"] == "ada@example.test"
    assert received[0].get_content().strip() == "Hello"


def test_a_server_that_does_not_answer_is_a_transient_failure(app):
    app.config["SMTP_URL"] = "smtp://127.0.0.1:9"  # discard: nothing listens
    with app.app_context(), pytest.raises(mail.MailUnavailable):
        mail.send(message("Lost"))


def test_memory_keeps_the_message_in_the_app(app):
    with app.app_context():
        mail.send(message("Kept"))
        assert [m["Subject"] for m in mail.outbox()] == ["Kept"]
