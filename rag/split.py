"""Documents -> Chunks that follow the document's structure, with exact character offsets:
`document.text[chunk.start:chunk.end] == chunk.text` for every chunk."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.headings import ClosedTitles, is_plain_heading, is_version_line, labelled_title, numbered_title
from rag.types import Chunk, Document

_NONBLANK = re.compile(r"\S")
_MD_NEWLINE = re.compile(r"\r\n?|\n")
# A section title longer than this is cut: every chunk of the section carries its title (a bound,
# not tuned: the articles' longest heading has 66 characters; tests/test_split.py).
MAX_TITLE = 200
_SENTENCE_END = (".", "!", "?", ":", '"', "'", "”", "’", ")")


def find_headings(doc: Document) -> list[tuple[int, str]]:
    """(offset of the heading line, title) for every heading of the document, in one pass."""
    if doc.headings:
        return [(start, _title(title)) for start, _end, title in doc.headings]
    if doc.source.lower().endswith((".md", ".markdown")):
        return markdown_headings(doc.text)
    lines = doc.text.splitlines(keepends=True)
    width = wrap_width(lines)
    headings: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None  # a heading line waiting for a non-blank line after it
    blank_after = False  # a blank line came between the pending heading and this line
    previous = ""  # the last non-blank line, when it was not a heading candidate
    closed = ClosedTitles()
    offset = 0
    for line in lines:
        stripped = line.strip()
        if not stripped:
            blank_after = True
        else:
            if pending is not None and not (not blank_after and _continues(pending[1], stripped, width)):
                headings.append(pending)
            # a line right under one that has not ended its sentence carries that sentence on
            # ("...any other recipients of the Work or" / "Derivative Works a copy of this License; and")
            carried = not blank_after and bool(previous) and not previous.endswith(_SENTENCE_END)
            numbered = numbered_title(line) or ("" if carried else labelled_title(line))
            if numbered:
                headings.append((offset, _title(numbered)))
                pending = None
            elif closed.closes(stripped, headings):
                # the closed section ends with this line; what follows has no title until the next heading
                headings.append((offset + len(line), ""))
                pending = None
            else:
                titled = is_plain_heading(line) and not carried and not is_version_line(stripped)
                pending = (offset, _title(stripped)) if titled else None
            previous = "" if numbered or pending else stripped
            blank_after = False
        offset += len(line)
    return headings


# Hard-wrapped text (Info manuals, RFCs, license files, mail) breaks its paragraphs into lines of
# about the same width; a line that fills most of that width and runs straight on into the next
# line is a wrapped line, not a heading. Both constants were chosen by reading the GPL-3.0 and
# Apache-2.0 texts in corpus/related/ and Debian's FAQ (lines wrapped at 70-79 characters), and
# checked on the development suite's Info and AsciiDoc FAQs (bench/make_suite.py).
WRAPPED_WIDTH = 100  # the longest 10 % of lines are at most this long: the text is hard-wrapped
WRAPPED_SHARE = 0.75  # a line this share of the wrap width or longer is part of a paragraph
WRAP_PERCENTILE = 0.9  # the line length that stands for the wrap width ("the longest 10 %")
WRAP_MIN_LINES = 10  # fewer non-blank lines say nothing about wrapping


def wrap_width(lines: list[str]) -> int | None:
    """The width a hard-wrapped text is wrapped at (the 90th percentile of its line lengths), or
    None when its lines are paragraphs of their own."""
    lengths = sorted(len(line.rstrip()) for line in lines if line.strip())
    if len(lengths) < WRAP_MIN_LINES:
        return None
    width = lengths[int(WRAP_PERCENTILE * (len(lengths) - 1))]
    return width if width <= WRAPPED_WIDTH else None


def _continues(title: str, next_line: str, width: int | None) -> bool:
    """Whether the line after a heading candidate, with no blank line between, carries on the
    candidate's sentence: it starts in lower case, or the text is wrapped and the candidate
    fills most of the wrap width."""
    if next_line[0].islower():
        return True
    return width is not None and len(title) >= WRAPPED_SHARE * width


def markdown_headings(text: str) -> list[tuple[int, str]]:
    """Top-level ATX and setext headings found by markdown-it (CommonMark, no backtracking);
    the offset is where the heading's first line starts."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark")
    md.disable("inline")  # block structure only: titles stay as written, and it stays linear
    tokens = md.parse(text)
    # markdown-it counts lines split at \r\n, \r and \n (its normalize step); so do these offsets
    starts = [0, *(m.end() for m in _MD_NEWLINE.finditer(text))]
    return [
        (starts[tok.map[0]], _title(tokens[i + 1].content))
        for i, tok in enumerate(tokens)
        if tok.type == "heading_open" and tok.level == 0 and tok.map and tokens[i + 1].content.strip()
    ]


def _title(text: str) -> str:
    title = " ".join(text.split())
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1].rstrip() + "…"


def sections(doc: Document) -> list[tuple[int, int, str]]:
    """(start, end, title) spans covering the text; a heading with no body joins the next."""
    heads = find_headings(doc)
    bounds = [(0, ""), *heads] if not heads or heads[0][0] > 0 else heads
    spans: list[tuple[int, int, str]] = []
    for i, (start, title) in enumerate(bounds):
        end = bounds[i + 1][0] if i + 1 < len(bounds) else len(doc.text)
        spans.append((start, end, title))
    merged: list[tuple[int, int, str]] = []
    pending: int | None = None  # start of heading-only sections waiting for a body
    for start, end, title in spans:
        body = doc.text[start:end].strip()
        if (title and body == title.strip()) or (title and _only_heading_line(doc.text[start:end])):
            pending = start if pending is None else pending
            continue
        if not body and not title:
            continue
        merged.append((pending if pending is not None else start, end, title))
        pending = None
    if pending is not None:
        if merged:
            s, _e, t = merged[-1]
            merged[-1] = (s, len(doc.text), t)
        else:
            merged.append((pending, len(doc.text), bounds[-1][1]))
    return merged


def _only_heading_line(text: str) -> bool:
    return len([line for line in text.splitlines() if line.strip()]) <= 1


def split_document(
    doc: Document, chunk_size: int = 800, chunk_overlap: int = 100, *, merge_small: bool = False
) -> list[Chunk]:
    """The chunks of `doc`, one section at a time; `merge_small` first joins neighbouring
    sections that fit in one chunk together (under the first one's title)."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
        keep_separator="end",
    )
    chunks: list[Chunk] = []
    spans = sections(doc)
    if merge_small:
        spans = _merged(spans, chunk_size)
    for start, end, title in (
        (lo, hi, title) for s, e, title in spans for lo, hi in _between_long_blanks(doc.text, s, e, chunk_size)
    ):
        body = doc.text[start:end]
        if len(body.strip()) <= chunk_size:
            pieces = [(body.strip(), body.find(body.strip()))]
        else:
            pieces = _locate(body, splitter.split_text(body))
        for text, rel in pieces:
            if not text.strip() or rel < 0:
                continue
            chunk = Chunk(doc.source, title, text, start + rel, start + rel + len(text))
            assert doc.text[chunk.start : chunk.end] == chunk.text
            chunks.append(chunk)
    return chunks


def _locate(body: str, texts: list[str]) -> list[tuple[str, int]]:
    """(chunk, where it starts in `body`). LangChain's start_index guesses from the overlap and
    can name an earlier copy of a repeated text, leaving the real one unindexed. The chunks come
    in order with only blanks between them, so each one here is the last copy that starts no
    later than the first non-blank after what the chunks before it cover."""
    located: list[tuple[str, int]] = []
    covered = 0
    for text in texts:
        nonblank = _NONBLANK.search(body, covered)
        upper = nonblank.start() if nonblank else len(body)
        rel = body.rfind(text, 0, upper + len(text))
        if rel < 0:
            rel = body.find(text, covered)
        if rel >= 0:
            located.append((text, rel))
            covered = max(covered, rel + len(text))
    return located


# Runs of blanks that LangChain's splitter takes one or two characters at a time, each step
# O(chunk_size) (64 K spaces in one line: 0.2 s); str.find looks for them at C speed first.
_BLANK_RUNS = (" " * 64, "\t" * 64, "\n" * 64, "\r\n" * 32, " \n" * 32)


def _between_long_blanks(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """(start, end) of the parts of text[start:end] between runs of `size` or more blanks: no
    chunk can hold such a run (chunks are stripped and at most `size` long)."""
    body = text[start:end]
    if len(body) <= size or not any(run in body for run in _BLANK_RUNS):
        return [(start, end)]
    bounds = [start]
    for match in re.finditer(rf"(?<!\s)\s{{{size},}}", body):  # one scan: only a run's start tries
        bounds += [start + match.start(), start + match.end()]
    bounds.append(end)
    return [(lo, hi) for lo, hi in zip(bounds[::2], bounds[1::2], strict=True) if lo < hi]


def _merged(spans: list[tuple[int, int, str]], size: int) -> list[tuple[int, int, str]]:
    """Neighbouring sections joined while together they fit in one chunk."""
    merged: list[tuple[int, int, str]] = []
    for start, end, title in spans:
        if merged and end - merged[-1][0] <= size:
            merged[-1] = (merged[-1][0], end, merged[-1][2])
        else:
            merged.append((start, end, title))
    return merged


# The most chunks one document is indexed in. The biggest documents of the development data make
# 372 (Emacs' efaq, 229 K characters), 314 (Debian's FAQ) and 66 (corpus/related/gnu-gpl-3.0.txt)
# chunks; this is five times the biggest, ~1.1 M characters of prose (~550 pages), which
# all-MiniLM-L6-v2 embeds once in about 80 s here (~26 chunks/s). A document over it is first split
# again with its small neighbouring sections joined (a text of 25 K heading-and-sentence pairs
# made 25 K chunks, issue 21); what is still over it is left out and the sync report says so.
# Re-measure the biggest documents: python bench/sync_speed.py --chunks-per-document corpus DIR...
MAX_CHUNKS = 2_000


def chunk_document(doc: Document, chunk_size: int, chunk_overlap: int) -> tuple[list[Chunk], str]:
    """The chunks a sync indexes of `doc`, and why some of it is left out ("" when none is):
    a text that repeats within the document is kept once (a thousand copies of a paragraph
    make a thousand identical vectors, which Chroma's search cannot tell apart), and at most
    MAX_CHUNKS chunks."""
    chunks = split_document(doc, chunk_size, chunk_overlap)
    if len(chunks) > MAX_CHUNKS:
        chunks = split_document(doc, chunk_size, chunk_overlap, merge_small=True)
    unique: list[Chunk] = []
    seen: set[str] = set()
    for c in chunks:
        if c.text not in seen:
            seen.add(c.text)
            unique.append(c)
    if len(unique) <= MAX_CHUNKS:
        return unique, ""
    kept = unique[:MAX_CHUNKS]
    return kept, (
        f"indexed in part: its first {MAX_CHUNKS:,} chunks (to character {kept[-1].end:,} of "
        f"{len(doc.text):,}); the rest is over the budget of {MAX_CHUNKS:,} chunks a document"
    )


def split_all(docs: Iterable[Document], chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    return [c for d in docs for c in split_document(d, chunk_size, chunk_overlap)]
