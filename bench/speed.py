"""Embedding backends and query latency.

    python bench/speed.py --skip-10k     # the backends only: issue 22's table (about 10 minutes)
    python bench/speed.py --skip-10k --model mpnet   # mpnet, torch and onnx-int8, beside MiniLM's
    python bench/speed.py [--json] [--skip-10k] [--skip-onnx] [--sample 300] [--runs 3] [--model mpnet]

1. ONNX vs torch (issue 22). sentence-transformers' own ONNX backend needs `optimum-onnx`, which
   cannot install beside gradio and transformers 5 (docs/benchmarks.md). rag.embed_onnx exports
   the packaged all-MiniLM-L6-v2 with `torch.onnx.export(dynamo=True)` (the `onnx` extra) and
   runs it with onnxruntime. Four variants: torch; the fp32 export (bench/data/onnx/model.onnx);
   the export quantized to int8 per channel; and the onnx-int8 backend (fused with onnxscript,
   then int8 per channel), built and checked as RAG_EMBED_BACKEND=onnx-int8 does it. Measured in
   one process: chunks/s (batches of 32, the median of 3 alternating runs over 300 chunks after
   a warm-up), single-query latency, cosine to torch over every chunk, and dense and hybrid
   nDCG@10 on a BEIR set (default: the suite's debian-faq, test qrels) with each variant's
   vectors. With `--model mpnet` (installed: `rag models install mpnet`, in RAG_MODELS_DIR) the
   variants are MiniLM (torch, onnx-int8) and mpnet (torch, onnx-int8), each int8 model's cosine
   against its own model's torch vectors: whether fused int8 mpnet indexes as fast as torch
   MiniLM (issue 22).
2. Query latency at 10,000 chunks: a generated corpus (sentences of the Debian FAQ and Reference
   shuffled into documents, deterministically) is synced, then the FAQ questions are run through
   `KnowledgeBase.search` in each mode and through `ask` (extractive)."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rag.benchmark import doc_run, index_beir, ir_metrics, read_beir  # noqa: E402
from rag.citations import split_sentences  # noqa: E402
from rag.embed import Embedder, packaged_model_path  # noqa: E402
from rag.embed_onnx import OnnxEncoder  # noqa: E402
from rag.kb import KnowledgeBase  # noqa: E402
from rag.models import embedding_model_path, models_dir  # noqa: E402
from rag.onnx_export import export, quantize  # noqa: E402
from rag.retrieve import rrf_fuse  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.types import Chunk, Hit  # noqa: E402

DATA = REPO / "bench" / "data"
ONNX = DATA / "onnx"


def export_onnx(target: Path = ONNX / "model.onnx") -> Path:
    """The packaged model's transformer as fp32 ONNX (rag.embed_onnx's export), made once."""
    if not target.exists():
        export(packaged_model_path(), target)
    return target


class OnnxEmbedder(Embeddings):
    """An ONNX file of all-MiniLM-L6-v2 on onnxruntime, as rag.embed_onnx runs the int8 one."""

    def __init__(self, model: Path, batch_size: int = 32) -> None:
        self.encoder = OnnxEncoder(model, packaged_model_path())
        self.batch_size = batch_size

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self.encoder.encode(texts, self.batch_size)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


def timed(fn: Any, *args: Any) -> float:
    began = time.perf_counter()
    fn(*args)
    return time.perf_counter() - began


def int8(models: Path, name: str | None = None) -> Embedder:
    """The onnx-int8 backend of model `name` (None: the packaged one), built and checked in
    `models` as RAG_EMBED_BACKEND=onnx-int8 does."""
    embedder = Embedder(name, backend="onnx-int8", models_dir=models)
    if not embedder.identity.endswith("+onnx-int8"):
        raise SystemExit("the onnx-int8 model was refused (see the warning above)")
    return embedder


def variants(models: Path) -> dict[str, Any]:
    """Issue 22's four ways to run the packaged model: torch; the fp32 export; the export
    quantized (int8 per channel); and the onnx-int8 backend (fused, then int8 per channel), as
    RAG_EMBED_BACKEND=onnx-int8 builds and checks it in `models`."""
    fp32 = export_onnx()
    unfused = ONNX / "int8-unfused.onnx"
    if not unfused.exists():
        quantize(fp32, unfused)
    return {"torch": Embedder(), "fp32 ONNX": OnnxEmbedder(fp32), "int8 per channel": OnnxEmbedder(unfused),
            "onnx-int8 (fused, int8 per channel)": int8(models)}


def model_variants(name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """MiniLM and the installed model `name` (RAG_EMBED_MODEL=name), each on torch and as
    onnx-int8 (built in the models folder where `name` is installed); the torch variant each
    int8 one is compared with."""
    settings = Settings.from_env(embed_model=name)  # RAG_MODELS_DIR applies
    path, models = embedding_model_path(settings), models_dir(settings)
    return ({"torch": Embedder(), "onnx-int8": int8(models), f"torch {name}": Embedder(path),
             f"onnx-int8 {name}": int8(models, path)},
            {f"torch {name}": f"torch {name}", f"onnx-int8 {name}": f"torch {name}"})


def backends(beir_dir: Path, workdir: Path, runs: int, sample_size: int = 300,
             model: str | None = None) -> dict[str, Any]:
    """Throughput (median of `runs` alternating runs over `sample_size` chunks, after a warm-up),
    query latency (median over 50 questions, one at a time), cosine to torch (the same model's)
    over every chunk, and dense and hybrid nDCG@10 with each variant's vectors."""
    beir = read_beir(beir_dir)
    models, reference = model_variants(model) if model else (variants(workdir / "models"), {})
    kb, doc_of, _ = index_beir(beir, workdir / "index", models["torch"])  # BM25 and the chunks
    got = kb.store.get(include=["embeddings", "documents", "metadatas"])
    chunks = [Chunk(m["source"], m.get("section") or "", d, int(m["start"]), int(m["end"]))
              for d, m in zip(got["documents"], got["metadatas"], strict=True)]
    vecs = {"torch": np.asarray(got["embeddings"], dtype=np.float32)}
    for name, e in models.items():
        if name != "torch":
            vecs[name] = e.encode([c.text for c in chunks])

    sample = [c.text for c in chunks[:: max(1, len(chunks) // sample_size)]][:sample_size]
    queries = list(beir.queries.values())
    for e in models.values():  # warm-up: every variant's first batches and queries
        e.encode(sample[:64])
        for q in queries[:10]:
            e.embed_query(q)
    speed: dict[str, list[float]] = {m: [] for m in models}
    latency: dict[str, list[float]] = {m: [] for m in models}
    for _ in range(runs):  # alternating, so that load from other processes hits all alike
        for name, e in models.items():
            speed[name].append(len(sample) / timed(e.encode, sample))
            latency[name].append(statistics.median(1000 * timed(e.embed_query, q) for q in queries[:50]))

    n, k = 30, 10
    rows = {}
    for name, e in models.items():
        qvecs = e.encode(queries)
        dense_run, hybrid_run = {}, {}
        for qi, (qid, text) in enumerate(beir.queries.items()):
            sims = vecs[name] @ qvecs[qi]
            top = np.argsort(-sims)[:90]
            dense = [(chunks[i], float(sims[i])) for i in top]
            dense_run[qid] = doc_run([Hit(c, s) for c, s in dense[:n]], doc_of, k)
            fused = rrf_fuse(dense, kb.lexical.search(text, 90), kb.settings.dense_weight, kb.settings.rrf_k)
            hybrid_run[qid] = doc_run(fused[:n], doc_of, k)
        cos = np.sum(vecs[name] * vecs[reference.get(name, "torch")], axis=1)
        rows[name] = {
            "chunks_per_s": statistics.median(speed[name]), "runs_chunks_per_s": speed[name],
            "query_ms": statistics.median(latency[name]),
            "cosine_mean": float(np.mean(cos)), "cosine_min": float(np.min(cos)),
            "dense_ndcg@10": ir_metrics(beir.qrels, dense_run, k)["ndcg@10"],
            "hybrid_ndcg@10": ir_metrics(beir.qrels, hybrid_run, k)["ndcg@10"],
        }
    return {"chunks": len(chunks), "sample": len(sample), "runs": runs, "variants": rows,
            "fastest_of": list(models)[-1],
            "speedup": rows[list(models)[-1]]["chunks_per_s"] / rows["torch"]["chunks_per_s"]}


def generated_corpus(folder: Path, target_chunks: int, beir_dir: Path) -> None:
    """Documents of ~3,000 characters of shuffled real sentences, the same every run."""
    beir = read_beir(beir_dir)
    pool = [s for _, text in beir.corpus.values() for s in split_sentences(text) if 40 <= len(s) <= 400]
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    n_docs = target_chunks // 4 + 1  # ~4 chunks of <=800 characters per document
    for d in range(n_docs):
        parts, size = [], 0
        while size < 3000:
            s = rng.choice(pool)
            parts.append(s)
            size += len(s) + 1
        (folder / f"doc{d:05d}.txt").write_text(" ".join(parts) + "\n", encoding="utf-8")


def latency_10k(beir_dir: Path, workdir: Path, target: int, index_embedder: Any) -> dict[str, Any]:
    corpus = workdir / "corpus"
    if not corpus.exists():
        generated_corpus(corpus, target, beir_dir)
    settings = Settings.from_env(env={}, corpus_dir=corpus, index_dir=workdir / "index")
    # vectors equal to torch's to ~1e-5; it only makes indexing faster
    report = KnowledgeBase(settings, embedder=index_embedder).sync(progress=False)
    kb = KnowledgeBase(settings, embedder=Embedder())  # queries are embedded as the default pipeline does
    queries = list(read_beir(beir_dir).queries.values())
    kb.ask(queries[0])
    out: dict[str, Any] = {"chunks": report.chunks, "queries": len(queries)}
    for mode in ("bm25", "dense", "hybrid"):
        times = [1000 * timed(kb.search, q, 5, mode) for q in queries]
        out[mode] = {"median_ms": statistics.median(times), "p95_ms": float(np.percentile(times, 95))}
    times = [1000 * timed(kb.ask, q) for q in queries]
    out["ask_extractive"] = {"median_ms": statistics.median(times), "p95_ms": float(np.percentile(times, 95))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--beir", type=Path, default=DATA / "suite" / "debian-faq")
    parser.add_argument("--workdir", type=Path, default=DATA / "work")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=300, help="chunks of each throughput run")
    parser.add_argument("--model", help="an installed embedding model (mpnet) to set beside MiniLM, on torch "
                        "and as onnx-int8")
    parser.add_argument("--skip-onnx", action="store_true")
    parser.add_argument("--skip-10k", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {}
    if not args.skip_onnx:
        result["backends"] = backends(args.beir, args.workdir / "speed", args.runs, args.sample, args.model)
    if not args.skip_10k:
        # the fp32 export: vectors equal to torch's to ~1e-7; it only makes indexing faster
        index_embedder = Embedder() if args.skip_onnx else OnnxEmbedder(export_onnx())
        result["latency"] = latency_10k(args.beir, args.workdir / f"generated-{args.chunks}", args.chunks, index_embedder)
    if args.json:
        print(json.dumps(result))
        return
    if "backends" in result:
        b = result["backends"]
        print(f"embedding backends ({b['chunks']} chunks; throughput: median of {b['runs']} alternating runs "
              f"over {b['sample']})")
        print("| variant | chunks/s | query ms | cosine to torch (mean / min) | dense nDCG@10 | hybrid nDCG@10 |")
        print("| --- | --- | --- | --- | --- | --- |")
        for m, r in b["variants"].items():
            print(f"| {m} | {r['chunks_per_s']:.1f} | {r['query_ms']:.1f} | {r['cosine_mean']:.3f} / "
                  f"{r['cosine_min']:.3f} | {r['dense_ndcg@10']:.4f} | {r['hybrid_ndcg@10']:.4f} |")
        print(f"{b['fastest_of']} indexes {b['speedup']:.2f}x as fast as torch (MiniLM)")
    if "latency" in result:
        lat = result["latency"]
        print(f"query latency at {lat['chunks']} chunks ({lat['queries']} queries):")
        for mode in ("bm25", "dense", "hybrid", "ask_extractive"):
            print(f"  {mode:<15} median {lat[mode]['median_ms']:7.1f} ms  p95 {lat[mode]['p95_ms']:7.1f} ms")


if __name__ == "__main__":
    main()
