"""A hold's countdown in the browser, on a stack whose holds last five seconds (HOLD_TTL_SECONDS=5)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.ui_support import chromium, flight_id, new_page, pick, seat, seat_statuses, sign_up, ui_stack

# Its subject (the browser UI) does not depend on the database engine: not run again on PostgreSQL.
pytestmark = [pytest.mark.e2e, pytest.mark.engine_independent]

TTL_SECONDS = 5
# A step must fit in half a hold (app/settings_check.py); the in-stack participants answer at once.
FAST_PARTICIPANTS = {"PARTICIPANT_CONNECT_TIMEOUT": "0.5", "PARTICIPANT_READ_TIMEOUT": "2"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with ui_stack(tmp_path_factory.mktemp("ui-ttl"), HOLD_TTL_SECONDS=str(TTL_SECONDS),
                  **FAST_PARTICIPANTS) as running:
        yield running


@pytest.fixture
def page(stack):
    with chromium() as browser:
        page = new_page(browser, stack)
        yield page
        page.context.close()


def test_the_countdown_reaching_zero_releases_the_seats(page, stack):
    sign_up(page, "hasty@example.com", "Hasty Traveller")
    flight = flight_id(stack, "SA301")
    page.goto(f"/flights/{flight}/seats")
    pick(page, "15A", "15B")
    expect(page.locator("#countdown-time")).to_have_text(re.compile(r"^0:0[0-5]$"))
    assert {seat_statuses(stack, flight)[n] for n in ("15A", "15B")} == {"held"}

    # Clicking the second seat took a new hold, so its five seconds start then.
    expect(page.locator("#picks-empty")).to_have_text(
        "Your seat hold ran out and the seats were released. Pick them again to continue.",
        timeout=(TTL_SECONDS + 10) * 1000)
    expect(page.locator("#picks li")).to_have_count(0)
    expect(page.locator("#checkout")).to_be_hidden()
    expect(page.locator("#countdown")).to_be_hidden()
    for number in ("15A", "15B"):
        expect(seat(page, number)).to_have_attribute("aria-label", re.compile(r"available"))
    statuses = seat_statuses(stack, flight)
    assert (statuses["15A"], statuses["15B"]) == ("available", "available")


def test_checkout_stops_when_the_hold_runs_out(page, stack):
    sign_up(page, "slow@example.com", "Slow Traveller")
    page.goto(f"/flights/{flight_id(stack, 'SA302')}/seats")
    pick(page, "16C")
    page.get_by_role("link", name="Continue to checkout").click()
    # Said by the countdown on the page, or by the server if the hold ended before the page loaded.
    expect(page.get_by_text("Your hold on these seats has ended")).to_be_visible(
        timeout=(TTL_SECONDS + 10) * 1000)
    expect(page.get_by_role("link", name="Pick seats again")).to_be_visible()
    pay = page.get_by_role("button", name=re.compile("^Pay"))
    assert pay.count() == 0 or pay.is_disabled()
