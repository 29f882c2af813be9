"""The UI's pages render what they should, for whom they should, with no inline script."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import Hold
from app.models.types import utcnow
from tests.unit.web_browser import Browser

WEB = Path(__file__).resolve().parents[2] / "app" / "web"


@pytest.fixture
def browser(app):
    return Browser(app)


@pytest.fixture
def flight(make_flight):
    return make_flight("SA101", "LHR", "JFK")


def text(response) -> str:
    return response.get_data(as_text=True)


def take_hold(browser, flight, seats) -> dict:
    response = browser.api("POST", f"/api/v1/flights/{flight.id}/holds", json={"seats": seats})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_search_lists_flights_with_fares_and_seats_left(browser, flight, make_flight):
    make_flight("SA201", "CDG", "FCO")
    page = text(browser.get("/"))
    assert "2 flights" in page
    assert "SA101" in page and "SA201" in page
    assert "1,200.00 USD" in page and "600.00 USD" in page and "150.00 USD" in page
    assert "162 seats left" in page
    assert f'href="/flights/{flight.id}/seats"' in page


def test_search_filters_by_route_and_date(browser, flight, make_flight):
    make_flight("SA201", "CDG", "FCO")
    page = text(browser.get("/?origin=lhr&destination=JFK"))
    assert "1 flight" in page and "SA101" in page and "SA201" not in page
    day = flight.departs_at.date()
    assert "SA101" in text(browser.get(f"/?date={day.isoformat()}"))
    assert "No flights found" in text(browser.get("/?origin=AMS"))


def test_search_shows_an_error_next_to_the_field(browser, flight):
    response = browser.get("/?origin=London&date=tomorrow")
    assert response.status_code == 422
    page = text(response)
    assert 'id="field-origin-error">Must be a 3-letter IATA code in capitals.' in page
    assert 'id="field-date-error">Not a valid date.' in page
    assert 'value="London"' in page  # what was typed stays in the field


def test_seat_map_page_needs_a_login(browser, make_user, flight):
    assert browser.get(f"/flights/{flight.id}/seats").status_code == 302
    browser.log_in(make_user())
    page = text(browser.get(f"/flights/{flight.id}/seats"))
    assert f'data-flight-id="{flight.id}"' in page and 'data-max-seats="9"' in page
    assert "Held by someone" in page and "Not for sale" in page  # the legend
    assert "/ui-static/js/seats.js" in page


def test_unknown_flight_is_a_404_page(browser, make_user):
    browser.log_in(make_user())
    response = browser.get("/flights/999/seats")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_checkout_shows_the_hold_with_total_and_miles(browser, make_user, flight):
    browser.log_in(make_user(name="Ada Lovelace"))
    hold = take_hold(browser, flight, ["1A", "12B"])
    page = text(browser.get(f"/checkout/{hold['id']}"))
    assert "Pay 1,350.00 USD" in page
    assert ">3,750<" in page  # 1200 x 3 + 150 x 1 miles
    assert 'name="passengers.0.name"' in page and 'name="passengers.1.name"' in page
    assert 'value="Ada Lovelace"' in page
    assert "4000 0000 0000 0002" in page and "4242 4242 4242 4242" in page
    key = re.search(r'data-idempotency-key="([0-9a-f-]{36})"', page).group(1)
    again = text(browser.get(f"/checkout/{hold['id']}"))
    assert key not in again  # a new key per page load


def test_checkout_of_someone_elses_hold_is_a_404(app, browser, make_user, flight):
    browser.log_in(make_user())
    hold = take_hold(browser, flight, ["12A"])
    other = Browser(app)
    other.log_in(make_user())
    assert other.get(f"/checkout/{hold['id']}").status_code == 404


def test_checkout_of_an_ended_hold_says_so(browser, make_user, flight):
    browser.log_in(make_user())
    hold = take_hold(browser, flight, ["12A"])
    db.session.execute(update(Hold).where(Hold.id == hold["id"]).values(expires_at=utcnow()))
    db.session.commit()
    page = text(browser.get(f"/checkout/{hold['id']}"))
    assert "Your hold on these seats has ended" in page
    assert 'id="checkout-form"' not in page


def test_checkout_of_a_hold_a_booking_adopted_goes_to_the_booking(browser, make_user, flight, insert_ticket):
    user = make_user()
    browser.log_in(user)
    hold = take_hold(browser, flight, ["12A"])
    saga = insert_ticket(flight, user, ["12A"]).saga
    db.session.execute(update(Hold).where(Hold.id == hold["id"]).values(saga_id=saga.id))
    db.session.commit()
    response = browser.get(f"/checkout/{hold['id']}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/bookings/{saga.id}"


def test_my_bookings_lists_only_mine_with_cancel_for_confirmed(browser, make_user, flight, insert_ticket):
    me, other = make_user(), make_user()
    mine = insert_ticket(flight, me, ["12A", "12B"])
    insert_ticket(flight, other, ["14C"])
    browser.log_in(me)
    page = text(browser.get("/bookings"))
    assert mine.reference in page and "12A, 12B" in page
    assert "14C" not in page
    assert f'data-cancel="{mine.saga.id}"' in page
    assert 'data-status="confirmed"' in page and ">Booked<" in page


def test_my_bookings_without_any(browser, make_user):
    browser.log_in(make_user())
    assert "No bookings yet" in text(browser.get("/bookings"))


def test_booking_page_is_only_for_its_owner(app, browser, make_user, flight, insert_ticket):
    me = make_user()
    saga = insert_ticket(flight, me, ["12A"]).saga
    browser.log_in(me)
    page = text(browser.get(f"/bookings/{saga.id}"))
    assert f'data-booking-id="{saga.id}"' in page and "/ui-static/js/booking.js" in page
    other = Browser(app)
    other.log_in(make_user())
    assert other.get(f"/bookings/{saga.id}").status_code == 404
    assert other.get("/bookings/not-a-booking").status_code == 404


def test_admin_sagas_page_is_for_admins(app, browser, make_user):
    browser.log_in(make_user())
    response = browser.get("/admin/sagas")
    assert response.status_code == 403 and "for administrators" in text(response)
    admin = Browser(app)
    admin.log_in(make_user(is_admin=True))
    app.config["FLOWER_URL"] = "http://flower.example:5555/"
    page = text(admin.get("/admin/sagas?status=failed"))
    assert 'data-flower-task-url="http://flower.example:5555/task/"' in page
    assert 'data-status="failed"' in page
    assert 'href="/admin/sagas"' in page  # the nav shows admins the page
    assert 'data-status="needs_attention"' in text(admin.get("/admin/sagas"))


def test_static_files_are_served(browser):
    with browser.get("/ui-static/css/app.css") as css:
        assert css.status_code == 200 and css.mimetype == "text/css"
    with browser.get("/ui-static/js/seats.js") as js:
        assert js.status_code == 200 and js.mimetype in ("text/javascript", "application/javascript")


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
HANDLER_ATTRIBUTE = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.I)


@pytest.mark.parametrize("template", sorted((WEB / "templates").rglob("*.html")), ids=lambda p: p.name)
def test_templates_have_no_inline_script_or_style(template):
    # A Content-Security-Policy without 'unsafe-inline' would block them.
    source = template.read_text()
    assert not INLINE_SCRIPT.search(source)
    assert not HANDLER_ATTRIBUTE.search(source)
    assert not STYLE_ATTRIBUTE.search(source)


def test_scripts_load_only_from_this_site():
    for script in (WEB / "static" / "js").glob("*.js"):
        source = script.read_text()
        assert "http://" not in source and "https://" not in source, script.name
        for path in re.findall(r'from\s+"([^"]+)"', source):
            assert path.startswith("./"), (script.name, path)
