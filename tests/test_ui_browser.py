"""The web chat in a real browser (Debian's chromium driven by Playwright): the streamed answer,
linked and highlighted sources, abstentions, and source text that never runs as HTML."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import copy_articles

from rag.embed import Embedder
from rag.kb import KnowledgeBase
from rag.settings import Settings
from ui.app import build_app, launch

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium"),
]

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = "What is the difference between open source and closed AI models?"
SCRIPT = "<script>window.__pwned = 1</script>"
IMG = '<img src=x onerror="window.__pwned=2">'
EVIL_DOC = f"""# Quokka field notes

The quokka is a small marsupial that lives on Rottnest Island near Perth. {SCRIPT}
Quokkas eat grasses, leaves and stems, and they can survive for long periods without water. {IMG}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    root = tmp_path_factory.mktemp("ui_browser")
    copy_articles(root / "corpus")
    (root / "corpus" / "quokka.md").write_text(EVIL_DOC)
    settings = Settings.from_env(env={}, corpus_dir=root / "corpus", index_dir=root / "index")
    kb = KnowledgeBase(settings, embedder=embedder)
    kb.sync(progress=False)
    app = build_app(kb, [EXAMPLE, "What are the risks of open source AI?", "Where do quokkas live?"])
    address = launch(app, settings, "127.0.0.1", free_port(), block=False)
    yield address
    app.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, url: str) -> Iterator[Any]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(300_000)  # waits end when the page is ready; a slow shared CPU is fine
    page.goto(url)
    page.locator("#chat").wait_for()
    yield page
    page.close()


def ask(page: Any, question: str) -> Any:
    box = page.locator("textarea").first
    box.fill(question)
    box.press("Enter")
    answer = page.locator('#chat [data-testid="bot"]').last
    answer.wait_for()
    return answer


def test_question_streams_an_answer_with_linked_highlighted_sources(page: Any) -> None:
    answer = ask(page, EXAMPLE)
    link = answer.locator('a[href="#source-1"]')
    link.wait_for()  # the final answer, with its markers turned into links
    assert len(answer.inner_text()) > 40
    mark = page.locator("#source-1 mark.rag-quote")
    assert mark.inner_text().strip() in answer.inner_text()
    assert page.locator("#source-1 .rag-file").inner_text().endswith(".txt")
    page.wait_for_timeout(300)
    Path(REPO / "docs").mkdir(exist_ok=True)
    page.screenshot(path=str(REPO / "docs" / "screenshot.png"))
    link.click()
    assert page.evaluate("location.hash") == "#source-1"


def test_clicking_an_example_asks_it_and_a_follow_up_keeps_the_topic(page: Any) -> None:
    page.get_by_text("Where do quokkas live?").first.click()
    page.locator('#chat [data-testid="bot"] a[href="#source-1"]').first.wait_for()
    assert "Rottnest" in page.locator("#sources").inner_text()
    ask(page, "What do they eat?")
    page.locator('#chat [data-testid="bot"]').nth(1).locator('a[href="#source-1"]').wait_for()
    assert page.locator('#chat [data-testid="bot"]').count() == 2
    assert "quokka.md" in page.locator("#sources .rag-file").first.inner_text()


def test_source_html_shows_as_text_and_never_runs(page: Any) -> None:
    ask(page, "Where does the quokka live and what does it eat?")
    sources = page.locator("#sources")
    page.locator("#source-1").wait_for()
    text = sources.inner_text()
    assert SCRIPT in text or IMG in text  # shown as the text it is
    assert sources.locator("script, img").count() == 0
    assert page.locator("#chat script, #chat img[src=x]").count() == 0
    page.wait_for_timeout(500)  # time for an onerror handler to fire, if one were there
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_an_abstained_answer_is_shown_as_such(page: Any) -> None:
    answer = ask(page, "What is the boiling point of liquid nitrogen at the summit of Everest?")
    answer.locator("blockquote").wait_for()
    assert "Not answered from the knowledge base" in answer.inner_text()
    assert "No sources" in page.locator("#sources").inner_text()
