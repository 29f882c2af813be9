"""Headless Chromium against the real processes: what the UI's end-to-end tests share.

Debian's chromium is used as installed (`playwright install` cannot download browsers here);
SAVE_SCREENSHOTS=1 makes the tests rewrite docs/screenshots/*.png.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.conftest import make_stack, shared_redis_urls
from tests.e2e.stack import ROOT, VENV_BIN, Stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
SCREENSHOTS = ROOT / "docs" / "screenshots"
ADMIN = {"email": "admin@example.com", "password": "admin password"}
PASSWORD = "correct horse battery"
# The stack shares two CPUs with the browser: give pages time, but fail rather than hang.
UI_TIMEOUT_MS = 20_000
SAGA_TIMEOUT_MS = 60_000

expect.set_options(timeout=UI_TIMEOUT_MS)


@contextmanager
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        raise AssertionError(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def ui_stack(workdir: Path, **env: str) -> Iterator[Stack]:
    """web, payment, loyalty, worker and beat on free ports, migrated and seeded with an admin."""
    redis_url, broker_url = shared_redis_urls()
    stack = make_stack(workdir, redis_url, broker_url, ADMIN_EMAIL=ADMIN["email"],
                       ADMIN_PASSWORD=ADMIN["password"], **env)
    subprocess.run([f"{VENV_BIN}/flask", "--app", "wsgi", "seed"], cwd=ROOT, env=stack.env, check=True,
                   capture_output=True)
    try:
        for name in ("web", "payment", "loyalty", "worker", "beat"):
            stack.start(name)
        yield stack
    finally:
        stack.stop()


def new_page(browser: Browser, stack: Stack, *, phone: bool = False) -> Page:
    """A page in a fresh context: its own cookies and storage, like another person's browser."""
    viewport = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
    context = browser.new_context(base_url=stack.base_url, viewport=viewport, device_scale_factor=1)
    context.set_default_timeout(UI_TIMEOUT_MS)
    return context.new_page()


def screenshot(page: Page, name: str, *, full_page: bool = True) -> None:
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.mouse.move(0, 0)  # no hover highlight on whatever ended up under the pointer
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page, animations="disabled")


def sign_up(page: Page, email: str, name: str = "Ada Lovelace") -> None:
    page.goto("/signup")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def log_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def flight_id(stack: Stack, number: str) -> int:
    flights = httpx.get(f"{stack.base_url}/api/v1/flights", params={"page_size": 100}, timeout=10).json()
    return next(flight["id"] for flight in flights["items"] if flight["number"] == number)


def seat(page: Page, number: str):
    return page.locator(f'#seat-map button[data-seat="{number}"]')


def seat_statuses(stack: Stack, flight: int) -> dict[str, str]:
    seats = httpx.get(f"{stack.base_url}/api/v1/flights/{flight}/seats", timeout=10).json()["seats"]
    return {item["number"]: item["status"] for item in seats}


def pick(page: Page, *numbers: str) -> None:
    """Click seats one by one, each time waiting until the hold has it."""
    for number in numbers:
        seat(page, number).click()
        expect(seat(page, number)).to_have_class(_class("yours"))
    expect(page.locator("#checkout")).to_be_visible()


def _class(kind: str) -> re.Pattern:
    return re.compile(rf"\bseat--{kind}\b(?!.*seat--changing)")
