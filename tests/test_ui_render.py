"""The web chat's pure rendering helpers: Markdown answers with source links, escaped and
highlighted source passages, questions shown as the text they are."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from rag.types import Answer, Chunk, Citation, DocumentInfo
from ui import render, sources

CHUNK = "Intro line.\nOpen models publish their weights. Closed models keep them secret.\n"
QUOTE = "Open models publish their weights."
START = 1000 + CHUNK.index(QUOTE)


def citation(marker: int = 1, **changes: object) -> Citation:
    fields: dict[str, object] = dict(
        marker=marker, source="articles/open.md", section="Openness", quote=QUOTE,
        start=START, end=START + len(QUOTE), score=0.8123, chunk_text=CHUNK, chunk_start=1000,
    )
    fields.update(changes)
    return Citation(**fields)  # type: ignore[arg-type]


def answer(text: str, citations: tuple[Citation, ...] = (), abstained: bool = False) -> Answer:
    return Answer("q?", text, citations, abstained, {"retrieve": 1.0, "answer": 2.0, "total": 3.0})


def test_markers_become_links_to_their_source_entries() -> None:
    md = render.render_answer(answer(f"{QUOTE} [1] Also this. [2]", (citation(1), citation(2))))
    assert md.count("](#a1-source-1)") == 1
    assert md.count("](#a1-source-2)") == 1
    assert not md.startswith(render.ABSTAINED_BANNER)


def test_a_marker_without_a_citation_stays_text() -> None:
    md = render.answer_markdown("see [3] here [1]", markers=[1])
    assert "source-3" not in md and "\\[3\\]" in md
    assert "](#a1-source-1)" in md


def test_answer_html_and_markdown_are_escaped() -> None:
    md = render.answer_markdown('<script>alert(1)</script> *bold* <img src=x onerror="x()">')
    assert "<script>" not in md and "<img" not in md
    assert "&lt;script&gt;" in md
    assert "\\*bold\\*" in md


def test_abstained_answer_is_visibly_different() -> None:
    normal = render.render_answer(answer("An answer. [1]", (citation(),)))
    abstained = render.render_answer(answer("The knowledge base does not cover this.", abstained=True))
    assert abstained.startswith(render.ABSTAINED_BANNER)
    assert "Not answered" in abstained and "Not answered" not in normal
    assert all(line.startswith(">") for line in abstained.splitlines())


def test_markers_link_to_their_own_answers_sources() -> None:
    md = render.render_answer(answer(f"{QUOTE} [1]", (citation(1),)), turn=3)
    assert "](#a3-source-1)" in md
    assert 'id="a3-source-1"' in sources.answer_sources(answer("x [1]", (citation(1),)), 3)


def test_unsupported_sentences_are_flagged_in_the_message() -> None:
    text = "Made up *claim*. Weights are public. [1]"
    a = Answer("q?", text, (citation(),), False, unsupported=("Made up *claim*.",))
    md = render.render_answer(a)
    assert md.startswith(render.UNSUPPORTED_MARK + " *Made up \\*claim\\*\\.*")
    assert md.endswith(render.UNSUPPORTED_NOTE)


def test_an_error_is_one_line_and_every_reply_counts_as_a_turn() -> None:
    failed = render.error_markdown("the LLM server failed: connection refused\nsecond line")
    assert failed.startswith(render.ERROR_PREFIX) and "second line" not in failed
    messages = [
        {"role": "user", "content": ""}, {"role": "assistant", "content": render.EMPTY_HINT},
        {"role": "user", "content": "q1"}, {"role": "assistant", "content": failed},
        {"role": "user", "content": "q2"},
    ]
    assert render.answer_count(messages) == 2


def test_marked_highlights_spans_and_leaves_out_dropped_ranges() -> None:
    text = "Title\nBody <b>one</b>. Two.\n"
    out = sources.marked(text, [(6, 21), (10, 15)], drop=[(0, 6)], first_id="m")
    assert out == '<mark class="rag-quote" id="m">Body &lt;b&gt;one&lt;/b&gt;</mark>. Two.\n'



def test_a_passage_cited_twice_is_one_entry_with_two_highlights() -> None:
    second = "Closed models keep them secret."
    start2 = 1000 + CHUNK.index(second)
    a = answer("x [1] y [2]", (citation(1), citation(2, quote=second, start=start2, end=start2 + len(second))))
    html = sources.answer_sources(a, 1)
    assert html.count('class="rag-source"') == 1
    assert 'id="a1-source-1"' in html and 'id="a1-source-2"' in html
    assert html.count("<mark") == 2


def test_heading_lines_show_once_as_the_section() -> None:
    chunk = "Openness\nOpen models publish their weights.\n"
    c = citation(chunk_text=chunk, chunk_start=0, start=9, end=9 + len(QUOTE))
    html = sources.passage_html(sources.Passage([c]), 1)
    body = html.split('class="rag-chunk">')[1]
    assert "Openness" not in body and "§ Openness" in html


def test_highlight_escapes_source_text() -> None:
    chunk = 'Hi <script>window.__pwned = 1</script> and <img src=x onerror="window.__pwned=2"> end.'
    quote = "<script>window.__pwned = 1</script>"
    c = citation(chunk_text=chunk, chunk_start=0, quote=quote, start=3, end=3 + len(quote))
    out = sources.passage_html(sources.Passage([c]), 1)
    assert "<script>" not in out and "<img" not in out
    assert "<mark class=\"rag-quote\">&lt;script&gt;window.__pwned = 1&lt;/script&gt;</mark>" in out
    assert "&lt;img src=x onerror=&quot;window.__pwned=2&quot;&gt;" in out


def test_local_span_falls_back_to_searching_the_quote() -> None:
    assert sources.local_span(citation(start=0, end=5)) == (CHUNK.index(QUOTE), CHUNK.index(QUOTE) + len(QUOTE))
    assert sources.local_span(citation(chunk_text="")) is None
    alone = sources.passage_html(sources.Passage([citation(chunk_text="")]), 1)
    assert f'<mark class="rag-quote">{QUOTE}</mark>' in alone


def test_sources_panel_lists_each_citation_escaped_with_optional_scores() -> None:
    evil = citation(2, source="<b>x</b>.md", section="<i>s</i>", chunk_start=0)
    a = answer("x [1] y [2]", (citation(1), evil))
    html = sources.answer_sources(a, 1)
    assert 'id="a1-source-1"' in html and 'id="a1-source-2"' in html
    assert "&lt;b&gt;x&lt;/b&gt;.md" in html and "<b>" not in html and "<i>" not in html
    assert "similarity" not in html
    assert "retrieval similarity 0.812" in sources.answer_sources(a, 1, show_scores=True)


def test_a_pdf_citation_shows_its_page() -> None:
    html = sources.answer_sources(answer("x [1]", (citation(source="a.pdf", page=4),)), 1)
    assert '<span class="rag-page">page 4</span>' in html
    assert citation(page=4).to_json()["page"] == 4 and "page" not in citation().to_json()


def test_sources_panel_flags_unsupported_sentences() -> None:
    a = Answer("q?", "Made up <b>claim</b>. Weights are public. [1]", (citation(),), False,
               unsupported=("Made up <b>claim</b>.",))
    html = sources.answer_sources(a, 1)
    assert "Removed from the answer, since no source supports them" in html and "Made up &lt;b&gt;claim&lt;/b&gt;." in html
    assert "Not supported" not in sources.answer_sources(answer("x [1]", (citation(),)), 1)


def test_sources_panel_of_an_abstained_answer_says_so() -> None:
    html = sources.answer_sources(answer("not covered", abstained=True), 1)
    assert "rag-abstained" in html and "<mark" not in html


def test_the_panel_keeps_every_answer_the_latest_open() -> None:
    blocks = {1: ("first <q>?", "<p>one</p>"), 2: ("second", "<p>two</p>"), 3: ("stale", "<p>x</p>")}
    html = sources.panel(blocks, 2)
    assert html.index('id="a2-sources" open') < html.index('id="a1-sources"')
    assert 'id="a1-sources" open' not in html and "stale" not in html
    assert "first &lt;q&gt;?" in html
    assert sources.panel({}, 1) == sources.EMPTY_HTML


def test_the_viewer_shows_the_whole_text_escaped_with_the_span_marked() -> None:
    text = "# Doc\n\nSee <script>x()</script> here.\n"
    lo = text.index("<script>")
    html = sources.viewer_html("d.md", text, [(lo, lo + len("<script>x()</script>")), (-1, 5000)], "Doc", [2])
    assert '<mark class="rag-quote" id="viewer-mark">&lt;script&gt;x()&lt;/script&gt;</mark>' in html
    assert "<script>" not in html and "page 2" in html and html.count("<mark") == 1


def test_documents_rows_and_status_line() -> None:
    docs = [DocumentInfo("a.md", 3), DocumentInfo("b.txt", 4)]
    assert render.documents_rows(docs) == [["a.md", 3], ["b.txt", 4]]
    line = render.sync_status("2026-11-23T02:50:38+00:00", docs)
    assert line.startswith("2 documents, 7 passages, last synced 2026") and "02" in line
    assert render.sync_status("", []).endswith("never")


def test_the_page_names_the_answerer_and_how_to_get_the_llm() -> None:
    assert render.answerer_line("llm") == "Answers by the **llm** answerer\\."
    alone = render.answerer_info("extractive", ("extractive",), auto=True, no_model=True)
    assert "quoted" in alone and "rag models install qwen-1.5b" in alone and "RAG_LLM_BASE_URL" in alone
    assert "no language model is set up" in alone
    turned_off = render.answerer_info("extractive", ("extractive",), auto=True, no_model=False)
    assert "operator" in turned_off and "rag models install" not in turned_off
    offered = render.answerer_info("extractive", ("extractive", "llm"), auto=True, no_model=True)
    assert "rag models install qwen-1.5b" in offered
    by_default = render.answerer_info("llm", ("llm", "extractive"), auto=True)
    assert by_default.startswith("llm, the default (chosen: a language model")
    assert "extractive: the answer is sentences quoted" in by_default  # it stays true when extractive is chosen
    assert "rag models install" not in render.answerer_info("extractive", ("llm", "extractive"), auto=False)
    by_llm = Answer("q?", "x [1]", (citation(),), False, answerer="llm")
    assert '<div class="rag-answerer">Answerer: llm</div>' in sources.answer_sources(by_llm, 1)
    refused = Answer("q?", "not covered", (), True, answerer="extractive")
    assert "Answerer: extractive" in sources.answer_sources(refused, 1)
    assert "rag-answerer" not in sources.answer_sources(answer("x [1]", (citation(),)), 1)


@given(st.text(max_size=300))
def test_a_question_shows_as_the_text_it_is(question: str) -> None:
    shown = render.question_markdown(question)
    assert "<" not in shown and render.question_text(shown) == question
    assert render.question_text([{"type": "text", "text": shown}]) == question  # as Gradio sends it back


def test_a_long_question_is_shortened_at_the_head_of_its_sources() -> None:
    long = "Why? " * 1000
    panel = sources.panel({1: (long, sources.FAILED_HTML), 2: ("<b>short</b>", sources.FAILED_HTML)}, 2)
    assert long.strip() not in panel and len(panel) < 1000
    shown = re.search(r'id="a1-sources"><summary>Sources of answer 1: <q>(.*?)</q>', panel)
    assert shown and shown.group(1).endswith("…") and len(shown.group(1)) == sources.QUESTION_SHOWN
    assert "<q>&lt;b&gt;short&lt;/b&gt;</q>" in panel


def test_a_documents_title_is_its_first_heading_or_short_first_line_else_its_name() -> None:
    from ui.topics import document_titles, title_of, topics_markdown

    assert title_of("card.md", "---\nlicense: apache-2.0\n---\n\n# all-MiniLM-L6-v2\n\nA model.") == "all-MiniLM-L6-v2"
    assert title_of("a.txt", "\n   Apache License\n   Version 2.0\n") == "Apache License"
    assert title_of("notes/field-notes_2.txt", "This first line is a sentence, so it is no title.\n") == "field notes 2"
    assert title_of("x.txt", "A" * 81) == "x"
    chunks = [Chunk("b.md", "", "More text.", 40, 50), Chunk("b.md", "", "# Bees\n\nBees buzz.", 0, 18),
              Chunk("a.txt", "", "Ants\nAnts march.", 0, 16)]
    assert document_titles(chunks) == ["Ants", "Bees"]
    assert topics_markdown("", ["Ants", "Bees"]) == "**About:** Ants · Bees"
    assert topics_markdown("", [f"T{i}" for i in range(9)]).endswith("T5 and 3 more")
    assert topics_markdown("  Notes on *insects*\n", ["Ants"]) == "Notes on \\*insects\\*"  # the operator's line


def test_what_an_answer_does_before_its_words_is_said() -> None:
    from rag.types import Progress

    searching, reading = render.progress_markdown(Progress("searching")), render.progress_markdown(Progress("reading", 7))
    assert "Searching the knowledge base" in searching and render.unescape_markdown(reading).endswith("Reading 7 passages…*")
    assert reading.startswith(render.STATUS_PREFIX)
    assert sources.is_pending(sources.pending_html(Progress("reading", 1)))
    assert "Reading 1 passage…" in sources.pending_html(Progress("reading", 1))


def test_quotes_in_place_of_the_chosen_llm_answer_say_so() -> None:
    """The llm answerer's fallback (its reply unsupported, or no answer) gives the extractive
    answerer's quotes: the bubble says so, only then."""
    quotes = Answer("q?", f"{QUOTE} [1]", (citation(),), False, unsupported=("Penguins fly.",), answerer="extractive")
    md = render.render_answer(quotes, 1, asked="llm")
    assert md.startswith("ℹ️ *Quoted from the documents: the model's answer was not supported by them\\.*\n\n")
    assert md.endswith(render.render_answer(quotes, 1))  # the answer itself as always
    no_reply = Answer("q?", f"{QUOTE} [1]", (citation(),), False, answerer="extractive")
    assert "the model gave no answer from them" in render.render_answer(no_reply, 1, asked="llm")
    assert re.match(render.FALLBACK_PATTERN, md) and re.match(render.FALLBACK_PATTERN, render.render_answer(no_reply, 1, "llm"))
    by_llm = Answer("q?", f"{QUOTE} [1]", (citation(),), False, answerer="llm")
    refused = Answer("q?", "not covered", (), True, answerer="extractive")
    for shown in (render.render_answer(quotes, 1, asked="extractive"), render.render_answer(quotes, 1),
                  render.render_answer(by_llm, 1, asked="llm"), render.render_answer(refused, 1, asked="llm")):
        assert "Quoted from the documents" not in shown


def test_a_licence_passage_shows_its_paragraphs_without_the_files_hard_line_breaks() -> None:
    """A licence wraps its paragraphs at 70 columns; the panel shows each paragraph as one line
    (a space for each wrap), keeps the line breaks between paragraphs and of a list, and marks
    the quote by its exact offsets (round 12: a quote from the Apache licence showed its wraps)."""
    chunk = ("   2. Grant of Copyright License. Subject to the terms and conditions of\n"
             "      this License, each Contributor hereby grants to You a perpetual,\n"
             "      worldwide, non-exclusive, no-charge, royalty-free, irrevocable\n"
             "      copyright license to reproduce the Work.\n"
             "\n"
             "   Examples include:\n"
             "   - Commercial large language models and other proprietary systems\n"
             "   - Enterprise AI platforms sold by the big vendors of today's cloud\n")
    quote = ("Subject to the terms and conditions of\n      this License, each Contributor hereby grants to You "
             "a perpetual,\n      worldwide, non-exclusive, no-charge, royalty-free, irrevocable\n"
             "      copyright license to reproduce the Work.")
    start = 1000 + chunk.index(quote)
    c = citation(1, quote=quote, start=start, end=start + len(quote), chunk_text=chunk, section="", source="LICENSE.txt")
    out = sources.answer_sources(answer("x [1]", (c,)), 1)
    assert ("conditions of this License, each Contributor hereby grants to You a perpetual, worldwide, "
            "non-exclusive, no-charge, royalty-free, irrevocable copyright license to reproduce the Work.</mark>") in out
    assert "Work.</mark>\n\n   Examples include:\n   - Commercial" in out  # paragraphs and the list keep their lines
    assert "systems\n   - Enterprise" in out
    short = "Intro line.\nOpen models publish.\n"  # short lines are no wrapped paragraph
    assert sources.marked(short, [], joins=[]) == short
    from rag.shown import wrap_breaks
    assert wrap_breaks(short) == []
    code = "def f(x):\n    return x + 1  # a comment that is long enough to fill\nprint(f(1))\n"
    assert wrap_breaks(code) == []
    # Markdown shows any line break inside a paragraph as a space; not in code, lists or headings
    card = ("## Intended uses\n\nOur model is an encoder. Given a text, it outputs a vector which captures \n"
            "the semantic information.\n\n```python\nx = encode(text)\nprint(x)\n```\n- one item\n- two\n")
    md = citation(1, quote="Given a text", start=1000 + card.index("Given"), end=1000 + card.index("Given") + 12,
                  chunk_text=card, section="Intended uses", source="card.md")
    shown = sources.answer_sources(answer("x [1]", (md,)), 1)
    assert "captures the semantic information." in shown and "## Intended uses" not in shown
    assert "x = encode(text)\nprint(x)" in shown and "- one item\n- two" in shown


def test_a_paragraph_whose_first_line_is_indented_is_shown_as_one_line() -> None:
    """The GPL indents each paragraph's first line by two spaces over lines that start the line;
    the panel joins its wraps (round 13: read in the web chat, "that proxy's" / "public statement"
    kept the file's line breaks), while code that goes back to a shallower indentation stays."""
    from rag.shown import wrap_breaks
    gpl = ("  If the Program specifies that a proxy can decide which future\n"
           "versions of the GNU General Public License can be used, that proxy's\n"
           "public statement of acceptance of a version permanently authorizes you\n"
           "to choose that version for the Program.\n")
    joined = list(gpl)
    for s, e in reversed(wrap_breaks(gpl)):
        joined[s:e] = [" "]
    assert "".join(joined).count("\n") == 1, "".join(joined)
    code = ("Example of a call that is long enough:\n\n"
            "        x = compute(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)\n"
            "    y = other(aaaa, bbbb, cccc, dddd, eeee, ffff, gggg, hhhh, iii)\n")
    assert wrap_breaks(code) == []
