"""`rag eval`: run a question set against the knowledge base and measure retrieval, answers,
citations, abstention and latency.

The question file is JSON Lines, one object per line:
`{"question", "answers": [[alternative phrases of fact 1], ...], "sources": [files], "answerable": bool}`,
optionally with `"entry": {"source": file}`: the file that holds this question's FAQ entry, which the
answer must cite (the suite built by bench/make_suite.py writes it).
The metric functions are pure (rag.metrics, importable from here too); `evaluate()` runs the
knowledge base."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rag.errors import ConfigError, LoadError
from rag.metrics import (
    Span,
    abstention_correct,
    citation_valid,
    fact_recall,
    group_citations,
    mean,
    percentile,
    ranked_sources,
    recall_at_k,
    reciprocal_rank,
)

# (the metrics imported from here before they had a module of their own)
from rag.metrics import in_top_k as in_top_k
from rag.metrics import nearest_centroid as nearest_centroid
from rag.metrics import normalize as normalize
from rag.metrics import share_given as share_given
from rag.metrics import spans_overlap as spans_overlap

CORPUS_QA = "qa.jsonl"  # looked for in the corpus folder when no --qa is given


@dataclass(frozen=True)
class QAItem:
    question: str
    answers: tuple[tuple[str, ...], ...]  # facts, each a tuple of alternative phrasings
    sources: tuple[str, ...]  # files (relative to the corpus) that hold the answer
    answerable: bool
    entry: str | None = None  # the file of the FAQ entry the answer must cite

    @property
    def targets(self) -> tuple[str, ...]:
        """The files a right answer cites: the FAQ entry, else the question's sources."""
        return (self.entry,) if self.entry else self.sources




def load_qa(path: Path, split: str | None = None) -> list[QAItem]:
    """Read a question set; a malformed line is an error that names the line. With `split`,
    only the records whose "split" field equals it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the question file {path} ({exc.strerror or exc}); pass --qa FILE") from None
    items = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if split is not None and row.get("split") != split:
                continue
            items.append(QAItem(
                question=str(row["question"]),
                answers=tuple(tuple(str(a) for a in fact) for fact in row.get("answers", [])),
                sources=tuple(str(s) for s in row.get("sources", [])),
                answerable=bool(row.get("answerable", True)),
                entry=str(row["entry"]["source"]) if row.get("entry") else None,
            ))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}:{n}: not a question record ({exc}); see docs/eval.md") from None
    if not items:
        raise ConfigError(f"{path} holds no questions" + (f" of the split {split!r}" if split else ""))
    return items


# -- running the knowledge base --------------------------------------------------------------
@dataclass(frozen=True)
class ItemResult:
    question: str
    answerable: bool
    abstained: bool
    answer: str
    retrieved: tuple[str, ...]  # distinct sources in rank order
    recall: float | None
    reciprocal_rank: float | None
    fact_recall: float | None
    citations: int
    valid_citations: int
    sentences: int
    supported_sentences: int
    latency_ms: float
    entry_cited: bool | None = None  # the answer cites the question's FAQ entry
    cited: tuple[Span, ...] = ()  # the citations' (source, start, end), by marker


@dataclass(frozen=True)
class EvalReport:
    answerer: str
    k: int
    questions: int
    answerable: int
    recall_at_k: float | None
    mrr: float | None
    fact_recall: float | None
    citation_validity: float | None
    citation_support: float | None
    abstention_accuracy: float
    abstained_on_unanswerable: float | None
    false_abstention_rate: float | None
    latency_ms_median: float
    latency_ms_p95: float
    entry_cited: float | None = None  # share of answerable questions with an entry
    items: tuple[ItemResult, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["items"] = [asdict(i) for i in self.items]
        return {key: round(v, 4) if isinstance(v, float) else v for key, v in data.items()}


def summarize(answerer: str, k: int, items: Sequence[ItemResult]) -> EvalReport:
    """Aggregate per-question results into the report (pure)."""

    def share(num: int, den: int) -> float | None:
        return num / den if den else None

    answerable = [i for i in items if i.answerable]
    unanswerable = [i for i in items if not i.answerable]
    with_sources = [i for i in answerable if i.recall is not None]
    latencies = [i.latency_ms for i in items]
    with_entry = [i for i in answerable if i.entry_cited is not None]
    return EvalReport(
        answerer=answerer,
        k=k,
        questions=len(items),
        answerable=len(answerable),
        recall_at_k=mean([i.recall for i in with_sources if i.recall is not None]),
        mrr=mean([i.reciprocal_rank for i in with_sources if i.reciprocal_rank is not None]),
        fact_recall=mean([i.fact_recall for i in answerable if i.fact_recall is not None]),
        citation_validity=share(sum(i.valid_citations for i in items), sum(i.citations for i in items)),
        citation_support=share(sum(i.supported_sentences for i in items), sum(i.sentences for i in items)),
        abstention_accuracy=sum(abstention_correct(i.abstained, i.answerable) for i in items) / max(len(items), 1),
        abstained_on_unanswerable=share(sum(i.abstained for i in unanswerable), len(unanswerable)),
        false_abstention_rate=share(sum(i.abstained for i in answerable), len(answerable)),
        latency_ms_median=percentile(latencies, 50),
        latency_ms_p95=percentile(latencies, 95),
        entry_cited=share(sum(bool(i.entry_cited) for i in with_entry), len(with_entry)),
        items=tuple(items),
    )


class SourceTexts:
    """Loaded source texts (what citation offsets point into), read once each."""

    def __init__(self, corpus: Path) -> None:
        self.corpus = corpus
        self._texts: dict[str, str | None] = {}

    def get(self, source: str) -> str | None:
        if source not in self._texts:
            from rag.load import load_file

            try:
                self._texts[source] = load_file(self.corpus / source, self.corpus).text
            except LoadError:
                self._texts[source] = None
        return self._texts[source]


def evaluate_item(kb: Any, item: QAItem, k: int, answerer: str | None, texts: SourceTexts) -> ItemResult:
    from rag.answer.quotes import without_sources
    from rag.answer.verify import Similarity
    from rag.citations import cited_sentences, supported

    hits = kb.search(item.question, k)
    retrieved = tuple(ranked_sources([h.chunk.source for h in hits]))
    began = time.perf_counter()
    answer = kb.ask(item.question, k=k, answerer=answerer)
    latency = (time.perf_counter() - began) * 1000
    has_sources = item.answerable and bool(item.sources)
    valid = sum(citation_valid(c.quote, texts.get(c.source), c.start, c.end) for c in answer.citations)
    sentences = supported_count = 0
    if not answer.abstained:
        by_marker = {c.marker: c.chunk_text or c.quote for c in answer.citations}
        similarity = Similarity(kb.embedder)  # the llm answerer's check, vectors cached
        shown = without_sources(answer.text, [c.source for c in answer.citations])
        for sentence, marks in group_citations(cited_sentences(shown)):
            passages = [by_marker[m] for m in marks if m in by_marker]
            sentences += 1
            supported_count += bool(passages) and supported(sentence, passages, similarity)
    return ItemResult(
        question=item.question,
        answerable=item.answerable,
        abstained=answer.abstained,
        answer=answer.text,
        retrieved=retrieved,
        recall=recall_at_k(retrieved, item.sources, k) if has_sources else None,
        reciprocal_rank=reciprocal_rank(retrieved, item.sources, k) if has_sources else None,
        fact_recall=fact_recall(answer.text, item.answers) if item.answerable and item.answers else None,
        citations=len(answer.citations),
        valid_citations=valid,
        sentences=sentences,
        supported_sentences=supported_count,
        latency_ms=latency,
        entry_cited=any(c.source == item.entry for c in answer.citations) if item.answerable and item.entry else None,
        cited=tuple((c.source, c.start, c.end) for c in sorted(answer.citations, key=lambda c: c.marker)),
    )


def evaluate(kb: Any, items: Sequence[QAItem], k: int | None = None, answerer: str | None = None) -> EvalReport:
    k = k or kb.settings.k
    texts = SourceTexts(kb.settings.corpus_dir)
    if items:  # warm up: load the model and the answerer before anything is timed
        kb.ask(items[0].question, k=k, answerer=answerer)
    results = [evaluate_item(kb, item, k, answerer, texts) for item in items]
    return summarize(kb.answerer_name(answerer), k, results)  # `auto` as it resolved
