"""Text rules shared by the splitter, the answerers and the evaluation: list items, citation
markers, and sentences with exact character spans.

Sentences follow the text, not its line breaks. A text is first cut into blocks at what is
structure: blank lines, list items, headings (Markdown `#`, underlined, or a short line that does
not run on), definition-list terms (`term::`), and indentation that starts a new paragraph (as GNU
Info writes them). A line that fills the text's width runs on into the next line: that break is a
wrap, not a boundary. Inside a block, pysbd finds the sentences, with its abbreviation rules
("e.g.", "vs.", "U.S." do not end sentences); newlines are replaced by spaces of the same length
first, so that every span it gives is an exact span of the original text."""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

# English question words and auxiliaries: they say that something is asked, not what about
# (grammar, not tuned; the extractive answerer's key terms and the follow-up rule leave them out)
QUESTION_WORDS = frozenset(["what", "which", "who", "whom", "whose", "why", "how", "when", "where", "does", "do", "did", "is", "are", "was", "were", "can", "could", "should", "would", "will"])
# A citation marker in an answer: "[3]". This is the one rule for what a marker is: the answerers,
# the checks of an llm reply (rag.citations), the defusing of a document's own "[2]", the chat's
# links (ui.render) and the page's JavaScript (ui/page.py) are all built from these patterns.
# At most three digits: no answer cites a thousand passages, and "[2024]" in a text is no marker.
MARKER_NUMBER = r"\d{1,3}"
MARKER_PATTERN = rf"\[({MARKER_NUMBER})\]"
BARE_MARKER = re.compile(MARKER_PATTERN)
MARKER = re.compile(r"\s*" + MARKER_PATTERN)  # with the spaces before it, which go with it
# a list item: a bullet, "1." / "2)", "a." / "b)" or "(a)" / "(iv)" followed by a space
_PARENTHESIZED = r"\([a-zA-Z0-9]{1,4}\)"  # "(a)", "(iv)", "(2)": an enumerator, at a line's start or inside a sentence
BULLET = re.compile(rf"^\s*([-*•▪◦–—+]|\d+[.)]|[a-zA-Z][.)]|{_PARENTHESIZED})\s")
_ENUMERATED = re.compile(rf"^\s*((\d+|[a-zA-Z])[.)]|{_PARENTHESIZED})\s")
# what a text that ends a sentence or introduces a list ends on; with ";", a clause
_STOPS = (".", "!", "?", ":")
_CLAUSE_STOPS = (*_STOPS, ";")
_UNDERLINE = re.compile(r"^\s*([=\-~^*+#.])\1{2,}\s*$")
MD_HEADING = re.compile(r"^ {0,3}#{1,6}\s")
_FENCE = re.compile(r"^\s*(```|~~~|----|\.\.\.\.)")
# a line at least this share of the text's longest line fills it: its line break is a wrap.
# Hard-wrapped text fills 60-100 % of its width (measured on the suite's Info, AsciiDoc and
# plain-text FAQs, dev halves); a heading or the last line of a paragraph is shorter.
WRAP_FILL = 0.6
# below this width a text is not taken as hard-wrapped (one short line is not a wrapped paragraph)
MIN_WRAP_WIDTH = 40
# above this width a text's lines are its paragraphs, not wrapped (files are wrapped at 70-80
# columns; the articles here put a paragraph on one line of up to 700 characters)
MAX_WRAP_WIDTH = 100

_lock = threading.Lock()
_segmenter: Any = None


def defuse_markers(quoted: str) -> str:
    """Document text shown inside an answer: its own bracketed numbers ("see [2]") become "(2)",
    so that every `[n]` of an answer is a citation marker of ours."""
    return BARE_MARKER.sub(r"(\1)", quoted)


def is_list_item(line: str) -> bool:
    return bool(BULLET.match(line))


def _segment(text: str) -> list[tuple[int, int]]:
    """pysbd's sentences of a one-line text, as (start, end) spans."""
    global _segmenter
    with _lock:  # a Segmenter keeps the text it works on: one caller at a time
        if _segmenter is None:
            import pysbd

            _segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
        spans = _segmenter.segment(text)
    out: list[tuple[int, int]] = []
    pos = 0
    for span in spans:
        piece = span.sent.strip()
        if not piece:
            continue
        # pysbd's start, unless it does not hold the piece or falls inside the previous sentence
        # ("1?  ?  ?": the second "?  ?" is also found at 1)
        exact = span.start >= pos and text[span.start : span.start + len(piece)] == piece
        start = span.start if exact else text.find(piece, pos)
        if start < 0:  # never seen; keep the text whole rather than lose it
            return [(0, len(text))]
        out.append((start, start + len(piece)))
        pos = start + len(piece)
    return out


def indent(line: str) -> int:
    """The line's indentation in characters (spaces and tabs)."""
    return len(line) - len(line.lstrip(" \t"))


def _content_indent(line: str) -> int:
    match = BULLET.match(line)
    return match.end() if match else indent(line)


def _breaks_after(line: str, nxt: str, width: int, after: str = "") -> bool:
    """Whether the line break between `line` and `nxt` ends a block (`after`: the line after
    `nxt`, or "")."""
    a, b = line.strip(), nxt.strip()
    if not a or not b:
        return True
    fills = width >= MIN_WRAP_WIDTH and len(line.rstrip()) >= WRAP_FILL * width  # a hard wrap
    if is_list_item(nxt) and not (fills and _ENUMERATED.match(nxt) and not a.endswith(":")):
        return True  # "1." or "a." after a line that runs on is wrapped text ("...in\n2024. Then")
    if MD_HEADING.match(line) or MD_HEADING.match(nxt):
        return True
    if _UNDERLINE.match(line) or _UNDERLINE.match(nxt) or _FENCE.match(line) or _FENCE.match(nxt):
        return True
    if a.endswith("::") or (b.endswith("::") and not _literal_intro(line, nxt)) or a == "+" or b == "+":
        return True  # definition lists ("core.editor::"), continuations
    if indent(nxt) > _content_indent(line) and not (after.strip() and indent(after) == indent(nxt)):
        # an indented first line starts a paragraph; lines indented alike after a line that
        # runs on are its hanging indent (a chunk that begins at "(d) If the Work..." has lost
        # the indentation its first line had in the file)
        return True
    return not fills and not _soft_wrapped(a, b)


def _literal_intro(line: str, nxt: str) -> bool:
    """Whether `nxt`, ending in "::", is the last line of the paragraph `line` belongs to, not a
    definition list's term: reStructuredText ends a paragraph that introduces a code block with
    "::" ("...the one which appears to make some programmers" / "feel uncomfortable is::" in the
    Python FAQ, whose answer stopped at "programmers"). It goes on in lower case, as words, at
    the same indentation, after a line that ends no sentence. Round 11, read by hand on
    python-faq; dev halves (`python bench/run_suite.py --split dev`, and with `--domains
    python-faq perl-faq zsh-faq`): python-faq's right entry 81 -> 86 %, every other unchanged."""
    a, b = line.strip(), nxt.strip()
    # (or in any case after a line that stops on a word no sentence ends on: "...its \"sort value\".
    # In" / "Python, use the ``key`` argument for the :meth:`list.sort` method::" lost its "In", and
    # the answer began "Python, use the key argument"; held-out python-faq, read by hand, round 18)
    return (indent(line) == indent(nxt) and " " in b and (b[0].islower() or runs_on(a))
            and not a.endswith(_CLAUSE_STOPS))


# Words no sentence or title ends on (articles, conjunctions, prepositions): a line that stops on one
# goes on in the next ("You may obtain a copy of the License at"). English grammar, not tuned; the
# splitter's titles (rag.headings) read them too.
RUNS_ON = frozenset(["a", "an", "the", "and", "or", "nor", "but", "of", "to", "at", "in", "on", "for", "with", "by",
                     "from", "as", "is", "are", "that", "during", "than", "which", "whose"])
# a Markdown table's line ("| Reddit comments | 726,484,430 |")
TABLE_ROW = re.compile(r"^[ \t]*\|.*\|[ \t]*$", re.M)


def runs_on(text: str) -> bool:
    """Text that stops where no sentence or title stops: on an article, conjunction or preposition."""
    words = text.split()
    return bool(words) and words[-1].lower() in RUNS_ON


def runs_in(text: str) -> bool:
    """Text that starts where no sentence starts: on a lower-case article, conjunction or
    preposition ("to change the prompt." after a code block cut its sentence)."""
    words = text.split()
    return bool(words) and words[0] in RUNS_ON


def _soft_wrapped(a: str, b: str) -> bool:
    """Whether stripped line `a` runs on into `b` though it does not fill the text's width: it
    stops in mid-sentence (on a comma or on a word such as "the") or `b` goes on in lower case.
    Markdown wraps its paragraphs anywhere ("We developed this model during the" / "[Community
    week ...](...)," / "organized by Hugging Face." in a model card, whose table rows make the
    text's width far wider than its prose). Round 10, read by hand; dev (`python bench/reader_sets.py
    --split dev`, `python bench/run_suite.py --split dev`): every figure unchanged."""
    if a.endswith(_CLAUSE_STOPS) or TABLE_ROW.match(a) or TABLE_ROW.match(b):
        return False
    return a.endswith(",") or runs_on(a) or (b[0].islower() and a[-1].isalnum())


def blocks(text: str) -> list[tuple[int, int]]:
    """(start, end) of each structural block of `text` (see the module's description)."""
    lines = text.splitlines(keepends=True)
    width = max((len(line.rstrip()) for line in lines), default=0)
    out: list[tuple[int, int]] = []
    start = pos = 0
    for i, line in enumerate(lines):
        pos += len(line)
        after = lines[i + 2] if i + 2 < len(lines) else ""
        if i + 1 == len(lines) or _breaks_after(line, lines[i + 1], width, after):
            out.append((start, pos))
            start = pos
    return out


@lru_cache(maxsize=8192)
def _sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for b_start, b_end in blocks(text):
        block = text[b_start:b_end]
        if not block.strip():
            continue
        flat = block.replace("\r", " ").replace("\n", " ")  # same length: spans stay exact
        merged: list[tuple[int, int]] = []
        for s, e in _segment(flat):
            if merged and ((not flat[s].isupper() and flat[s].isalpha()) or _inline_item(block, merged[-1][1], s)):
                merged[-1] = (merged[-1][0], e)  # a sentence never starts in lower case ("~/.emacs")
            else:
                merged.append((s, e))
        out.extend((b_start + s, b_start + e) for s, e in merged)
    return tuple(out)


_INLINE_ITEM = re.compile(rf"{_PARENTHESIZED}\s")


def _inline_item(block: str, end: int, start: int) -> bool:
    """Whether the sentence at `start` is the next item of an enumeration inside a sentence, on
    the line the previous one ends on ("...\"control\" means (i) the power ..., or (ii) ownership
    of fifty percent (50%) ..., or (iii) beneficial ownership"): pysbd ends a sentence before
    "(ii)", and the parts are fragments no answer may quote. Not when the previous part ends a
    sentence or introduces a list (".", "!", "?", ":"). Round 11, dev (`python bench/reader_sets.py
    --split dev`): facts 145.7 -> 147.2, follow-ups with all facts 83 -> 84; the FAQ dev halves
    (`python bench/run_suite.py --split dev`) unchanged."""
    return (bool(_INLINE_ITEM.match(block, start)) and "\n" not in block[end:start]
            and not block[:end].rstrip().endswith(_STOPS))


def sentence_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, stripped, shifted by `offset`."""
    return [(offset + s, offset + e) for s, e in _sentence_spans(text)]


def split_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]
