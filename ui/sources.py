"""The sources panel and the document viewer as HTML: each answer's passages with the quoted
spans highlighted (one entry per passage, however many markers cite it), and a whole document
scrolled to a cited span. All document text is escaped."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass

from rag.shown import MD_HEADING_MARK, wrap_breaks
from rag.types import Answer, Citation, Progress
from ui.render import anchor, progress_text

SEARCHING_HTML = '<div class="rag-answer-sources rag-pending">Searching the knowledge base…</div>'
EMPTY_HTML = '<div class="rag-sources rag-empty">Each answer\'s sources show here.</div>'
STOPPED_HTML = '<div class="rag-answer-sources rag-stopped">Stopped before the answer was complete.</div>'
FAILED_HTML = '<div class="rag-answer-sources rag-failed">No sources: the answer failed.</div>'

Span = tuple[int, int]
QUESTION_SHOWN = 200  # characters of a question shown at the head of its sources


def pending_html(progress: Progress) -> str:
    """The panel while an answer is on its way: searching, then reading N passages."""
    return f'<div class="rag-answer-sources rag-pending">{html.escape(progress_text(progress))}</div>'


def is_pending(block: str) -> bool:
    """True for the panel block of an answer still on its way (never finished if it stays)."""
    return 'class="rag-answer-sources rag-pending"' in block


def marked(text: str, spans: Sequence[Span], drop: Sequence[Span] = (), first_id: str = "",
           joins: Sequence[Span] = ()) -> str:
    """`text` as HTML with each span in `<mark>` and the `drop` ranges left out; the spans are
    sorted, and overlapping ones merged, first; the first mark gets the id `first_id`. Each
    `joins` range (a paragraph's hard line break, rag.shown.wrap_breaks) shows as one space."""

    def shown(lo: int, hi: int) -> str:
        out, pos = [], lo
        for a, b in joins:
            if lo <= a and b <= hi:
                out += [html.escape(text[pos:a]), " "]
                pos = b
        return "".join(out) + html.escape(text[pos:hi])

    merged: list[list[int]] = []
    for lo, hi in sorted((max(0, lo), min(len(text), hi)) for lo, hi in spans):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        elif lo < hi:
            merged.append([lo, hi])
    events = sorted([(lo, hi, "mark") for lo, hi in merged] + [(lo, hi, "drop") for lo, hi in drop])
    out: list[str] = []
    pos = 0
    for lo, hi, kind in events:
        if lo < pos:
            continue  # a drop range inside a mark (never made by `heading_lines`)
        out.append(shown(pos, lo))
        if kind == "mark":
            ident = f' id="{first_id}"' if first_id else ""
            first_id = ""
            out.append(f'<mark class="rag-quote"{ident}>{shown(lo, hi)}</mark>')
        pos = hi
    out.append(shown(pos, len(text)))
    return "".join(out)


def local_span(citation: Citation) -> Span | None:
    """Where the citation's quote lies inside its chunk text (by offsets, else by search)."""
    chunk = citation.chunk_text
    lo, hi = citation.start - citation.chunk_start, citation.end - citation.chunk_start
    if chunk and 0 <= lo <= hi <= len(chunk) and chunk[lo:hi] == citation.quote:
        return lo, hi
    found = chunk.find(citation.quote) if chunk and citation.quote else -1
    return (found, found + len(citation.quote)) if found >= 0 else None


def heading_lines(text: str, section: str, keep: Sequence[Span]) -> list[Span]:
    """The lines of `text` that only repeat the section title (with their line break), outside
    the `keep` spans: the panel shows the title once, in the entry's head."""
    title = section.strip()
    if not title:
        return []
    found, pos = [], 0
    for line in text.splitlines(keepends=True):
        lo, hi = pos, pos + len(line)
        pos = hi
        # (a Markdown heading with its marks: "## Intended uses")
        if title in (line.strip(), MD_HEADING_MARK.sub("", line).strip()) and not any(a < hi and lo < b for a, b in keep):
            found.append((lo, hi))
    return found


@dataclass
class Passage:
    """One chunk cited by one or more markers of an answer."""

    citations: list[Citation]

    @property
    def first(self) -> Citation:
        return self.citations[0]


def passages(citations: Sequence[Citation]) -> list[Passage]:
    """Citations grouped by the chunk they quote, in the order of their first marker."""
    groups: dict[tuple[str, int, str], Passage] = {}
    for c in citations:
        key = (c.source, c.chunk_start, c.chunk_text or c.quote)
        groups.setdefault(key, Passage([])).citations.append(c)
    return list(groups.values())


def _open_link(passage: Passage) -> str:
    """The file name, a link the page's script turns into "open the document at these spans"."""
    c = passage.first
    data = {"source": c.source, "section": c.section,
            "spans": [[x.start, x.end] for x in passage.citations],
            "pages": sorted({x.page for x in passage.citations if x.page is not None})}
    return (f'<a class="rag-file" href="#viewer" title="Open the whole document at this passage" '
            f'data-open="{html.escape(json.dumps(data), quote=True)}">{html.escape(c.source)}</a>')


def pages_label(pages: Sequence[int]) -> str:
    if not pages:
        return ""
    return f"page {pages[0]}" if len(pages) == 1 else "pages " + ", ".join(str(p) for p in pages)


def passage_html(passage: Passage, turn: int, show_scores: bool = False) -> str:
    c = passage.first
    ids = "".join(f'<span class="rag-marker" id="{anchor(turn, x.marker)}">[{x.marker}]</span>'
                  for x in passage.citations)
    head = [ids, _open_link(passage)]
    if c.section:
        head.append(f'<span class="rag-section">§ {html.escape(c.section)}</span>')
    pages = pages_label(sorted({x.page for x in passage.citations if x.page is not None}))
    if pages:
        head.append(f'<span class="rag-page">{pages}</span>')
    if show_scores:
        best = max(x.score for x in passage.citations)
        head.append(f'<span class="rag-score" title="how close the passage came in retrieval, not a '
                    f'measure of truth">retrieval similarity {best:.3f}</span>')
    if c.chunk_text:
        spans = [s for s in (local_span(x) for x in passage.citations) if s]
        # (shown as a reader reads it: a licence's 70-column lines joined, the offsets unchanged)
        body = marked(c.chunk_text, spans, heading_lines(c.chunk_text, c.section, spans),
                      joins=wrap_breaks(c.chunk_text, markdown=c.source.lower().endswith((".md", ".markdown"))))
        missing = [x for x in passage.citations if local_span(x) is None]
        body += "".join(f'\n…<mark class="rag-quote">{html.escape(x.quote)}</mark>' for x in missing)
    else:
        body = "".join(f'<mark class="rag-quote">{html.escape(x.quote)}</mark> ' for x in passage.citations)
    return (f'<div class="rag-source"><div class="rag-source-head">{" ".join(head)}</div>'
            f'<div class="rag-chunk">{body.strip()}</div></div>')


def answer_sources(answer: Answer, turn: int, show_scores: bool = False) -> str:
    """The sources block of one answer (`turn` counts the chat's replies from 1)."""
    by = (f'<div class="rag-answerer">Answerer: {html.escape(answer.answerer)}</div>'
          if answer.answerer else "")
    if answer.abstained or not answer.citations:
        return ('<div class="rag-answer-sources rag-abstained">No sources: the knowledge base has '
                f"no passage that answers this question.{by}</div>")
    entries = "".join(passage_html(p, turn, show_scores) for p in passages(answer.citations))
    if answer.unsupported:
        items = "".join(f"<li>{html.escape(s)}</li>" for s in answer.unsupported)
        entries += f'<div class="rag-unsupported">Removed from the answer, since no source supports them:<ul>{items}</ul></div>'
    if show_scores and answer.timings_ms:
        entries += f'<div class="rag-timing">answered in {answer.timings_ms.get("total", 0.0):.0f} ms</div>'
    return f'<div class="rag-answer-sources">{entries}{by}</div>'


def panel(blocks: dict[int, tuple[str, str]], latest: int) -> str:
    """The sources panel: the blocks of answers 1..latest, as (question, block html) by turn;
    the latest answer's open, the earlier ones folded (a click on their `[n]` unfolds them)."""
    shown = sorted((t for t in blocks if t <= latest), reverse=True)
    if not shown:
        return EMPTY_HTML
    parts = []
    for t in shown:
        question, block = blocks[t]
        if len(question) > QUESTION_SHOWN:
            question = question[: QUESTION_SHOWN - 1].rstrip() + "…"
        parts.append(f'<details class="rag-turn" id="a{t}-sources"{" open" if t == shown[0] else ""}>'
                     f'<summary>Sources of answer {t}: <q>{html.escape(question)}</q></summary>{block}</details>')
    return f'<div class="rag-sources"><h3>Sources</h3>{"".join(parts)}</div>'


def viewer_message(source: str, message: str) -> str:
    """The document viewer when a source's document cannot be shown: its name and why."""
    return (f'<div class="rag-viewer"><div class="rag-viewer-head"><span class="rag-file">{html.escape(source)}</span>'
            f'<button class="rag-close" type="button" title="Close">✕ Close</button></div>'
            f'<div class="rag-viewer-note">{html.escape(source or "This document")} {html.escape(message)}</div></div>')


def viewer_html(source: str, text: str, spans: Sequence[Span], section: str = "", pages: Sequence[int] = ()) -> str:
    """The whole document as text, the cited spans highlighted; the first has id `viewer-mark`."""
    good = [(lo, hi) for lo, hi in spans if 0 <= lo < hi <= len(text)]
    head = [f'<span class="rag-file">{html.escape(source)}</span>']
    if section:
        head.append(f'<span class="rag-section">§ {html.escape(section)}</span>')
    if pages:
        head.append(f'<span class="rag-page">{pages_label(pages)}</span>')
    return (f'<div class="rag-viewer"><div class="rag-viewer-head">{" ".join(head)}'
            f'<button class="rag-close" type="button" title="Close the document">✕ Close</button></div>'
            f'<pre class="rag-doc">{marked(text, good, first_id="viewer-mark")}</pre></div>')
