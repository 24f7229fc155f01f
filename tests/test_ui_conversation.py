"""The web chat's conversation, in a real browser (Debian's chromium driven by Playwright): a
follow-up question reaches the knowledge base with the earlier turns as the answerer wrote
them (not as Gradio shows them: it expands tabs and trims indentation), through undo, retry,
clear and a server restart. The KnowledgeBase is real; its `steps` is wrapped to record
the history each question is asked with."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from browser import ask, browser, needs_chromium, open_page, stored, stored_changed
from conftest import copy_articles, free_port

from rag.embed import Embedder
from rag.kb import KnowledgeBase
from rag.settings import Settings
from ui.app import build_app, launch
from ui.settings_panel import CHAT_KEY

pytestmark = [pytest.mark.browser, needs_chromium]
__all__ = ["browser"]  # the shared fixture

# a sentence with a tab and Markdown's special characters, which the extractive answer quotes
CUT_DOC = ("# Field separators\n\nThe cut tool splits each line at a tab:\tcut -f2 prints the *second* field "
           "& nothing <b>else</b>, see [2] \\ and _this_.\n")
CUT = "How does the cut tool split each line?"
FOLLOW_UP = "And which field does it print?"
RISKS = "What are the risks of open source AI?"


class Recorder:
    """KnowledgeBase.steps, with the (question, history) of each call kept; `called` is set
    at each call."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.steps, self.called = kb.steps, threading.Event()
        self.calls: list[tuple[str, list[tuple[str, str]]]] = []

    def __call__(self, question: str, history: Sequence[tuple[str, str]] = (), **kwargs: Any) -> Iterator[Any]:
        self.calls.append((question, [(q, a) for q, a in history]))
        self.called.set()
        return self.steps(question, history, **kwargs)


class Server:
    """The web chat of `kb` on `port`, restartable (a new app, as after `rag serve` restarts)."""

    def __init__(self, kb: KnowledgeBase, port: int) -> None:
        self.kb, self.port = kb, port
        self.start()

    def start(self) -> None:
        self.app = build_app(self.kb)
        self.url = launch(self.app, self.kb.settings, "127.0.0.1", self.port, block=False)

    def restart(self) -> None:
        self.app.close()
        self.start()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[KnowledgeBase, Server]]:
    """The articles and CUT_DOC, answered by the extractive answerer."""
    root = tmp_path_factory.mktemp("ui_conversation")
    copy_articles(root / "corpus")
    (root / "corpus" / "cut.md").write_text(CUT_DOC)
    settings = Settings.from_env(env={}, corpus_dir=root / "corpus", index_dir=root / "index", answerer="extractive")
    kb = KnowledgeBase(settings, embedder=embedder)
    kb.sync(progress=False)
    server = Server(kb, free_port())
    yield kb, server
    server.app.close()


@pytest.fixture
def recorder(served: tuple[KnowledgeBase, Server]) -> Iterator[Recorder]:
    """The served KnowledgeBase's `steps`, recorded for one test."""
    kb = served[0]
    recorder = Recorder(kb)
    kb.steps = recorder  # type: ignore[method-assign]
    yield recorder
    del kb.steps


def test_a_follow_up_gets_the_earlier_turns_as_the_answerer_wrote_them(
    browser: Any, served: tuple[KnowledgeBase, Server], recorder: Recorder
) -> None:
    kb, server = served
    cut = kb.ask(CUT).text
    risks = kb.ask(RISKS, history=[(CUT, cut)]).text  # (asked in the chat after CUT: a follow-up to it)
    assert "\t" in cut and "*second*" in cut and "[1]" in cut  # what Gradio's bubble would change
    page = open_page(browser, server.url)
    try:
        ask(page, CUT, 0).locator('a[href="#a1-source-1"]').wait_for()
        ask(page, FOLLOW_UP, 1).locator('a[href="#a2-source-1"]').wait_for()
        assert recorder.calls[-1] == (FOLLOW_UP, [(CUT, cut)])

        page.locator("#chat").hover()
        page.locator('#chat button[aria-label="Undo"]').last.click()  # the follow-up and its answer go
        page.locator("#a2-sources").wait_for(state="detached")
        before = stored(page, CHAT_KEY)
        ask(page, RISKS, 1).locator('a[href="#a2-source-1"]').wait_for()
        stored_changed(page, CHAT_KEY, before)
        assert recorder.calls[-1] == (RISKS, [(CUT, cut)])
        recorder.called.clear()
        page.locator("#chat").hover()
        page.locator('#chat button[aria-label="Retry"]').last.click()  # asked again, after the same turns
        assert recorder.called.wait(timeout=300)
        page.wait_for_function("() => window.ragBusy === false")  # the retried answer is whole
        assert recorder.calls[-1] == (RISKS, [(CUT, cut)])

        server.restart()  # the turns come back from the browser, as the chat does
        page.reload()
        page.locator("#a2-sources").wait_for(state="attached")
        ask(page, FOLLOW_UP, 2).locator('a[href="#a3-source-1"]').wait_for()
        assert recorder.calls[-1] == (FOLLOW_UP, [(CUT, cut), (RISKS, risks)])

        before = stored(page, CHAT_KEY)
        page.locator("#chat").hover()
        page.locator('#chat button[aria-label="Clear"]').last.click()
        stored_changed(page, CHAT_KEY, before)
        ask(page, FOLLOW_UP, 0)
        assert recorder.calls[-1] == (FOLLOW_UP, [])
    finally:
        page.context.close()

