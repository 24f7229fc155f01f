"""What the knowledge base is about, for the page header: the line the operator set
(RAG_KB_DESCRIPTION), else its documents' titles, each its first heading or first short line,
or failing that its file name."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

from rag.types import Chunk
from ui.render import escape_markdown

# the header names this many documents, then "and N more": about two lines at 1280 px
MAX_TITLES = 6
# a first line longer than this is a sentence, not a title (the corpus's titles: 14-60 characters)
MAX_TITLE_CHARS = 80
_MD_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)


def title_of(source: str, text: str) -> str:
    """A document's title from the beginning of its text: its first Markdown heading, else its
    first line when that is short and does not end like a sentence, else its file name."""
    text = _FRONT_MATTER.sub("", text)
    heading = _MD_HEADING.search(text)
    if heading:
        return heading.group(1).strip()
    for line in text.splitlines():
        line = " ".join(line.split())
        if not line:
            continue
        if len(line) <= MAX_TITLE_CHARS and any(ch.isalpha() for ch in line) and line[-1] not in ".,;:":
            return line
        break
    return PurePosixPath(source).stem.replace("-", " ").replace("_", " ")


def document_titles(chunks: Iterable[Chunk]) -> list[str]:
    """The title of each indexed document, in the order of its file name, from the text of its
    first three chunks."""
    firsts: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        firsts.setdefault(chunk.source, []).append(chunk)
    titles = []
    for source in sorted(firsts):
        start = sorted(firsts[source], key=lambda c: c.start)[:3]
        titles.append(title_of(source, "\n".join(c.text for c in start)))
    return list(dict.fromkeys(titles))


def topics_markdown(description: str, titles: Sequence[str]) -> str:
    """The header's first line: the operator's description, or "About:" the documents' titles."""
    if description.strip():
        return escape_markdown(" ".join(description.split()))
    if not titles:
        return "No documents yet: add some in the **Documents** tab."
    shown = " · ".join(escape_markdown(t) for t in titles[:MAX_TITLES])
    more = len(titles) - MAX_TITLES
    return f"**About:** {shown}" + (f" and {more} more" if more > 0 else "")
