"""Headless Chromium for the chat page's tests: the browser, a fresh page per test, and
the page's uncaught exceptions (every test ends by checking there were none).

The browser is the system Chromium (`bash scripts/ensure-chromium.sh` installs it);
Playwright never downloads one. tests/conftest.py offers the fixtures to every module by
name; Playwright is imported only when a test asks for them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium tries to reach outside services, which are refused here.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 60_000


def chromium_path() -> str | None:
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed: run `bash scripts/ensure-chromium.sh`")
    launched = playwright.chromium.launch(
        executable_path=executable, headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield launched
    finally:
        launched.close()


class PageErrors(list[str]):
    """Uncaught exceptions in the page; every test ends by checking there were none."""


def new_page(browser: Browser, errors: PageErrors, viewport: dict[str, int] = DESKTOP) -> Page:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


@pytest.fixture
def page_errors() -> Iterator[PageErrors]:
    errors = PageErrors()
    yield errors
    assert not errors, f"the page raised: {errors}"


@pytest.fixture
def page(browser: Browser, page_errors: PageErrors) -> Iterator[Page]:
    opened = new_page(browser, page_errors)
    try:
        yield opened
    finally:
        opened.context.close()
