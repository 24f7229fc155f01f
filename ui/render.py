"""Pure rendering helpers for the web chat: an Answer to Markdown with `[n]` links, the
sources panel as HTML with the quoted span highlighted, and chat history back to turns.

Everything that comes from a document is escaped: source text is shown as the text it is,
never interpreted as HTML or Markdown."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rag.types import Answer, Citation, DocumentInfo

ABSTAINED_BANNER = "> ⚠️ **Not answered from the knowledge base**\n>\n"
SEARCHING_HTML = '<div class="rag-sources rag-pending">Searching the knowledge base…</div>'
EMPTY_SOURCES_HTML = '<div class="rag-sources rag-empty">Sources of the latest answer show here.</div>'

# ASCII punctuation Markdown may act on; `&`, `<` and `>` are turned into entities instead
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$=])")
_MARKER = re.compile(r"\[(\d+)\]")
_LINK = re.compile(r"\[\\\[(\d+)\\\]\]\(#source-\d+\)")
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)


def anchor(marker: int) -> str:
    """The HTML id of the sources-panel entry for a citation marker."""
    return f"source-{marker}"


def escape_markdown(text: str) -> str:
    """`text` as Markdown that renders as exactly that text."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", text), quote=False)


def unescape_markdown(markdown: str) -> str:
    """The inverse of `escape_markdown`."""
    return _UNESCAPE.sub(r"\1", html.unescape(markdown))


def answer_markdown(text: str, markers: Sequence[int] = (), abstained: bool = False) -> str:
    """Answer text as Markdown: the text escaped, each `[n]` in `markers` a link to its source
    entry; an abstained answer as a quoted block under a warning banner."""
    known = set(markers)
    parts: list[str] = []
    pos = 0
    for m in _MARKER.finditer(text):
        n = int(m.group(1))
        if n not in known:
            continue
        parts.append(escape_markdown(text[pos : m.start()]))
        parts.append(f"[\\[{n}\\]](#{anchor(n)})")
        pos = m.end()
    parts.append(escape_markdown(text[pos:]))
    body = "".join(parts)
    if abstained:
        return ABSTAINED_BANNER + "\n".join(f"> {line}" for line in body.split("\n"))
    return body


def render_answer(answer: Answer) -> str:
    return answer_markdown(answer.text, [c.marker for c in answer.citations], answer.abstained)


def plain_text(markdown: str) -> str:
    """The answer text back from `answer_markdown`'s output (for the conversation history)."""
    if markdown.startswith(ABSTAINED_BANNER):
        lines = markdown[len(ABSTAINED_BANNER) :].split("\n")
        markdown = "\n".join(line[2:] if line.startswith("> ") else line for line in lines)
    parts: list[str] = []
    pos = 0
    for m in _LINK.finditer(markdown):
        parts.append(unescape_markdown(markdown[pos : m.start()]))
        parts.append(f"[{m.group(1)}]")
        pos = m.end()
    parts.append(unescape_markdown(markdown[pos:]))
    return "".join(parts)


def highlight(citation: Citation) -> str:
    """The citation's chunk as HTML text with the quoted span inside `<mark>`."""
    chunk = citation.chunk_text
    lo, hi = citation.start - citation.chunk_start, citation.end - citation.chunk_start
    if not chunk or not (0 <= lo <= hi <= len(chunk)) or chunk[lo:hi] != citation.quote:
        found = chunk.find(citation.quote) if chunk and citation.quote else -1
        if found < 0:
            return f'<mark class="rag-quote">{html.escape(citation.quote)}</mark>'
        lo, hi = found, found + len(citation.quote)
    return (
        f"{html.escape(chunk[:lo])}<mark class=\"rag-quote\">{html.escape(chunk[lo:hi])}</mark>"
        f"{html.escape(chunk[hi:])}"
    )


def source_entry(citation: Citation, show_scores: bool = False) -> str:
    head = [
        f'<span class="rag-marker">[{citation.marker}]</span>',
        f'<span class="rag-file">{html.escape(citation.source)}</span>',
    ]
    if citation.section:
        head.append(f'<span class="rag-section">§ {html.escape(citation.section)}</span>')
    if show_scores:
        head.append(f'<span class="rag-score">score {citation.score:.3f}</span>')
    return (
        f'<div class="rag-source" id="{anchor(citation.marker)}">'
        f'<div class="rag-source-head">{" ".join(head)}</div>'
        f'<div class="rag-chunk">{highlight(citation)}</div></div>'
    )


def sources_html(answer: Answer, show_scores: bool = False) -> str:
    """The sources panel for one answer."""
    if answer.abstained or not answer.citations:
        return (
            '<div class="rag-sources rag-abstained">No sources: the knowledge base has no '
            "passage that answers this question.</div>"
        )
    entries = "".join(source_entry(c, show_scores) for c in answer.citations)
    if answer.unsupported:
        items = "".join(f"<li>{html.escape(s)}</li>" for s in answer.unsupported)
        entries += f'<div class="rag-unsupported">Not supported by any source:<ul>{items}</ul></div>'
    timing = ""
    if show_scores and answer.timings_ms:
        total = answer.timings_ms.get("total", 0.0)
        timing = f'<div class="rag-timing">answered in {total:.0f} ms</div>'
    return f'<div class="rag-sources"><h3>Sources</h3>{entries}{timing}</div>'


def documents_rows(documents: Sequence[DocumentInfo]) -> list[list[Any]]:
    return [[d.source, d.chunks] for d in documents]


def sync_status(last_sync: str, documents: Sequence[DocumentInfo]) -> str:
    """One Markdown line under the documents table."""
    chunks = sum(d.chunks for d in documents)
    when = escape_markdown(_readable_time(last_sync)) if last_sync else "never"
    return f"{len(documents)} documents, {chunks} chunks · last sync: {when}"


def _readable_time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except ValueError:
        return iso


def message_text(content: Any) -> str:
    """The text of a Gradio chat message's content: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", "")) if content.get("type", "text") == "text" else ""
    if isinstance(content, (list, tuple)):
        return "".join(message_text(part) for part in content)
    return ""


def history_turns(messages: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """Gradio's messages (role/content dicts) as (question, answer text) turns."""
    turns: list[tuple[str, str]] = []
    question: str | None = None
    for message in messages:
        role, text = message.get("role"), message_text(message.get("content"))
        if role == "user":
            question = text
        elif role == "assistant" and question is not None:
            turns.append((question, plain_text(text)))
            question = None
    return turns
