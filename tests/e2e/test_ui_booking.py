"""The web UI in headless Chromium against the real processes: book, fail, race, cancel, operate.

The payment and loyalty services answer slowly here (LATENCY_MS) so a saga runs long enough to be
watched step by step.
"""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.conftest import APPROVED, DECLINED
from tests.e2e.stack import wait_for
from tests.e2e.ui_support import (
    ADMIN,
    PASSWORD,
    SAGA_TIMEOUT_MS,
    chromium,
    flight_id,
    log_in,
    new_page,
    pick,
    screenshot,
    seat,
    seat_statuses,
    sign_up,
    ui_stack,
)

# Its subject (the browser UI) does not depend on the database engine: not run again on PostgreSQL.
pytestmark = [pytest.mark.e2e, pytest.mark.engine_independent]

LATENCY_MS = "400"
TERMINAL = {"confirmed", "failed", "needs_attention", "cancelled"}
# A compensation that found nothing to undo may record itself either way.
UNDONE = re.compile("^(succeeded|skipped)$")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with ui_stack(tmp_path_factory.mktemp("ui"), PAYMENT_LATENCY_MS=LATENCY_MS,
                  LOYALTY_LATENCY_MS=LATENCY_MS, FLOWER_URL="http://flower.test:5555") as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with chromium() as running:
        yield running


@pytest.fixture
def page(browser, stack):
    page = new_page(browser, stack)
    yield page
    page.context.close()


def bearer(stack, email: str, password: str = PASSWORD) -> dict:
    token = httpx.post(f"{stack.base_url}/api/v1/auth/token", json={"email": email, "password": password},
                       timeout=10)
    token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def booking_of(stack, headers: dict, booking_id: str) -> dict:
    return httpx.get(f"{stack.base_url}/api/v1/bookings/{booking_id}", headers=headers, timeout=10).json()


def book_via_api(stack, headers: dict, flight: int, seats: list[str], card: str) -> str:
    started = httpx.post(f"{stack.base_url}/api/v1/bookings", headers=headers, timeout=15, json={
        "flight_id": flight, "seats": seats,
        "payment": {"card_number": card, "exp_month": 12, "exp_year": 2031, "cvc": "123"}})
    assert started.status_code == 202, started.text
    return started.json()["id"]


def wait_until_ended(stack, headers: dict, booking_id: str) -> dict:
    return wait_for(lambda: (body := booking_of(stack, headers, booking_id))["status"] in TERMINAL and body,
                    timeout=SAGA_TIMEOUT_MS / 1000, interval=0.5, what=f"booking {booking_id} to end")


def check_out(page: Page, names: list[str], card: str) -> str:
    """Fill the checkout form, pay, and return the id of the booking page it lands on."""
    for index, name in enumerate(names):
        page.locator(f'input[name="passengers.{index}.name"]').fill(name)
    page.get_by_label("Card number").fill(card)
    page.get_by_label("CVC").fill("123")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    page.wait_for_url(re.compile(r"/bookings/[0-9a-f-]{36}$"))
    return page.url.rsplit("/", 1)[1]


def status_polls(page: Page) -> list[float]:
    """When this page's status polls started, in seconds, on the browser's own clock.

    Resource Timing stamps each fetch when the page starts it. A clock read in the test process
    when Playwright hands over a request event is not that: events wait while the test process or
    the driver is busy, so on a loaded machine two polls a second apart can arrive 0.5 s apart.
    """
    starts = page.evaluate("""() => performance.getEntriesByType("resource")
        .filter((entry) => /\\/api\\/v1\\/bookings\\/[0-9a-f-]{36}$/.test(new URL(entry.name).pathname))
        .map((entry) => entry.startTime)""")
    return [start / 1000 for start in starts]


def nav(page: Page, name: str):
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name)


def outcome(page: Page):
    return page.locator("#outcome")


def others_on_the_flight(stack, number: str) -> None:
    """Another traveller books 14A-14B and holds 12C-12D; the admin takes 1A out of sale."""
    flight = flight_id(stack, number)
    httpx.post(f"{stack.base_url}/api/v1/auth/register", timeout=10,
               json={"email": "other@example.com", "password": PASSWORD, "name": "Other Traveller"})
    other = bearer(stack, "other@example.com")
    booked = book_via_api(stack, other, flight, ["14A", "14B"], APPROVED)
    assert wait_until_ended(stack, other, booked)["status"] == "confirmed"
    held = httpx.post(f"{stack.base_url}/api/v1/flights/{flight}/holds", headers=other, timeout=10,
                      json={"seats": ["12C", "12D"]})
    assert held.status_code == 201, held.text
    blocked = httpx.put(f"{stack.base_url}/api/v1/admin/flights/{flight}/seats/1A", timeout=10,
                        headers=bearer(stack, ADMIN["email"], ADMIN["password"]), json={"blocked": True})
    assert blocked.status_code == 200, blocked.text


def test_the_happy_path_from_sign_up_to_booked(page, stack):
    others_on_the_flight(stack, "SA101")
    page.goto("/")
    screenshot(page, "search")
    sign_up(page, "ada@example.com")

    page.get_by_label("From").fill("lhr")
    page.get_by_label("To").fill("JFK")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="1 flight")).to_be_visible()
    page.get_by_role("link", name="Choose seats on SA101").click()

    expect(seat(page, "12A")).to_have_attribute("aria-label", "12A economy, available, 150.00 USD")
    expect(seat(page, "12C")).to_have_attribute("aria-label", "12C economy, held by someone else, 150.00 USD")
    expect(seat(page, "14A")).to_have_attribute("aria-label", "14A economy, booked, 150.00 USD")
    expect(seat(page, "1A")).to_have_attribute("aria-label", "1A first, not for sale, 1,200.00 USD")
    pick(page, "2C", "12A")
    expect(seat(page, "2C")).to_have_attribute("aria-label", "2C first, held by you, 1,200.00 USD")
    expect(seat(page, "2C")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#picks-total")).to_have_text("Total 1,350.00 USD")
    expect(page.locator("#countdown-time")).to_have_text(re.compile(r"^(10:00|9:[0-5]\d)$"))
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "seat-map")
    page.set_viewport_size({"width": 390, "height": 844})
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "seat-map-phone", full_page=False)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("link", name="Continue to checkout").click()
    expect(page.get_by_role("heading", name=re.compile("^Checkout"))).to_be_visible()
    expect(page.locator("#total")).to_have_text("1,350.00 USD")
    expect(page.locator("#miles")).to_have_text("3,750")
    page.get_by_text("Test cards for this demo").click()
    screenshot(page, "checkout")

    key = page.locator("#checkout-page").get_attribute("data-idempotency-key")
    posts: list[dict] = []

    def watch(request) -> None:
        if request.method == "POST" and request.url.endswith("/api/v1/bookings"):
            posts.append(request.headers)

    page.on("request", watch)
    booking_id = check_out(page, ["Ada Lovelace", "Alan Turing"], "4242 4242 4242 4242")
    assert [headers["idempotency-key"] for headers in posts] == [key]
    assert posts[0]["x-csrftoken"]
    expect(outcome(page)).to_contain_text("Booking in progress")
    expect(page.locator(".step--succeeded").first).to_be_visible()
    screenshot(page, "booking-progress")

    expect(outcome(page)).to_have_attribute("data-status", "confirmed", timeout=SAGA_TIMEOUT_MS)
    body = booking_of(stack, bearer(stack, "ada@example.com"), booking_id)
    assert body["passengers"] == [{"name": "Ada Lovelace"}, {"name": "Alan Turing"}]
    reference = body["ticket"]["reference"]
    expect(page.locator("#outcome-headline")).to_have_text(f"Booked: reference {reference}")
    expect(page.locator("#outcome-detail")).to_contain_text("1,350.00 USD charged to Visa ending 4242")
    # Every step of the saga's own definition, its follow-up after the pivot under its own heading,
    # each in the words the API gives.
    expect(page.locator(".step--succeeded")).to_have_count(len(body["steps"]))
    for step in body["steps"]:
        expect(page.locator(f'[data-step="{step["name"]}"] .step__title')).to_contain_text(step["label"])
    follow_ups = [step["name"] for step in body["steps"] if step["follow_up"]]
    assert follow_ups == ["send_itinerary"]
    expect(page.locator(".steps__divider").first).to_have_text("After the booking, retried until done")
    expect(page.locator(f'[data-step="{follow_ups[0]}"]')).to_have_class(re.compile("step--follow-up"))
    screenshot(page, "booked")

    # Retry-After: 1 paced the polls, and they stopped once the saga ended.
    settled = status_polls(page)
    time.sleep(2.5)
    polls = status_polls(page)
    assert polls == settled
    assert all(later - earlier >= 0.8 for earlier, later in zip(polls, polls[1:], strict=False)), polls

    nav(page, "My bookings").click()
    row = page.locator(f'[data-booking-id="{booking_id}"]')
    expect(row).to_contain_text(reference)
    expect(row.locator(".badge")).to_have_text("Booked")
    screenshot(page, "my-bookings")
    statuses = seat_statuses(stack, flight_id(stack, "SA101"))
    assert (statuses["2C"], statuses["12A"]) == ("booked", "booked")


def test_a_declined_card_shows_the_compensation_and_frees_the_seats(page, stack):
    sign_up(page, "grace@example.com", "Grace Hopper")
    flight = flight_id(stack, "SA201")
    page.goto(f"/flights/{flight}/seats")
    pick(page, "7A", "7B")
    page.get_by_role("link", name="Continue to checkout").click()
    booking_id = check_out(page, ["Grace Hopper", "Ada Lovelace"], "4000 0000 0000 0002")

    expect(outcome(page)).to_have_attribute("data-status", "failed", timeout=SAGA_TIMEOUT_MS)
    expect(page.locator("#outcome-headline")).to_have_text(
        "Payment declined: nothing was charged and your seats were released.")
    failed = page.locator('[data-step="authorize_payment"]')
    expect(failed).to_have_attribute("data-status", "failed")
    expect(failed).to_contain_text("card_declined")
    expect(page.locator(".steps__divider").last).to_have_text("Undoing, newest step first")
    expect(page.locator('[data-step="cancel_payment"]')).to_have_attribute("data-status", UNDONE)
    expect(page.locator('[data-step="cancel_seat"]')).to_have_attribute("data-status", "succeeded")
    expect(page.locator('[data-step="award_miles"]')).to_have_attribute("data-status", "pending")
    screenshot(page, "declined")

    body = booking_of(stack, bearer(stack, "grace@example.com"), booking_id)
    assert body["failure"]["reason"] == "card_declined"
    statuses = seat_statuses(stack, flight)
    assert (statuses["7A"], statuses["7B"]) == ("available", "available")
    page.get_by_role("link", name="Pick seats again").click()
    expect(seat(page, "7A")).to_have_attribute("aria-label", re.compile("available"))
    expect(seat(page, "7B")).to_have_attribute("aria-label", re.compile("available"))


def test_two_travellers_race_for_one_seat(browser, stack):
    flight = flight_id(stack, "SA401")
    pages = [new_page(browser, stack), new_page(browser, stack)]
    try:
        for index, page in enumerate(pages):
            sign_up(page, f"racer{index}@example.com", f"Racer {index}")
            page.goto(f"/flights/{flight}/seats")
        pick(pages[0], "20F")
        pick(pages[1], "20A")

        # Both click the same seat; whichever request the server sees first gets it.
        for page in pages:
            seat(page, "20C").click(no_wait_after=True)
        for page in pages:
            settled = page.locator('#seat-error:not([hidden]), #seat-map button[data-seat="20C"].seat--yours')
            expect(settled.first).to_be_visible()
            expect(page.locator("#seat-map")).to_have_attribute("aria-busy", "false")

        statuses = [seat(page, "20C").get_attribute("class") for page in pages]
        winners = [index for index, classes in enumerate(statuses) if "seat--yours" in classes]
        assert len(winners) == 1, statuses
        winner, loser = pages[winners[0]], pages[1 - winners[0]]
        kept = "20F" if loser is pages[0] else "20A"

        expect(loser.locator("#seat-error")).to_have_text("20C was just taken by someone else.")
        expect(seat(loser, "20C")).to_have_attribute("aria-label",
                                                     "20C economy, held by someone else, 150.00 USD")
        expect(seat(loser, kept)).to_have_class(re.compile(r"\bseat--yours\b"))
        expect(loser.locator("#picks li")).to_have_count(1)
        expect(loser.locator("#checkout")).to_be_visible()
        expect(winner.locator("#picks li")).to_have_count(2)
        # Each sees the other's seats as taken once the map refreshes.
        other_kept = "20A" if kept == "20F" else "20F"
        expect(seat(loser, other_kept)).to_have_class(re.compile(r"\bseat--held\b"))
        screenshot(loser, "seat-taken", full_page=False)
        assert seat_statuses(stack, flight)["20C"] == "held"
    finally:
        for page in pages:
            page.context.close()


def test_the_seat_map_works_from_the_keyboard(page, stack):
    sign_up(page, "keys@example.com", "Keyboard User")
    page.goto(f"/flights/{flight_id(stack, 'SA402')}/seats")
    stops = page.locator('#seat-map button[tabindex="0"]')
    expect(stops).to_have_count(1)  # one Tab stop for the whole map; arrows do the rest
    stops.focus()
    expect(seat(page, "1A")).to_be_focused()
    page.keyboard.press("ArrowRight")
    for _ in range(5):
        page.keyboard.press("ArrowDown")
    expect(seat(page, "6B")).to_be_focused()
    page.keyboard.press("Enter")
    expect(seat(page, "6B")).to_have_attribute("aria-label", "6B economy, held by you, 150.00 USD")
    expect(seat(page, "6B")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#seat-status")).to_have_text("Held for you: 6B.")
    page.keyboard.press("End")
    expect(seat(page, "6F")).to_be_focused()
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    expect(seat(page, "6B")).to_have_attribute("aria-pressed", "false")
    expect(seat(page, "6B")).to_have_attribute("aria-label", "6B economy, available, 150.00 USD")
    expect(page.locator("#checkout")).to_be_hidden()


def test_cancelling_a_confirmed_booking(page, stack):
    sign_up(page, "linus@example.com", "Linus Torvalds")
    headers = bearer(stack, "linus@example.com")
    flight = flight_id(stack, "SA102")
    booking_id = book_via_api(stack, headers, flight, ["9D"], "5555555555554444")
    page.goto(f"/bookings/{booking_id}")
    expect(outcome(page)).to_have_attribute("data-status", "confirmed", timeout=SAGA_TIMEOUT_MS)

    nav(page, "My bookings").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f'button[data-cancel="{booking_id}"]').click()
    page.wait_for_url(f"**/bookings/{booking_id}")
    expect(outcome(page)).to_have_attribute("data-status", "cancelled", timeout=SAGA_TIMEOUT_MS)
    expect(page.locator("#outcome-headline")).to_have_text(
        "Cancelled: refunded 150.00 USD to Mastercard ending 4444")
    expect(page.locator(".steps__divider").last).to_have_text("Cancellation, newest step first")
    for step in ("cancel_booking", "reverse_miles", "cancel_payment", "cancel_seat"):
        expect(page.locator(f'[data-step="{step}"]')).to_have_attribute("data-status", UNDONE)
    screenshot(page, "cancelled")

    nav(page, "My bookings").click()
    expect(page.locator(f'[data-booking-id="{booking_id}"] .badge')).to_have_text("Cancelled")
    expect(page.locator(f'button[data-cancel="{booking_id}"]')).to_have_count(0)
    assert seat_statuses(stack, flight)["9D"] == "available"


def admin_sagas_stub(stack, admin_headers: dict, booking_ids: list[str], retried: list[str]):
    """GET/POST of the admin saga endpoints with API.md's shapes, from real bookings.

    Those endpoints come with the admin work on another branch; until they are merged here the
    page is exercised against this stand-in. One failed booking is shown as needs_attention with a
    debt on its cancel_payment step, the case the retry button is for.
    """
    bodies = [booking_of(stack, admin_headers, booking_id) for booking_id in booking_ids]
    for body in bodies:
        if body["status"] == "failed":
            body["status"] = "needs_attention"
            step = next(s for s in body["steps"] if s["name"] == "cancel_payment")
            step.update(status="debt", attempts=6,
                        error={"code": "payment_unavailable", "message": "payment service timed out"})
            break

    def handle(route: Route) -> None:
        request = route.request
        if request.method == "POST":
            saga_id = request.url.rsplit("/", 2)[1]
            assert request.headers.get("x-csrftoken")  # the page sends its token with the session
            if saga_id in retried:  # the first retry paid the debt: nothing is left to retry
                route.fulfill(status=409, content_type="application/problem+json", body=json.dumps({
                    "type": "/problems/nothing-to-retry", "title": "Conflict", "status": 409,
                    "detail": "Nothing to retry: the saga is failed with no open debt."}))
                return
            retried.append(saga_id)
            route.fulfill(status=202, content_type="application/json", body=json.dumps({"id": saga_id}))
            return
        status = re.search(r"status=([a-z_]*)", request.url)
        wanted = [b for b in bodies if not status or not status.group(1) or b["status"] == status.group(1)]
        page = {"items": wanted, "page": 1, "page_size": 20, "total": len(wanted)}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(page))

    return handle


def test_admin_sagas_page_lists_steps_links_flower_and_retries(browser, stack):
    httpx.post(f"{stack.base_url}/api/v1/auth/register", timeout=10,
               json={"email": "barbara@example.com", "password": PASSWORD, "name": "Barbara Liskov"})
    traveller = bearer(stack, "barbara@example.com")
    flight = flight_id(stack, "SA202")
    booked = book_via_api(stack, traveller, flight, ["3A"], APPROVED)
    declined = book_via_api(stack, traveller, flight, ["3B"], DECLINED)
    for booking_id in (booked, declined):
        wait_until_ended(stack, traveller, booking_id)

    page = new_page(browser, stack)
    try:
        log_in(page, ADMIN["email"], ADMIN["password"])
        admin_headers = bearer(stack, ADMIN["email"], ADMIN["password"])
        retried: list[str] = []
        page.route(re.compile(r"/api/v1/admin/sagas"),
                   admin_sagas_stub(stack, admin_headers, [booked, declined], retried))

        nav(page, "Sagas").click()
        cards = page.locator(".saga")
        expect(cards).to_have_count(1)  # needs_attention is the default filter
        card = cards.first
        expect(card.locator(".badge")).to_have_text("Needs attention")
        expect(card.locator('[data-step="cancel_payment"]')).to_have_attribute("data-status", "debt")
        task_id = next(s["task_id"] for s in booking_of(stack, admin_headers, declined)["steps"]
                       if s["name"] == "authorize_payment")
        link = card.locator('[data-step="authorize_payment"] a')
        expect(link).to_have_attribute("href", f"http://flower.test:5555/task/{task_id}")

        page.get_by_label("Status").select_option("")
        page.get_by_role("button", name="Show").click()
        expect(page.locator(".saga")).to_have_count(2)
        screenshot(page, "admin-sagas")

        page.get_by_role("button", name=re.compile("^Retry")).click()
        expect(page.locator(".saga__result")).to_have_text("Retry started; the list refreshes in a moment.")
        assert retried == [declined]
        expect(page.locator(".saga__result")).to_have_text("")  # the list was loaded again
        page.get_by_role("button", name=re.compile("^Retry")).click()
        expect(page.locator(".saga__result")).to_have_text(
            "Nothing to retry: the saga is failed with no open debt.")
    finally:
        page.context.close()
