"""`rag bench --beir DIR`: retrieval quality and speed on a data set in BEIR's format
(`corpus.jsonl`, `queries.jsonl`, `qrels/test.tsv`), indexed with the project's own pipeline.

Each BEIR document becomes a file in a temporary corpus; a document split into several chunks
ranks by its best chunk. Metrics come from `ranx`."""

from __future__ import annotations

import json
import logging
import re
import statistics
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rag.errors import ConfigError, MissingDependency
from rag.settings import Settings
from rag.types import Hit

log = logging.getLogger(__name__)

MODES = ("bm25", "dense", "hybrid")


@dataclass(frozen=True)
class BeirSet:
    corpus: dict[str, tuple[str, str]]  # doc id -> (title, text)
    queries: dict[str, str]  # query id -> text (only those with judgements)
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}


def _jsonl(path: Path) -> Iterable[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError:
                    raise ConfigError(f"{path}:{n} is not JSON") from None


def read_beir(folder: Path, split: str = "test") -> BeirSet:
    files = [folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / f"{split}.tsv"]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ConfigError(f"not a BEIR data set, missing: {', '.join(missing)}")
    corpus = {str(d["_id"]): (str(d.get("title") or ""), str(d.get("text") or "")) for d in _jsonl(files[0])}
    qrels: dict[str, dict[str, int]] = {}
    for line in files[2].read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or not parts[2].strip().lstrip("-").isdigit():
            continue  # the header or a blank line
        if int(parts[2]) > 0 and parts[1] in corpus:
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    queries = {str(q["_id"]): str(q["text"]) for q in _jsonl(files[1]) if str(q["_id"]) in qrels}
    qrels = {q: rel for q, rel in qrels.items() if q in queries}
    if not queries:
        raise ConfigError(f"{folder}: no query has a judgement in qrels/{split}.tsv")
    return BeirSet(corpus, queries, qrels)


def write_corpus(beir: BeirSet, folder: Path) -> dict[str, str]:
    """One file per document (Markdown with a heading when it has a title); file -> doc id."""
    folder.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    for n, (doc_id, (title, text)) in enumerate(beir.corpus.items()):
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", doc_id)[:80].strip("_") or "doc"
        name = f"{n:06d}-{stem}" + (".md" if title else ".txt")
        body = f"# {title}\n\n{text}\n" if title else text + "\n"
        (folder / name).write_text(body, encoding="utf-8")
        names[name] = doc_id
    return names


def doc_run(hits: list[Hit], doc_of: dict[str, str] | None, k: int) -> dict[str, float]:
    """Chunk hits -> the first k documents, each ranked by its best chunk (scores by rank);
    `doc_of` maps a file to its document id (None: the file is the document)."""
    sources = [h.chunk.source for h in hits]
    ids = sources if doc_of is None else [doc_of[s] for s in sources if s in doc_of]
    docs = list(dict.fromkeys(ids))[:k]
    return {d: float(len(docs) - i) for i, d in enumerate(docs)}


def ir_metrics(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]], k: int) -> dict[str, float]:
    """nDCG@k, recall@k and MRR@k by ranx (queries without any hit count as zeros)."""
    try:
        from ranx import Qrels, Run
        from ranx import evaluate as ranx_evaluate
    except ImportError:
        raise MissingDependency("ranx", "eval") from None
    names = [f"ndcg@{k}", f"recall@{k}", f"mrr@{k}"]
    full = {q: (run.get(q) or {"\x00none": 0.0}) for q in qrels}
    scores = ranx_evaluate(Qrels(qrels), Run(full), names)
    return {name: float(scores[name]) for name in names}


@dataclass(frozen=True)
class RetrieverResult:
    metrics: dict[str, float]
    latency_ms_median: float

    def to_json(self) -> dict[str, float]:
        return {**{m: round(v, 4) for m, v in self.metrics.items()}, "latency_ms_median": round(self.latency_ms_median, 2)}


@dataclass(frozen=True)
class BenchReport:
    dataset: str
    documents: int
    queries: int
    chunks: int
    index_seconds: float
    k: int
    dense_weight: float
    rrf_k: int
    retrievers: dict[str, RetrieverResult] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = {key: v for key, v in asdict(self).items() if key != "retrievers"}
        data["index_seconds"] = round(self.index_seconds, 2)
        data["chunks_per_second"] = round(self.chunks / self.index_seconds, 1) if self.index_seconds else None
        data["documents_per_second"] = round(self.documents / self.index_seconds, 1) if self.index_seconds else None
        data["retrievers"] = {name: r.to_json() for name, r in self.retrievers.items()}
        return data


def index_beir(beir: BeirSet, workdir: Path, embedder: Any = None, **settings: Any) -> tuple[Any, dict[str, str], float]:
    """A synced KnowledgeBase over the data set in `workdir`; (kb, file -> doc id, seconds)."""
    from rag.kb import KnowledgeBase

    doc_of = write_corpus(beir, workdir / "corpus")
    # RAG_* variables apply (for example RAG_DENSE_WEIGHT), but never a shared Chroma server
    chosen = Settings.from_env(corpus_dir=workdir / "corpus", index_dir=workdir / "index", **settings)
    kb = KnowledgeBase(replace(chosen, chroma_url=None), embedder=embedder)
    kb.embedder.embed_query("warm up")  # model loading is not indexing time
    began = time.perf_counter()
    kb.sync(progress=False)
    return kb, doc_of, time.perf_counter() - began


def score_retriever(beir: BeirSet, search: Any, doc_of: dict[str, str] | None, k: int) -> RetrieverResult:
    """Run every query through `search(query, n) -> list[Hit]` and score the document ranking."""
    run: dict[str, dict[str, float]] = {}
    latencies = []
    for qid, text in beir.queries.items():
        began = time.perf_counter()
        hits = search(text, 3 * k)  # enough chunks for k distinct documents in most cases
        latencies.append((time.perf_counter() - began) * 1000)
        run[qid] = doc_run(hits, doc_of, k)
    return RetrieverResult(ir_metrics(beir.qrels, run, k), statistics.median(latencies))


def score_questions(kb: Any, questions: dict[str, tuple[str, set[str]]], k: int = 10) -> dict[str, RetrieverResult]:
    """Retrieval quality of each mode for questions given as id -> (text, relevant corpus files),
    on an indexed knowledge base (a document is a corpus file)."""
    beir = BeirSet({}, {q: t for q, (t, _) in questions.items()},
                   {q: dict.fromkeys(rel, 1) for q, (_, rel) in questions.items()})
    return {mode: score_retriever(beir, lambda q, n, m=mode: kb.search(q, n, mode=m), None, k) for mode in MODES}


def run_benchmark(
    folder: Path,
    k: int = 10,
    reranker: str | None = None,
    embedder: Any = None,
    workdir: Path | None = None,
    **settings: Any,
) -> BenchReport:
    """Index the BEIR set in a temporary folder and score bm25, dense, hybrid (and rerank)."""
    from rag.store import count

    beir = read_beir(folder)
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        # a kept workdir makes a rerun cheap: the sync then only checks what changed
        kb, doc_of, seconds = index_beir(beir, workdir or Path(tmp), embedder, **settings)
        results = {
            mode: score_retriever(beir, lambda q, n, m=mode: kb.search(q, n, mode=m), doc_of, k) for mode in MODES
        }
        if reranker:
            from rag.retrieve import HybridRetriever, load_reranker

            reranking = HybridRetriever.from_settings(kb.settings, store=kb.store, embedder=kb.embedder,
                                                      lexical=kb.lexical, k=k, reranker=load_reranker(reranker))
            results["hybrid+rerank"] = score_retriever(beir, lambda q, n: reranking.hits(q, n), doc_of, k)
        chunks = len(kb.lexical.chunks) if kb.lexical.chunks else count(kb.store)
        return BenchReport(
            dataset=str(folder),
            documents=len(beir.corpus),
            queries=len(beir.queries),
            chunks=int(chunks),
            index_seconds=seconds,
            k=k,
            dense_weight=kb.settings.dense_weight,
            rrf_k=kb.settings.rrf_k,
            retrievers=results,
        )
