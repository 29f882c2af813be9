"""Saga v2's follow-up: the itinerary e-mail, read from the real SMTP catcher; one per booking under
duplicates; a mail outage never undoes a confirmed booking; cancelling sends a cancellation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app import definitions, engine, itinerary, recovery, saga_log
from app import saga as definition
from app.extensions import db
from app.models import SentEmail
from app.models.types import utcnow
from tests.conftest import book
from tests.e2e.stack import wait_for
from tests.integration.conftest import wait_terminal
from tests.integration.saga_helpers import assert_confirmed
from tests.mail_catcher import running_catcher

pytestmark = pytest.mark.integration


@pytest.fixture
def catcher(live_app, tmp_path):
    with running_catcher(tmp_path / "mail") as running:
        live_app.config["SMTP_URL"] = running.url
        yield running


@pytest.fixture
def traveller(make_user, auth_headers):
    user = make_user(email="ada@example.test")
    return user, auth_headers(user)


def confirmed_before_its_itinerary(client, traveller, make_flight, seat: str, monkeypatch) -> str:  # noqa: ANN001
    """A booking run by hand (no chain) through its pivot, send_itinerary not yet delivered."""
    from app.tasks import chains

    monkeypatch.setattr(chains, "start", lambda saga_id, fence, version=None: None)
    _, headers = traveller
    saga_id = book(client, headers, make_flight().id, [seat]).json["id"]
    for name in definition.V2.action_names[:-1]:
        assert engine.run_step(saga_id, name, 1) == engine.Done()
    return saga_id


def test_a_new_booking_runs_v2_and_the_traveller_gets_the_itinerary_with_its_ics(
        live_app, worker, client, traveller, make_flight, catcher):
    _, headers = traveller
    flight = make_flight()
    response = book(client, headers, flight.id, ["1A", "12B"],
                    passengers=[{"name": "Ada Lovelace"}, {"name": "Alan Turing"}])
    saga = wait_terminal(response.json["id"])
    assert_confirmed(saga)
    body = client.get(f"/api/v1/bookings/{saga.id}", headers=headers).json
    assert body["definition_version"] == definitions.current().version == 2
    assert [s["name"] for s in body["steps"]] == definition.V2.action_names
    assert body["steps"][-1] == {**body["steps"][-1], "name": "send_itinerary", "status": "succeeded",
                                 "follow_up": True, "label": "E-mail your itinerary"}

    [mail] = wait_for(catcher.messages, timeout=10, what="the itinerary e-mail")
    assert mail["To"] == "ada@example.test"
    assert saga.ticket.reference in mail["Subject"] and flight.number in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    for fact in (saga.ticket.reference, "1A, 12B", "Ada Lovelace, Alan Turing", "1,350.00 USD", "3,750"):
        assert fact in text and fact in html
    [ics] = [part for part in mail.iter_attachments() if part.get_content_type() == "text/calendar"]
    assert ics.get_filename().endswith(".ics")
    event = ics.get_content()
    assert "BEGIN:VEVENT" in event and f"DTSTART:{flight.departs_at.strftime('%Y%m%dT%H%M%SZ')}" in event
    assert f"UID:{saga.id}@" in event


def test_duplicate_deliveries_send_one_e_mail(live_app, client, traveller, make_flight, catcher, monkeypatch):
    saga_id = confirmed_before_its_itinerary(client, traveller, make_flight, "3C", monkeypatch)
    assert engine.run_step(saga_id, "send_itinerary", 1) == engine.Done()
    # A duplicate delivery: the saga is complete, so it is fenced off before it sends anything.
    assert engine.run_step(saga_id, "send_itinerary", 1) == engine.Fenced("the saga is confirmed")
    itinerary.send_itinerary(saga_log.load(saga_id))  # and one that ran past the log
    assert len(catcher.messages()) == 1
    assert saga_log.load(saga_id).completed_at is not None


def test_a_delivery_that_finds_the_e_mail_claimed_by_another_stops_instead_of_sending(
        live_app, client, traveller, make_flight, catcher, monkeypatch):
    saga_id = confirmed_before_its_itinerary(client, traveller, make_flight, "3D", monkeypatch)
    real_send = itinerary.mail.send
    meanwhile = []

    def duplicate_meanwhile(message) -> None:  # a second delivery runs while the first is sending
        meanwhile.append(engine.run_step(saga_id, "send_itinerary", 1))
        real_send(message)

    monkeypatch.setattr(itinerary.mail, "send", duplicate_meanwhile)
    assert engine.run_step(saga_id, "send_itinerary", 1) == engine.Done()
    [stopped] = meanwhile  # not retried: its retries would keep a dead sender's lease alive
    assert isinstance(stopped, engine.Fenced) and "claimed by another delivery" in stopped.reason
    assert len(catcher.messages()) == 1


class Killed(BaseException):
    """The worker process died: nothing of this delivery runs on, not even its except clauses."""


def killed_mid_send(saga_id: str, monkeypatch) -> None:  # noqa: ANN001 - pytest's MonkeyPatch
    """send_itinerary's first delivery under fence 1 dies inside the SMTP hand-off, its claim made."""
    def die(message) -> None:  # noqa: ANN001 - an EmailMessage
        raise Killed

    with monkeypatch.context() as dying:
        dying.setattr(itinerary.mail, "send", die)
        with pytest.raises(Killed):
            engine.run_step(saga_id, "send_itinerary", 1)
    db.session.rollback()  # what a dead worker leaves: nothing of its session
    db.session.remove()


def test_a_sender_killed_mid_send_leaves_no_claim_that_outlives_its_fence(
        live_app, client, traveller, make_flight, catcher, monkeypatch):
    """Its claim is held under the fence it was sent with: once the reconciler takes the saga over
    (the lease lapsed), the re-drive sends at once instead of waiting for the claim to age."""
    saga_id = confirmed_before_its_itinerary(client, traveller, make_flight, "3E", monkeypatch)
    killed_mid_send(saga_id, monkeypatch)

    lapsed = utcnow() + timedelta(seconds=live_app.config["SAGA_LEASE_SECONDS"] + 1)
    [plan] = recovery.stalled_sagas(now=lapsed)
    assert plan.fence == 2 and plan.actions == ("send_itinerary",)
    assert engine.run_step(saga_id, "send_itinerary", plan.fence) == engine.Done()
    [mail] = catcher.messages()
    assert mail["Message-ID"] == db.session.execute(
        db.select(SentEmail.message_id).filter_by(saga_id=saga_id)).scalar_one()
    assert saga_log.load(saga_id).completed_at is not None


def test_the_redelivery_of_a_sender_killed_mid_send_stops_and_the_takeover_sends(
        live_app, client, traveller, make_flight, catcher, monkeypatch):
    """The same message again under the same fence (a pool process killed, its message requeued at
    once) cannot tell a dead sender from a slow one: it stops, and once the lease it no longer
    renews lapses, the reconciler's takeover sends."""
    saga_id = confirmed_before_its_itinerary(client, traveller, make_flight, "3F", monkeypatch)
    killed_mid_send(saga_id, monkeypatch)

    assert isinstance(engine.run_step(saga_id, "send_itinerary", 1), engine.Fenced)
    assert catcher.messages() == []
    assert recovery.stalled_sagas() == []  # the lease still runs
    lapsed = utcnow() + timedelta(seconds=live_app.config["SAGA_LEASE_SECONDS"] + 1)
    [plan] = recovery.stalled_sagas(now=lapsed)
    assert engine.run_step(saga_id, "send_itinerary", plan.fence) == engine.Done()
    assert len(catcher.messages()) == 1


def test_a_mail_outage_leaves_the_booking_confirmed_and_the_e_mail_retried_until_it_goes(
        live_app, client, traveller, make_flight, tmp_path, monkeypatch):
    from app.tasks import chains

    monkeypatch.setattr(chains, "start", lambda saga_id, fence, version=None: None)
    live_app.config["SMTP_URL"] = "smtp://127.0.0.1:9"  # nothing answers
    _, headers = traveller
    saga_id = book(client, headers, make_flight().id, ["4A"]).json["id"]
    for name in definition.V2.action_names[:-1]:
        assert engine.run_step(saga_id, name, 1) == engine.Done()
    for attempt in range(live_app.config["SAGA_STEP_MAX_RETRIES"] + 3):  # past the pivot: never fails
        assert isinstance(engine.run_step(saga_id, "send_itinerary", 1, attempt), engine.Retry)
    saga = saga_log.load(saga_id)
    assert_confirmed(saga)
    assert saga.status == "confirmed" and saga.completed_at is None
    assert saga.step("send_itinerary").status == "running" and saga.step("send_itinerary").error_code
    polled = client.get(f"/api/v1/bookings/{saga_id}", headers=headers)
    assert polled.json["status"] == "confirmed" and polled.headers["Retry-After"] == "1"
    with running_catcher(tmp_path / "mail") as catcher:
        live_app.config["SMTP_URL"] = catcher.url
        assert engine.run_step(saga_id, "send_itinerary", 1, 9) == engine.Done()
        assert len(catcher.messages()) == 1
    assert saga_log.load(saga_id).completed_at is not None


def test_cancelling_a_confirmed_booking_sends_a_cancellation_e_mail(
        live_app, worker, client, traveller, make_flight, catcher):
    _, headers = traveller
    saga_id = book(client, headers, make_flight().id, ["5F"]).json["id"]
    wait_terminal(saga_id)
    assert client.post(f"/api/v1/bookings/{saga_id}/cancel", headers=headers).status_code == 202
    saga = wait_terminal(saga_id)
    assert saga.status == "cancelled"
    assert saga.step("send_cancellation").status == "succeeded"
    subjects = [m["Subject"] for m in wait_for(lambda: len(catcher.messages()) == 2 and catcher.messages(),
                                                timeout=10, what="two e-mails")]
    assert subjects[0].startswith("Your itinerary") and subjects[1].startswith("Cancelled")
    kinds = set(db.session.execute(db.select(SentEmail.kind).filter_by(saga_id=saga_id)).scalars())
    assert kinds == {"itinerary", "cancellation"}
