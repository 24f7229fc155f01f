"""The plain LangChain recipe most tutorials teach, side by side with this project's retrieval.

    python bench/langchain_baseline.py [--beir bench/data/debian-faq] [--qa tests/data/qa.jsonl] [--json]

Recipe: RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200), Chroma.from_documents
(default settings, in memory), vectorstore.similarity_search(query, k). Same embedding model
(the packaged all-MiniLM-L6-v2, through rag.embed.Embedder, a LangChain Embeddings).

1. On the BEIR set: nDCG@10, recall@10, MRR@10 (ranx) and indexing time of the recipe, and of
   this project's bm25 / dense / hybrid retrievers (rag.benchmark.run_benchmark), same run.
2. On the question set over corpus/: for the answerable questions, source recall@k and MRR, and
   context fact recall (share of expected key phrases found in the k retrieved chunks' text)."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rag.benchmark import ir_metrics, read_beir, run_benchmark  # noqa: E402
from rag.embed import Embedder  # noqa: E402
from rag.evaluate import fact_recall, load_qa, recall_at_k, reciprocal_rank  # noqa: E402


def recipe_store(docs: list[Any], embedder: Embedder) -> tuple[Any, float, int]:
    """The tutorial pipeline: split 1000/200, Chroma.from_documents; (store, seconds, chunks)."""
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    began = time.perf_counter()
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    store = Chroma.from_documents(splits, embedding=embedder, collection_name=f"recipe{time.time_ns()}")
    return store, time.perf_counter() - began, len(splits)


def on_beir(folder: Path, k: int, embedder: Embedder, workdir: Path | None) -> dict[str, Any]:
    from langchain_core.documents import Document

    beir = read_beir(folder)
    docs = [Document(page_content=(f"{t}\n\n{x}" if t else x), metadata={"doc": d}) for d, (t, x) in beir.corpus.items()]
    store, seconds, chunks = recipe_store(docs, embedder)
    run, latencies = {}, []
    for qid, text in beir.queries.items():
        began = time.perf_counter()
        found = store.similarity_search(text, k=3 * k)
        latencies.append((time.perf_counter() - began) * 1000)
        ranked = list(dict.fromkeys(d.metadata["doc"] for d in found))[:k]
        run[qid] = {d: float(len(ranked) - i) for i, d in enumerate(ranked)}
    recipe = {**ir_metrics(beir.qrels, run, k), "latency_ms_median": statistics.median(latencies),
              "chunks": chunks, "index_seconds": seconds}
    ours = run_benchmark(folder, k=k, embedder=embedder, workdir=workdir).to_json()
    return {"langchain_recipe": recipe, "rag": ours}


def questions_table(qa: Path, corpus: Path, k: int, embedder: Embedder) -> dict[str, Any]:
    from langchain_core.documents import Document

    from rag.kb import KnowledgeBase
    from rag.load import discover, load_file
    from rag.settings import Settings

    items = [i for i in load_qa(qa) if i.answerable and i.sources]
    docs = []
    for path in discover(corpus):
        doc = load_file(path, corpus)
        docs.append(Document(page_content=doc.text, metadata={"source": doc.source}))
    store, _, _ = recipe_store(docs, embedder)
    tmp = Path(tempfile.mkdtemp(prefix="rag-baseline-"))
    try:
        kb = KnowledgeBase(Settings.from_env(env={}, corpus_dir=corpus, index_dir=tmp / "index"), embedder=embedder)
        kb.sync(progress=False)

        def recipe(q: str) -> list[tuple[str, str]]:
            return [(d.metadata["source"], d.page_content) for d in store.similarity_search(q, k=k)]

        def ours(mode: str) -> Any:
            return lambda q: [(h.chunk.source, h.chunk.text) for h in kb.search(q, k, mode=mode)]

        systems = {"langchain_recipe": recipe, "rag dense": ours("dense"), "rag hybrid": ours("hybrid")}
        out = {}
        for name, search in systems.items():
            rec, rr, facts = [], [], []
            for item in items:
                found = search(item.question)
                sources = [s for s, _ in found]
                rec.append(recall_at_k(sources, item.sources, k))
                rr.append(reciprocal_rank(sources, item.sources, k))
                facts.append(fact_recall(" ".join(t for _, t in found), item.answers))
            out[name] = {f"recall@{k}": statistics.fmean(rec), "mrr": statistics.fmean(rr),
                         f"context_fact_recall@{k}": statistics.fmean(facts)}
        return {"questions": len(items), "k": k, "systems": out}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--beir", type=Path, default=REPO / "bench" / "data" / "debian-faq")
    parser.add_argument("--qa", type=Path, default=REPO / "tests" / "data" / "qa.jsonl")
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus")
    parser.add_argument("-k", type=int, default=10, help="cutoff on the BEIR set")
    parser.add_argument("--qa-k", type=int, default=3, help="passages per question on the question set")
    parser.add_argument("--skip-beir", action="store_true")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench" / "data" / "work" / "debian-faq",
                        help="where this project's index is kept between runs (shared with tune_fusion.py)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    embedder = Embedder()
    embedder.embed_query("warm up")
    result: dict[str, Any] = {"questions": questions_table(args.qa, args.corpus, args.qa_k, embedder)}
    if not args.skip_beir:
        result["beir"] = on_beir(args.beir, args.k, embedder, args.workdir)
    if args.json:
        print(json.dumps(result, default=float))
        return
    q = result["questions"]
    print(f"question set {args.qa.name}: {q['questions']} answerable questions, k={q['k']}")
    for name, m in q["systems"].items():
        print("  " + f"{name:<18} " + "  ".join(f"{key} {v:.3f}" for key, v in m.items()))
    if "beir" in result:
        k = args.k
        b = result["beir"]
        print(f"\n{args.beir}: nDCG@{k} / recall@{k} / MRR@{k} / median latency / index seconds")
        r = b["langchain_recipe"]
        print(f"  {'langchain recipe':<18} {r[f'ndcg@{k}']:.3f} / {r[f'recall@{k}']:.3f} / {r[f'mrr@{k}']:.3f}"
              f" / {r['latency_ms_median']:.1f} ms / {r['index_seconds']:.1f} s ({r['chunks']} chunks)")
        ours = b["rag"]
        for name, m in ours["retrievers"].items():
            print(f"  {'rag ' + name:<18} {m[f'ndcg@{k}']:.3f} / {m[f'recall@{k}']:.3f} / {m[f'mrr@{k}']:.3f}"
                  f" / {m['latency_ms_median']:.1f} ms / {ours['index_seconds']:.1f} s ({ours['chunks']} chunks)")


if __name__ == "__main__":
    main()
