"""Hybrid retrieval: dense (Chroma) and BM25 (bm25s), fused by weighted reciprocal-rank fusion,
optionally reranked by a cross-encoder. `HybridRetriever` is a LangChain `BaseRetriever`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from rag.answer.terms import name_terms, without_terms
from rag.lexical import tokenize
from rag.settings import DENSE_WEIGHT, RRF_K, Settings
from rag.shape import expanded, own_words
from rag.types import Chunk, Hit

log = logging.getLogger(__name__)


def rrf_fuse(
    dense: list[tuple[Chunk, float]],
    sparse: list[tuple[Chunk, float]],
    dense_weight: float,
    rrf_k: int,
) -> list[Hit]:
    """Weighted reciprocal-rank fusion of two ranked lists; ties keep the dense order."""
    fused: dict[str, float] = {}
    chunks: dict[str, Chunk] = {}
    dense_scores = {c.id: s for c, s in dense}
    bm25_scores = {c.id: s for c, s in sparse}
    for weight, ranked in ((dense_weight, dense), (1.0 - dense_weight, sparse)):
        for rank, (chunk, _score) in enumerate(ranked, start=1):
            chunks.setdefault(chunk.id, chunk)
            fused[chunk.id] = fused.get(chunk.id, 0.0) + weight / (rrf_k + rank)
    order = sorted(fused, key=lambda cid: -fused[cid])
    return [
        Hit(chunks[cid], fused[cid], dense_scores.get(cid), bm25_scores.get(cid)) for cid in order
    ]


# The answerers read the fused top k and up to this many more passages, BM25's best that the
# fusion left out: with a dense weight of 0.9 the fusion follows dense order, and MiniLM ranks a
# question's topic above its specific word ("risks" of open-source AI: no passage with "risk" in
# the fused top 5, three in BM25's). The sentence scorer then decides. Chosen on the dev halves
# (articles qa.jsonl, related dev, the four FAQ dev halves, docs/eval.md): 0 -> 1 -> 2 -> 3 gave
# articles' facts 74.6 -> 78.9 -> 78.9 -> 78.9 %, emacs-common's right entry 87.1 % until 3
# (88.7 %), every other domain unchanged; 2 is the smallest pool past the articles' gain with a
# margin. Round 16, 2 -> 3 on the reader sets' dev halves (`python bench/reader_sets.py --split
# dev`, which the earlier sweep did not have): 372.8 -> 374.3 (facts 236.8 -> 238.3; 4 was 373.3),
# a passage BM25 ranks third that the fusion left out is read ("are closed models safer? what does
# the defining divide piece say" found "Closed models, while potentially safer in controlled
# environments, lack this level of scrutiny."); FAQ dev halves (`python bench/run_suite.py --split
# dev`) unchanged but emacs-common's right entry 90 -> 92 %, held-out FAQ dev halves (the same with
# `--domains python-faq perl-faq zsh-faq --no-warm`) unchanged, 86/79/81 %.
# Re-measure: `B=N python bench/tune_answer.py --split dev`.
ANSWER_LEXICAL_EXTRA = 3
# ... and the first passages of up to this many sections whose titles the question names
# (rag.lexical.SectionTitles): "Does Apache-licensed software come with any warranty?" reached
# neither the Apache licence's "Disclaimer of Warranty" by meaning nor by BM25. Chosen on the dev
# halves with the scorer's rules of issue 18 (rag.answer.terms.UNNAMED_PENALTY): 0 -> 2, related
# right file with all facts 17 -> 18/24, conversations' repeated answers 3 -> 2, articles,
# paraphrased, old follow-ups and the four FAQ dev halves' right entry unchanged (`python
# bench/run_suite.py --split dev`, the same with `--qa tests/data/qa_related.jsonl`).
# Both extras only when the reader did not choose how many passages an answer reads (rag.kb).
TITLE_EXTRA = 2


# Each list fused holds max(FETCH_K, 3 k) chunks. Not tuned: the fusion only reorders the first
# few dozen ranks, and the sweep that chose the weights (bench/tune_fusion.py, which fuses 90 per
# list) moved by one or two questions a domain against an earlier run with 30. Re-measure:
# `python bench/tune_fusion.py` (its FETCH) on the suite's dev halves.
FETCH_K = 30
# With a reranker, the cross-encoder reorders at least this many fused hits (not tuned; the
# reranker is optional and off by default: `rag bench --beir bench/data/debian-faq --reranker NAME`).
RERANK_POOL = 10


# A question that names a document by words only that document's name and text hold ("all-MiniLM-L6-v2",
# "GPL") ranks with BM25 the passages that repeat the name (the card's title, its code), whatever
# it asks: "During which event was all-MiniLM-L6-v2 developed?" ranked "We developed this model
# during the Community week ..." seventh. The answerers also read up to NAMED_EXTRA of BM25's best
# passages of that document for the question's other words (`named_search`). Only the question's
# own words name it: a follow-up that carries the name ("does that license let me sublicense it?"
# after a question about the model card's licence) asks about another document. Round 23, dev
# (`python bench/reader_sets.py --split dev`): 630.8 -> 633.8 (facts +3: the card's total of
# training tuples, in three sets), 1 gained none, 3 the same as 2; an unanswerable question about
# "version 2 of the GNU GPL" was then answered with "Version 3, 29 June 2007" and one about
# version 2 refused instead (rag.answer.amounts.unheld_figure reads versions too); FAQ dev halves
# unchanged (`python bench/run_suite.py --split dev`).
NAMED_EXTRA = 2


def own_names(chunks: Sequence[Chunk]) -> dict[str, frozenset[str]]:
    """Each document's file-name terms (rag.answer.terms.name_terms) that no other document's
    text holds."""
    names = {c.source: name_terms(c.source) for c in chunks}
    every = frozenset().union(*names.values())
    holders: dict[str, set[str]] = {}  # the documents whose text holds a name's term
    for c in chunks:
        for t in every.intersection(tokenize(c.text)):
            holders.setdefault(t, set()).add(c.source)
    return {src: frozenset(t for t in name if holders.get(t, set()) <= {src}) for src, name in names.items()}


class HybridRetriever(BaseRetriever):
    """Dense + BM25 retrieval over one knowledge base; returns LangChain Documents whose
    metadata carries the chunk's source, section, offsets and scores."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Any
    embedder: Any
    lexical: Any
    k: int = 5
    dense_weight: float = DENSE_WEIGHT  # (rag.settings, where they were chosen)
    rrf_k: int = RRF_K
    fetch_k: int = FETCH_K
    reranker: Any = None
    _own: tuple[str, dict[str, frozenset[str]]] = PrivateAttr(default=("", {}))

    @classmethod
    def from_settings(cls, settings: Settings, *, store: Any, embedder: Any, lexical: Any,
                      k: int | None = None, reranker: Any = None) -> HybridRetriever:
        """The retriever a knowledge base with these settings searches with."""
        return cls(store=store, embedder=embedder, lexical=lexical, k=k or settings.k,
                   dense_weight=settings.dense_weight, rrf_k=settings.rrf_k, reranker=reranker)

    def hits(self, query: str, k: int | None = None, mode: str = "hybrid", lexical_extra: int = 0,
             title_extra: int = 0) -> list[Hit]:
        """The k best hits; with `lexical_extra`, also up to that many of BM25's best that the
        fusion left out (what the answerers read: see ANSWER_LEXICAL_EXTRA)."""
        from rag.store import dense_search

        k = k or self.k
        fetch = max(self.fetch_k, k * 3)
        qvec = self.embedder.embed_query(query)
        dense = dense_search(self.store, qvec, fetch) if mode != "bm25" else []
        sparse = self.lexical.search(expanded(query), fetch) if mode != "dense" else []
        if mode == "dense":
            hits = [Hit(c, s, s, None) for c, s in dense]
        elif mode == "bm25":
            hits = [Hit(c, s, None, s) for c, s in sparse]
        else:
            hits = rrf_fuse(dense, sparse, self.dense_weight, self.rrf_k)
        top = hits[: max(k, RERANK_POOL) if self.reranker else k]
        if lexical_extra and mode == "hybrid":
            kept = {h.chunk.id for h in top}
            dense_of = {c.id: s for c, s in dense}
            top += [Hit(c, s, dense_of.get(c.id), s) for c, s in sparse if c.id not in kept][:lexical_extra]
            kept = {h.chunk.id for h in top}
            named = [Hit(c, s, dense_of.get(c.id), s) for c, s in self.named_search(query, fetch)
                     if c.id not in kept][:NAMED_EXTRA]
            top += named
            kept = {h.chunk.id for h in top}
            titled = [c for c in self.lexical.by_title(query, title_extra) if c.id not in kept] if title_extra else []
            top += [Hit(c, 0.0, dense_of.get(c.id), None) for c in titled]
            k += lexical_extra + len(named) + len(titled)
        hits = self._fill_dense_scores(top, qvec)
        if self.reranker is not None and hits:
            scores = self.reranker.predict([(query, h.chunk.text) for h in hits])
            order = sorted(range(len(hits)), key=lambda i: -float(scores[i]))
            hits = [hits[i] for i in order]
        return hits[:k]

    def named_search(self, query: str, fetch: int) -> list[tuple[Chunk, float]]:
        """BM25's best passages of the documents the question's own words name by words only
        they hold (`own_names`), for the question less those words (NAMED_EXTRA)."""
        self.lexical.refresh()
        if self._own[0] != self.lexical.version:
            self._own = (self.lexical.version, own_names(self.lexical.chunks))
        own = self._own[1]
        terms = set(tokenize(own_words(query)))
        named = {src for src, names in own.items() if names & terms}
        if not named:
            return []
        rest = without_terms(query, set().union(*(own[src] for src in named)))
        if not rest:
            return []
        return [(c, s) for c, s in self.lexical.search(expanded(rest), fetch) if c.source in named]

    def _fill_dense_scores(self, hits: list[Hit], qvec: list[float]) -> list[Hit]:
        """Give chunks found only by BM25 their cosine similarity too (abstention uses it).

        Kept, measured (issue 20): one Chroma read of the missing chunks' vectors. On corpus/,
        the first 20 questions of tests/data/qa.jsonl, medians in one process: `kb.search`
        (13-16 ms) never reads (its fused top 5 are all in the dense list); the answerers' path
        (ANSWER_LEXICAL_EXTRA) read for every question, 0.6-0.8 ms, 4 % of its retrieval and 1 %
        of an extractive answer (80 ms), until the extras took their cosine from the dense list
        when they are in it (as `hits` does now): 7 of 20 questions read, median 0 ms. What is
        left is a small share, and removing it needs vectors that only Chroma holds (embedding
        the chunks again costs more than the read). Re-measure: time this method (a wrapper on
        the retriever) and `kb.search` / `retriever.hits(q, k, lexical_extra=2)` on those
        questions, after a sync of corpus/ (bench/ask_latency.py's setup)."""
        missing = [h.chunk.id for h in hits if h.dense_score is None]
        if not missing:
            return hits
        import numpy as np

        from rag.store import embeddings_of

        vectors = embeddings_of(self.store, missing)
        q = np.asarray(qvec)
        out = []
        for h in hits:
            if h.dense_score is None and h.chunk.id in vectors:
                sim = float(np.dot(q, np.asarray(vectors[h.chunk.id])))
                h = Hit(h.chunk, h.score, sim, h.bm25_score)
            out.append(h)
        return out

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[LCDocument]:
        """The k best passages (`invoke(query, k=3)`; by default the retriever's own k). LangChain
        passes `invoke`'s keyword arguments on only to a method that names them."""
        return [hit_to_document(h) for h in self.hits(query, k)]


def hit_to_document(hit: Hit) -> LCDocument:
    c = hit.chunk
    return LCDocument(
        page_content=c.text,
        id=c.id,
        metadata={
            **c.to_metadata(),
            "score": hit.score,
            "dense_score": hit.dense_score,
            "bm25_score": hit.bm25_score,
        },
    )


def load_reranker(name: str) -> Any:
    from sentence_transformers import CrossEncoder

    return CrossEncoder(name, device="cpu")
