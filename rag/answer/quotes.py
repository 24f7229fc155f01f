"""An answer's quotes: the scored unit (`Candidate`), the quoted sentences in reading order
with their citations, grouped by the document they quote, and where a document's lead (its
introduction) is."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer.terms import redundant
from rag.shown import readable
from rag.types import Chunk, Citation, Hit


@dataclass(frozen=True)
class Candidate:
    hit_rank: int
    start: int  # offsets into the source text
    end: int
    text: str
    score: float  # what ranks the candidates: `relevance` weighed with its passage's similarity
    cosine: float
    coverage: float
    relevance: float  # the sentence's own match with the question (abstention reads it)
    paired: bool = False  # a unit with the next one in its paragraph (rag.answer.units.pairs_of)


# the most white space the splitter leaves out between two chunks (a blank line and an indent)
CHUNK_GAP = 8


def follows(first: Chunk, second: Chunk) -> bool:
    """Whether chunk `second` starts where `first` ends in their document, but for the white
    space the splitter leaves out between chunks (a paragraph break)."""
    return first.source == second.source and first.end <= second.start <= first.end + CHUNK_GAP


def adjacent(chunk_text: str, chunk_start: int, end: int, start: int) -> bool:
    """Whether a span starting at `start` follows one ending at `end` on the same line, with
    only spaces between (two sentences an answer shows under one citation)."""
    if start < end:
        return False
    gap = chunk_text[end - chunk_start : start - chunk_start]
    return 0 <= start - end <= 3 and not gap.strip() and "\n" not in gap


def just_before(a: Candidate, b: Candidate, first: Chunk, second: Chunk) -> bool:
    """Whether sentence `a` (of chunk `first`) ends where `b` (of `second`) starts, but for white
    space: in one chunk, or at the end of the chunk `second` follows. Across a paragraph break,
    only when `a` is its paragraph: the last sentence of a longer one ("Projects like Meta's Llama
    series ... are prominent examples.") is not what "Conversely, closed-source AI ..." turns from."""
    if a.end > b.start:
        return False
    if first.start == second.start:
        gap = first.text[a.end - first.start:b.start - first.start]
        if gap.strip():
            return False
        across = "\n" in gap
    elif a.end == first.end and b.start == second.start and follows(first, second):
        across = True  # (the splitter cuts between paragraphs)
    else:
        return False
    opening = first.text[:a.start - first.start]
    return not across or not opening.strip() or opening.rstrip(" \t").endswith("\n")


def with_sources(parts: list[tuple[str, str]]) -> str:
    """The answer's sentences, grouped by document in the order given; when they come from more
    than one document, each group starts with the document's path as its citations give it
    ("related/apache-license-2.0.txt"), so a reader sees which document says what."""
    groups: dict[str, list[str]] = {}
    for source, sentence in parts:
        groups.setdefault(source, []).append(sentence)
    if len(groups) == 1:
        return " ".join(next(iter(groups.values())))
    return "\n\n".join(f"{source}: " + " ".join(sents) for source, sents in groups.items())


def without_sources(text: str, sources: Sequence[str]) -> str:
    """An answer's text without the document names `with_sources` put before its groups."""
    names = "|".join(re.escape(s) for s in sorted(set(sources)))
    return re.sub(rf"(^|\n\n)(?:{names}): ", r"\1", text) if names else text


def quoted(chosen: list[Candidate], hits: Sequence[Hit]) -> tuple[str, tuple[Citation, ...]]:
    """The answer's text and citations for the chosen candidates (best first)."""
    # answer first, then readable: the documents by their best sentence; in each, its passages
    # by their best sentence (not as the retriever ranked them: a document's introduction is
    # often its top passage and would lead every answer), the sentences of a passage as they stand
    first: dict[str, int] = {}
    passage: dict[int, int] = {}
    for cand in chosen:  # best first
        first.setdefault(hits[cand.hit_rank].chunk.source, len(first))
        passage.setdefault(cand.hit_rank, len(passage))
    # (a passage whose quote ends it is read right before the passage it runs on into, when that
    # one's quote starts it: the text reads on, as the paragraph that a "Moreover, ..." sentence
    # goes on from, rag.answer.context.led_in; and "But this requirement does not apply if ..."
    # before the sentence after it, 2 dev answers about the GPL's Installation Information)
    order = {rank: float(i) for rank, i in passage.items()}
    ends = {(hits[c.hit_rank].chunk.source, c.end) for c in chosen if c.end == hits[c.hit_rank].chunk.end}
    for cand in chosen:
        chunk = hits[cand.hit_rank].chunk
        before = [r for r in passage if follows(hits[r].chunk, chunk) and (chunk.source, hits[r].chunk.end) in ends]
        if cand.start == chunk.start and before:
            order[before[0]] = order[cand.hit_rank] - 0.5
    chosen.sort(key=lambda c: (first[hits[c.hit_rank].chunk.source], order[c.hit_rank], c.start))
    citations: list[Citation] = []
    parts: list[tuple[str, str]] = []  # (source, shown sentence with its marker)
    for cand in chosen:
        hit = hits[cand.hit_rank]
        prev = citations[-1] if citations else None
        if prev and prev.chunk_start == hit.chunk.start and prev.source == hit.chunk.source and adjacent(hit.chunk.text, hit.chunk.start, prev.end, cand.start):
            # consecutive sentences of one passage share a citation
            quote = hit.chunk.text[prev.start - hit.chunk.start : cand.end - hit.chunk.start]
            citations[-1] = Citation(prev.marker, prev.source, prev.section, quote, prev.start,
                                     cand.end, max(prev.score, cand.score), prev.chunk_text,
                                     prev.chunk_start)
            parts[-1] = (parts[-1][0], f"{readable(quote)} [{prev.marker}]")
            continue
        marker = len(citations) + 1
        citations.append(Citation(marker, hit.chunk.source, hit.chunk.section, cand.text,
                                  cand.start, cand.end, cand.score, hit.chunk.text, hit.chunk.start))
        parts.append((hit.chunk.source, f"{readable(cand.text)} [{marker}]"))
    return with_sources(parts), tuple(citations)


# The titles of the parts of a document that introduce it ("Preamble" of the GPL, a manual's
# "Introduction"): like its first section, close to every question about the document and an
# answer to none of its specific ones. English words for such parts, written from no question set;
# their sentences get the scorer's lead_penalty. Dev (`python bench/followups.py --split dev`, with
# `--qa` of each conversation set; `python bench/run_suite.py --split dev`, with `--qa` of
# qa_fresh_related.jsonl): conversations all facts 9 -> 10 of 19, fresh related 6 -> 7 of 10 with
# its on-topic unanswerables refused 1 -> 2 of 2 (the GPL's Preamble had answered "In what year was
# the first GPL published?"), sqlite3-doc right entry 85 -> 92 %; old follow-up set 13 -> 12 of 16
# (its "Does it come with a warranty?" had been answered by the Preamble's "there is no warranty
# for this free software"; now by §14, defect noted); the other dev halves unchanged.
INTRODUCTIONS = re.compile(r"^\W*(preamble|introduction|foreword|prologue|overview|abstract)\W*$", re.I)


def leads(chunks: Sequence[Chunk]) -> dict[str, frozenset[str]]:
    """The section titles of each document's lead (its first section, and any part titled as
    an introduction), for documents of at least three sections: an article's introduction, near
    every question about its topic."""
    first: dict[str, tuple[int, str]] = {}
    titles: dict[str, set[str]] = {}
    for c in chunks:
        titles.setdefault(c.source, set()).add(c.section)
        if c.source not in first or c.start < first[c.source][0]:
            first[c.source] = (c.start, c.section)
    return {src: frozenset({sec} | {t for t in titles[src] if INTRODUCTIONS.match(t)})
            for src, (_start, sec) in first.items() if len(titles[src]) >= 3}


def in_lead(chunk: Chunk, leads: dict[str, frozenset[str]]) -> bool:
    return chunk.source in leads and (chunk.start == 0 or chunk.section in leads[chunk.source])


def clashes(cand: Candidate, chosen: list[Candidate], hits: Sequence[Hit]) -> bool:
    """Whether `cand` overlaps or repeats a chosen sentence."""
    source = hits[cand.hit_rank].chunk.source
    return any(overlaps(cand, c, source == hits[c.hit_rank].chunk.source) or redundant(cand.text, c.text)
               for c in chosen)


def overlaps(a: Candidate, b: Candidate, same_source: bool) -> bool:
    """Spans of one source that share characters (offsets of two sources never clash)."""
    return same_source and a.start < b.end and b.start < a.end


def quoted_in(cand: Candidate, said: str) -> bool:
    """Whether the previous answer, `said`, quoted the candidate sentence (as an answer shows it)."""
    return bool(said) and readable(cand.text) in said
