"""The web chat's pure rendering helpers: Markdown answers with source links, escaped and
highlighted source passages, chat history back to turns."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from rag.types import Answer, Citation, DocumentInfo
from ui import render

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
    assert md.count("](#source-1)") == 1
    assert md.count("](#source-2)") == 1
    assert not md.startswith(render.ABSTAINED_BANNER)


def test_a_marker_without_a_citation_stays_text() -> None:
    md = render.answer_markdown("see [3] here [1]", markers=[1])
    assert "#source-3" not in md and "\\[3\\]" in md
    assert "](#source-1)" in md


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


@given(st.text(max_size=200), st.booleans())
def test_plain_text_inverts_the_markdown(text: str, abstained: bool) -> None:
    markers = sorted({int(n) for n in re.findall(r"\[(\d+)\]", text)})
    assert render.plain_text(render.answer_markdown(text, markers, abstained)) == text


def test_highlight_marks_the_quote_inside_its_chunk() -> None:
    out = render.highlight(citation())
    assert f'<mark class="rag-quote">{QUOTE}</mark>' in out
    before, after = out.split('<mark class="rag-quote">')
    assert before == "Intro line.\n"
    assert after.endswith("Closed models keep them secret.\n")


def test_highlight_escapes_source_text() -> None:
    chunk = 'Hi <script>window.__pwned = 1</script> and <img src=x onerror="window.__pwned=2"> end.'
    quote = "<script>window.__pwned = 1</script>"
    c = citation(chunk_text=chunk, chunk_start=0, quote=quote, start=3, end=3 + len(quote))
    out = render.highlight(c)
    assert "<script>" not in out and "<img" not in out
    assert "<mark class=\"rag-quote\">&lt;script&gt;window.__pwned = 1&lt;/script&gt;</mark>" in out
    assert "&lt;img src=x onerror=&quot;window.__pwned=2&quot;&gt;" in out


def test_highlight_falls_back_when_offsets_do_not_match() -> None:
    found = render.highlight(citation(start=0, end=5))  # offsets outside the chunk: search the quote
    assert f'<mark class="rag-quote">{QUOTE}</mark>' in found and found.startswith("Intro")
    alone = render.highlight(citation(chunk_text=""))
    assert alone == f'<mark class="rag-quote">{QUOTE}</mark>'


def test_sources_panel_lists_each_citation_escaped_with_optional_scores() -> None:
    evil = citation(2, source="<b>x</b>.md", section="<i>s</i>")
    a = answer("x [1] y [2]", (citation(1), evil))
    html = render.sources_html(a)
    assert 'id="source-1"' in html and 'id="source-2"' in html
    assert "&lt;b&gt;x&lt;/b&gt;.md" in html and "<b>" not in html and "<i>" not in html
    assert "score" not in html
    assert "score 0.812" in render.sources_html(a, show_scores=True)


def test_sources_panel_flags_unsupported_sentences() -> None:
    a = Answer("q?", "Made up <b>claim</b>. Weights are public. [1]", (citation(),), False,
               unsupported=("Made up <b>claim</b>.",))
    html = render.sources_html(a)
    assert "Not supported by any source" in html and "Made up &lt;b&gt;claim&lt;/b&gt;." in html
    assert "Not supported" not in render.sources_html(answer("x [1]", (citation(),)))


def test_sources_panel_of_an_abstained_answer_says_so() -> None:
    html = render.sources_html(answer("not covered", abstained=True))
    assert "rag-abstained" in html and "<mark" not in html


def test_history_turns_pair_questions_with_plain_answers() -> None:
    md = render.render_answer(answer("Weights are public. [1]", (citation(),)))
    messages = [
        {"role": "user", "content": "What is open?"},
        {"role": "assistant", "content": md},
        {"role": "user", "content": [{"type": "text", "text": "And closed?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Secret\\."}]},
    ]
    assert render.history_turns(messages) == [
        ("What is open?", "Weights are public. [1]"),
        ("And closed?", "Secret."),
    ]


def test_documents_rows_and_status_line() -> None:
    docs = [DocumentInfo("a.md", 3), DocumentInfo("b.txt", 4)]
    assert render.documents_rows(docs) == [["a.md", 3], ["b.txt", 4]]
    line = render.sync_status("2026-11-23T02:50:38+00:00", docs)
    assert line.startswith("2 documents, 7 chunks") and "2026" in line and "02" in line
    assert render.sync_status("", []).endswith("never")
