"""Shared by the browser tests: Debian's chromium driven by Playwright, a page opened on a
served app, asking a question the way a user does, and what the page keeps in the browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

needs_chromium = pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 1000}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(browser: Any, url: str, viewport: dict[str, int] = DESKTOP) -> Any:
    context = browser.new_context(viewport=viewport)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
    page = context.new_page()
    page.set_default_timeout(300_000)  # waits end when the page is ready; a slow shared CPU is fine
    pending: set[Any] = set()  # the page's requests in flight (settled() reads them)
    page.on("request", lambda request: pending.add(request))
    page.on("requestfinished", lambda request: pending.discard(request))
    page.on("requestfailed", lambda request: pending.discard(request))
    page.rag_pending = pending
    page.goto(url)
    page.locator("#chat").wait_for()
    return page


def settled(page: Any, quiet_s: float = 0.5, timeout_s: float = 120.0) -> None:
    """Wait until the page has had no request in flight for `quiet_s` but its heartbeat (which
    stays open): its load events have come back, as they have before a user starts typing.
    (Playwright's "networkidle" never comes: Gradio's heartbeat stream stays open.) A value typed
    into the k box while the settings the page loads were still on their way was lost in CI."""
    import time

    began = quiet = time.monotonic()
    while time.monotonic() - began < timeout_s:
        page.wait_for_timeout(100)
        if any("/heartbeat/" not in r.url for r in page.rag_pending):
            quiet = time.monotonic()
        elif time.monotonic() - quiet >= quiet_s:
            return
    raise AssertionError(f"the page still had requests in flight after {timeout_s:.0f} s")


def bot(page: Any, n: int) -> Any:
    return page.locator('#chat [data-testid="bot"]').nth(n)


def ask(page: Any, question: str, n: int) -> Any:
    """Type `question`, press Enter and wait for the n-th reply (from 0) to be final."""
    box = page.locator("#chat textarea, textarea").first
    box.fill(question)
    box.press("Enter")
    reply = bot(page, n)
    reply.wait_for()
    page.locator("#sources .rag-pending").wait_for(state="detached")
    return reply


IN_VIEW = """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
                        return r.bottom > 0 && r.top < window.innerHeight && r.height > 0; }"""


def in_view(page: Any, selector: str) -> bool:
    return bool(page.evaluate(IN_VIEW, selector))


def stored(page: Any, key: str) -> str | None:
    """The page's localStorage value of `key` (what a gr.BrowserState keeps, encrypted)."""
    return page.evaluate("(k) => localStorage.getItem(k)", key)  # type: ignore[no-any-return]


def stored_changed(page: Any, key: str, before: str | None) -> None:
    """Wait until the page's localStorage value of `key` is no longer `before`."""
    page.wait_for_function("([k, v]) => localStorage.getItem(k) !== v", arg=[key, before])
