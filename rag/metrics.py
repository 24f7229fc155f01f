"""The pure metric functions of `rag eval` and the benchmarks: rankings, recall, MRR, fact recall,
citation validity, abstention, percentiles. No knowledge base here: rag.evaluate runs one."""

from __future__ import annotations

import statistics
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

Span = tuple[str, int, int]  # (source, start, end) of a quote or a sentence


def ranked_sources(sources: Sequence[str]) -> list[str]:
    """Chunk sources in rank order -> document ranking (a document ranks by its best chunk)."""
    return list(dict.fromkeys(sources))


def recall_at_k(retrieved: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the relevant documents among the first k distinct retrieved ones."""
    if not relevant:
        return 0.0
    top = set(ranked_sources(retrieved)[:k])
    return len(top & set(relevant)) / len(set(relevant))


def reciprocal_rank(retrieved: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1 / rank of the first relevant document within the first k, else 0."""
    for rank, source in enumerate(ranked_sources(retrieved)[:k], 1):
        if source in relevant:
            return 1.0 / rank
    return 0.0


def in_top_k(retrieved: Sequence[str], relevant: Collection[str], k: int) -> bool:
    """Whether a relevant document is among the first k distinct retrieved ones."""
    return any(source in relevant for source in ranked_sources(retrieved)[:k])


def share_given(pairs: Sequence[tuple[bool, bool]]) -> float | None:
    """Among the pairs whose first value holds, the share whose second holds (None if none):
    e.g. (entry retrieved, entry cited) gives the answer/recall ratio."""
    outcomes = [then for given, then in pairs if given]
    return sum(outcomes) / len(outcomes) if outcomes else None


def spans_overlap(a: Span, b: Span) -> bool:
    """Spans of one source that share a character."""
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


def nearest_centroid(vectors: np.ndarray, n: int = 3) -> list[int]:
    """Row indices of the n vectors nearest (cosine) the mean of the L2-normalised vectors,
    nearest first."""
    import numpy as np

    unit = np.asarray(vectors, dtype=np.float64)
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    centroid = unit.mean(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
    return [int(i) for i in np.argsort(-(unit @ centroid), kind="stable")[:n]]


def normalize(text: str) -> str:
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    from rag.text import MARKER

    return " ".join(MARKER.sub(" ", text).lower().split())


def fact_recall(answer: str, facts: Sequence[Sequence[str]]) -> float:
    """Share of the facts of which some alternative phrase occurs in the answer."""
    if not facts:
        return 0.0
    text = normalize(answer)
    return sum(any(normalize(alt) in text for alt in fact) for fact in facts) / len(facts)


def citation_valid(quote: str, source_text: str | None, start: int, end: int) -> bool:
    """The quote is exactly the source text between its offsets."""
    return source_text is not None and 0 <= start <= end <= len(source_text) and source_text[start:end] == quote


def group_citations(sentences: Sequence[tuple[str, list[int]]]) -> list[tuple[str, list[int]]]:
    """A sentence without a marker is covered by the next sentence's markers (a marker at the end
    of a run of sentences cites them all, as the extractive answerer writes consecutive sentences
    of one passage); a trailing unmarked sentence stays uncited."""
    out: list[tuple[str, list[int]]] = []
    carry: list[int] = []
    for sentence, marks in reversed(sentences):
        carry = list(marks) or carry
        out.append((sentence, carry))
    return out[::-1]


def abstention_correct(abstained: bool, answerable: bool) -> bool:
    return abstained != answerable


def percentile(values: Sequence[float], q: float) -> float:
    """numpy's linear-interpolated percentile, q in 0..100; 0.0 for no values."""
    import numpy as np

    return float(np.percentile(values, q)) if len(values) else 0.0


def mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None
