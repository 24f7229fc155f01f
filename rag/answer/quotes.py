"""An answer's quotes: the scored unit (`Candidate`), the quoted sentences in reading order
with their citations, and where a document's lead (its introduction) is."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer.units import adjacent, with_sources
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
    chosen.sort(key=lambda c: (first[hits[c.hit_rank].chunk.source], passage[c.hit_rank], c.start))
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
