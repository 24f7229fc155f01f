"""Checking an LLM's reply against the passages it was given: markers that point to no
passage are removed, the rest renumbered 1..n, a sentence without a marker gets the passage
that supports it, and sentences that no passage supports are flagged."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.answer import Draft, abstention
from rag.citations import (
    cited_sentences,
    first_appearance,
    normalize_markers,
    prune_markers,
    renumber,
    supported,
    word_overlap,
)
from rag.text import MARKER, sentence_spans
from rag.types import Citation, Hit

_SENTENCE_BREAK = re.compile(r"((?<=[.!?\]])\s+(?=[^\[]))")

class Similarity:
    """Cosine similarity with the embedder, caching vectors (encode one batch up front)."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self.vectors: dict[str, np.ndarray] = {}

    def add(self, texts: Sequence[str]) -> None:
        new = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if new:
            self.vectors.update(zip(new, np.asarray(self.embedder.encode(new)), strict=True))

    def __call__(self, claim: str, texts: Sequence[str]) -> list[float]:
        self.add([claim, *texts])
        q = self.vectors[claim]
        return [float(self.vectors[t] @ q) for t in texts]


def check(reply: str, hits: Sequence[Hit], embedder: Any) -> Draft:
    """Turn the model's full reply into the Draft: markers pointing to no passage removed; a
    sentence without a marker cites the passage that supports it, if any; markers renumbered
    1..n by first appearance, each with one citation; sentences that no cited passage supports
    listed in `unsupported`."""
    if not reply.strip():
        return abstention()
    text = prune_markers(normalize_markers(reply.strip()), set(range(1, len(hits) + 1)))
    sim = Similarity(embedder)
    text = attach_markers(text, hits, sim)
    mapping = first_appearance(text)  # passage number -> citation marker
    text = renumber(text, mapping).strip()
    if not MARKER.sub("", text).strip():
        return abstention()
    passage_of = {new: old for old, new in mapping.items()}
    claims = cited_sentences(text)
    cited_texts = [hits[old - 1].chunk.text for old in mapping]
    sim.add([c for c, _ in claims] + cited_texts
            + [t[s:e] for t in cited_texts for s, e in sentence_spans(t)])
    unsupported: list[str] = []
    bad_markers: set[int] = set()
    for claim, marks in claims:
        passages = [hits[passage_of[m] - 1].chunk.text for m in marks if m in passage_of]
        if not passages or not supported(claim, passages, sim):
            unsupported.append(claim)
            bad_markers.update(marks)
    citations = []
    for old, new in mapping.items():
        hit = hits[old - 1]
        own = [c for c, marks in claims if new in marks]
        start, end, score = _span(own, hit.chunk.text, sim)
        c = hit.chunk
        citations.append(Citation(new, c.source, c.section, c.text[start:end], c.start + start,
                                  c.start + end, score, c.text, c.start, new not in bad_markers))
    return Draft(text, tuple(citations), False, tuple(unsupported))


def attach_markers(text: str, hits: Sequence[Hit], sim: Similarity) -> str:
    """Give each sentence that has no marker the marker of the passage that supports it best,
    when one does (small models often forget to cite)."""
    parts = _SENTENCE_BREAK.split(text)
    if all(MARKER.search(p) for p in parts[::2] if p.strip()):
        return text
    texts = [h.chunk.text for h in hits]
    sim.add(texts + [t[s:e] for t in texts for s, e in sentence_spans(t)])
    for i in range(0, len(parts), 2):
        claim = parts[i].strip()
        if not claim or MARKER.search(claim) or len(claim.split()) < 3:
            continue
        scores = []
        for t in texts:
            sentences = [t[s:e] for s, e in sentence_spans(t)] or [t]
            scores.append(max(sim(claim, sentences)) + 0.5 * word_overlap(claim, t))
        best = int(np.argmax(scores))
        if supported(claim, [texts[best]], sim):
            parts[i] = parts[i].rstrip() + f" [{best + 1}]"
    return "".join(parts)


def _span(claims: Sequence[str], text: str, sim: Similarity) -> tuple[int, int, float]:
    """(start, end, score) in `text` of the sentences that best match the claims; the whole
    passage when none matches."""
    spans = [(s, e) for s, e in sentence_spans(text) if len(text[s:e].split()) >= 3] or sentence_spans(text)
    chosen: list[tuple[int, int]] = []
    best = 0.0
    for claim in claims:
        if not spans:
            break
        sims = sim(claim, [text[s:e] for s, e in spans])
        scores = [cos + 0.5 * word_overlap(claim, text[s:e]) for cos, (s, e) in zip(sims, spans, strict=True)]
        i = int(np.argmax(scores))
        if sims[i] >= 0.3 or word_overlap(claim, text[spans[i][0]:spans[i][1]]) >= 0.5:
            chosen.append(spans[i])
            best = max(best, sims[i])
    if not chosen:
        stripped = text.strip()
        start = text.index(stripped) if stripped else 0
        return start, start + len(stripped), best
    return min(s for s, _ in chosen), max(e for _, e in chosen), best
