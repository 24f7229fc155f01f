"""Issue 19, a new user's first hour in the web chat, in a real browser (Debian's chromium
driven by Playwright): settings explained and kept across a reload, with the conversation; a
header that says what the knowledge base is about; the documents one click away; a phone
table that fits; an llm answer that shows what it is doing before its first words; and the
answerer named with an answer being the one that wrote it. The llm is a stand-in
OpenAI-compatible server on 127.0.0.1 (tests/standin_llm.py) that holds its first token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from browser import DESKTOP, PHONE, ask, bot, browser, needs_chromium, open_page, stored, stored_changed
from conftest import copy_articles, free_port
from standin_llm import StandinLLM, quote_first_passage

from rag.embed import Embedder
from rag.kb import KnowledgeBase
from rag.settings import Settings
from ui.app import build_app, launch

pytest.importorskip("langchain_openai")
pytestmark = [pytest.mark.browser, needs_chromium]
__all__ = ["browser"]  # the shared fixture

RISKS = "What are the risks of open source AI?"
LAPTOP = {"width": 1280, "height": 800}
TITLES = ("A Defining Divide in the AI Era", "Open Source vs Closed Source AI")  # the articles' first lines
LONG_NAME = "defining-divide-open-vs-closed-ai.txt"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[KnowledgeBase, StandinLLM, str]]:
    """The two articles, answered by default (auto) by the llm answerer on the stand-in server."""
    root = tmp_path_factory.mktemp("first_hour")
    copy_articles(root / "corpus")
    with StandinLLM() as llm:
        settings = Settings.from_env(env={}, corpus_dir=root / "corpus", index_dir=root / "index",
                                     llm_base_url=llm.base_url)
        kb = KnowledgeBase(settings, embedder=embedder)
        kb.sync(progress=False)
        app = build_app(kb)
        try:
            yield kb, llm, launch(app, settings, "127.0.0.1", free_port(), block=False)
        finally:
            app.close()


@pytest.fixture
def page(browser: Any, served: tuple[KnowledgeBase, StandinLLM, str]) -> Iterator[Any]:
    page = open_page(browser, served[2])
    yield page
    page.context.close()


def test_settings_are_explained_and_kept_across_a_reload_with_the_conversation(
    page: Any, served: tuple[KnowledgeBase, StandinLLM, str]
) -> None:
    from playwright.sync_api import expect

    from ui.settings_panel import CHAT_KEY, SETTINGS_KEY

    served[1].release()
    header = page.locator("#kb-answerer")  # the answerer named is the one this page's answers use
    expect(header).to_have_text("Answers by the llm answerer.")  # the default (auto)
    page.get_by_text("Settings", exact=True).click()
    settings = page.locator("#settings")
    page.get_by_label("Answerer").wait_for()
    assert "chosen: a language model is set up" in settings.inner_text()
    assert "more can find more" in settings.inner_text() and "not of truth" in settings.inner_text()
    page.get_by_label("Answerer").click()
    page.get_by_role("option", name="extractive").click()
    expect(header).to_have_text("Answers by the extractive answerer.")
    number = page.locator("#k input[type=number]")
    number.fill("3")
    number.press("Tab")
    before = stored(page, SETTINGS_KEY)
    page.get_by_label("Show retrieval similarity scores").check()
    stored_changed(page, SETTINGS_KEY, before)
    before = stored(page, CHAT_KEY)
    ask(page, RISKS, 0).locator('a[href="#a1-source-1"]').wait_for()
    assert "Answerer: extractive" in page.locator("#a1-sources").inner_text()
    stored_changed(page, CHAT_KEY, before)
    answer = bot(page, 0).inner_text()

    page.reload()
    page.locator("#chat").wait_for()
    page.get_by_text("Settings", exact=True).click()
    expect(page.get_by_label("Answerer")).to_have_value("extractive")
    expect(page.locator("#kb-answerer")).to_have_text("Answers by the extractive answerer.")
    expect(page.locator("#k input[type=number]")).to_have_value("3")
    expect(page.get_by_label("Show retrieval similarity scores")).to_be_checked()
    expect(page.locator('#chat [data-testid="user"]').first).to_have_text(RISKS)
    expect(bot(page, 0)).to_have_text(answer)
    assert "Answerer: extractive" in page.locator("#a1-sources").inner_text()
    assert page.locator("#a1-sources .rag-score").count() >= 1  # the scores were on
    ask(page, "What is open source AI?", 1)  # the next answer is answer 2, with its own sources
    page.locator("#a2-sources").wait_for()
    before = stored(page, CHAT_KEY)
    page.locator("#chat").hover()
    page.locator('#chat button[aria-label="Clear"]').last.click()  # a cleared chat stays cleared
    stored_changed(page, CHAT_KEY, before)
    page.reload()
    page.locator("#chat").wait_for()
    page.get_by_text("Settings", exact=True).click()
    expect(page.get_by_label("Answerer")).to_have_value("extractive")  # the settings are loaded, and
    assert page.locator('#chat [data-testid="user"]').count() == 0  # the conversation is not back


def test_the_header_says_what_the_documents_are_about(page: Any) -> None:
    status = page.locator("#kb-status")
    status.get_by_text(TITLES[0], exact=False).wait_for()
    text = status.inner_text()
    assert all(title in text for title in TITLES)
    assert re.search(r"2 documents, \d+ passages", text)


def test_the_documents_are_one_click_away_at_1280x800_and_one_thing_is_called_settings(
    browser: Any, served: tuple[KnowledgeBase, StandinLLM, str]
) -> None:
    page = open_page(browser, served[2], LAPTOP)
    try:
        visible = "els => els.filter(e => e.getClientRects().length > 0).length"
        assert page.get_by_text("Settings", exact=True).evaluate_all(visible) == 1
        tab = page.get_by_role("tab", name="Documents")
        box = tab.bounding_box()
        assert box is not None and box["y"] + box["height"] <= LAPTOP["height"]  # no scrolling
        tab.click()
        cell = page.locator("#documents").get_by_text(LONG_NAME).last
        cell.wait_for()
        box = cell.bounding_box()
        assert box is not None and box["y"] + box["height"] <= LAPTOP["height"]
        assert page.evaluate("window.scrollY") == 0
    finally:
        page.context.close()


def test_the_documents_table_fits_a_phone(browser: Any, served: tuple[KnowledgeBase, StandinLLM, str]) -> None:
    page = open_page(browser, served[2], PHONE)
    try:
        page.get_by_role("tab", name="Documents").click()
        table = page.locator("#documents")
        table.get_by_text(LONG_NAME).last.wait_for()
        width = PHONE["width"]
        header = table.get_by_text("passages", exact=True).first
        box = header.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width  # the column shows
        assert header.evaluate("e => e.scrollWidth <= e.clientWidth + 1")  # its name whole
        for name in (d.source for d in served[0].documents()):
            cell = table.get_by_text(name, exact=True).last
            box = cell.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, name
            # the whole name shows (wrapped, not cut off)
            assert cell.evaluate("e => e.scrollWidth <= e.clientWidth + 1 && e.scrollHeight <= e.clientHeight + 1")
        count = table.get_by_text("15", exact=True).last  # open-vs-closed-source-ai.txt's passages
        box = count.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
    finally:
        page.context.close()


def test_an_llm_answer_says_what_it_does_before_its_first_words(
    page: Any, served: tuple[KnowledgeBase, StandinLLM, str]
) -> None:
    llm = served[1]
    llm.hold()  # the model "reads" until released
    try:
        box = page.locator("textarea").first
        box.fill(RISKS)
        box.press("Enter")
        reply = bot(page, 0)
        reply.get_by_text(re.compile(r"Reading \d+ passages")).wait_for()
        assert re.search(r"Reading \d+ passages", page.locator("#sources").inner_text())
        assert reply.locator("a").count() == 0  # no answer yet
    finally:
        llm.release()
    reply.locator('a[href="#a1-source-1"]').wait_for()
    page.locator("#sources .rag-pending").wait_for(state="detached")
    assert "Reading" not in reply.inner_text()
    assert "Answerer: llm" in page.locator("#a1-sources").inner_text()
    assert "Quoted from the documents" not in reply.inner_text()  # the model's answer, no note


def test_an_llm_answer_that_falls_back_to_quotes_is_shown_as_extractive(
    page: Any, served: tuple[KnowledgeBase, StandinLLM, str], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The model's reply is unsupported by the passages; the extractive answerer's quotes are
    shown instead, and named as such (in the page and in the JSON of /ask and rag ask), and
    the chat's bubble and `rag ask` (on stderr) say so."""
    from rag.cli import main

    kb, llm = served[0], served[1]
    llm.release()
    llm.reply = lambda prompt: "Penguins fly to the moon every winter to eat cheese [1]."
    try:
        ask(page, RISKS, 0).locator('a[href="#a1-source-1"]').wait_for()
        assert "Answerer: extractive" in page.locator("#a1-sources").inner_text()
        assert "Penguins" not in bot(page, 0).inner_text()
        note = "Quoted from the documents: the model's answer was not supported by them."
        assert bot(page, 0).inner_text().startswith("ℹ️ " + note)
        answer = kb.ask(RISKS)
        assert answer.to_json()["answerer"] == "extractive" and not answer.abstained
        monkeypatch.setenv("RAG_LLM_BASE_URL", llm.base_url)
        folders = ["--corpus", str(kb.settings.corpus_dir), "--index", str(kb.settings.index_dir)]
        assert main(["ask", RISKS, "--answerer", "llm", *folders]) == 0
        said = capsys.readouterr()
        assert "rag: note: quoted from the documents: the model's answer was not supported by them" in said.err
        assert "quoted from the documents" not in said.out  # the answer on stdout stays as it is
    finally:
        llm.reply = quote_first_passage


@pytest.fixture(scope="module")
def described(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    """A server with no language model that offers only the extractive answerer (as `rag serve`
    does then), and the operator's line about what the knowledge base holds."""
    root = tmp_path_factory.mktemp("described")
    (root / "corpus").mkdir()
    (root / "corpus" / "quokka.md").write_text("# Quokkas\n\nThe quokka lives on Rottnest Island near Perth.\n")
    settings = Settings.from_env(env={}, corpus_dir=root / "corpus", index_dir=root / "index",
                                 models_dir=str(root / "no-models"), answerers="extractive",
                                 kb_description="Field notes on Australian marsupials")
    kb = KnowledgeBase(settings, embedder=embedder)
    kb.sync(progress=False)
    app = build_app(kb)
    yield launch(app, settings, "127.0.0.1", free_port(), block=False)
    app.close()


def test_the_operators_line_heads_the_page_and_settings_say_how_to_get_the_llm(
    browser: Any, described: str
) -> None:
    page = open_page(browser, described, DESKTOP)
    try:
        page.locator("#kb-status").get_by_text("Field notes on Australian marsupials").wait_for()
        assert "Quokkas" not in page.locator("#kb-status").inner_text()  # the line, not the titles
        page.get_by_text("Settings", exact=True).click()
        page.get_by_label("Answerer").wait_for()
        note = page.locator("#settings").inner_text()
        assert "no language model is set up" in note  # why
        assert "rag models install qwen-1.5b" in note and "RAG_LLM_BASE_URL" in note  # how
    finally:
        page.context.close()
