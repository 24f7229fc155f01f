"""Embedding backends and query latency.

    python bench/speed.py [--json] [--skip-10k] [--skip-onnx]

1. ONNX vs torch. sentence-transformers' own ONNX backend needs `optimum-onnx`, whose releases
   all require transformers < 4.58 (this project runs transformers 5, which sentence-transformers 6
   requires): pip cannot install it here. Instead this script exports the packaged
   all-MiniLM-L6-v2 with `torch.onnx.export(dynamo=True)` (needs the `onnx` and `onnxscript`
   packages) to bench/data/onnx/model.onnx and runs it with onnxruntime (installed with chromadb):
   the same tokenizer, mean pooling and normalisation as sentence-transformers. Measured in one
   run: chunk-embedding throughput and single-query latency of both, and the quality of dense and
   hybrid retrieval on the Debian FAQ set with each backend's vectors (nDCG@10, ranx).
2. Query latency at 10,000 chunks: a generated corpus (sentences of the Debian FAQ and Reference
   shuffled into documents, deterministically) is synced, then the FAQ questions are run through
   `KnowledgeBase.search` in each mode and through `ask` (extractive)."""

from __future__ import annotations

import argparse
import contextlib
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
from rag.kb import KnowledgeBase  # noqa: E402
from rag.retrieve import rrf_fuse  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.types import Chunk, Hit  # noqa: E402

DATA = REPO / "bench" / "data"
ONNX = DATA / "onnx" / "model.onnx"


def export_onnx(target: Path = ONNX) -> Path:
    """Export the packaged model's transformer to ONNX once (about a minute)."""
    if target.exists():
        return target
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = packaged_model_path()
    model = AutoModel.from_pretrained(path).eval()
    tok = AutoTokenizer.from_pretrained(path)

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    sample = tok(["an example", "a longer example sentence"], padding=True, return_tensors="pt")
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=512)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.redirect_stdout(sys.stderr):  # the exporter prints its progress
        torch.onnx.export(Encoder().eval(), tuple(sample[n] for n in names), str(target), input_names=names,
                          output_names=["last_hidden_state"], dynamic_shapes={n: {0: batch, 1: seq} for n in names},
                          dynamo=True, external_data=False)
    return target


class OnnxEmbedder(Embeddings):
    """all-MiniLM-L6-v2 on onnxruntime; the interface of rag.embed.Embedder."""

    def __init__(self, model: Path = ONNX, batch_size: int = 32, max_length: int = 256) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.batch_size = batch_size
        self.session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(Path(packaged_model_path()) / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # like sentence-transformers
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for b in range(0, len(texts), self.batch_size):
            idx = order[b : b + self.batch_size]
            enc = self.tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                             "token_type_ids": np.zeros_like(ids)})[0]
            pooled = (hidden * mask[..., None]).sum(1) / np.clip(mask.sum(1, keepdims=True), 1e-9, None)
            out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


def timed(fn: Any, *args: Any) -> float:
    began = time.perf_counter()
    fn(*args)
    return time.perf_counter() - began


def backends(beir_dir: Path, workdir: Path, runs: int) -> dict[str, Any]:
    beir = read_beir(beir_dir)
    torch_e = Embedder()
    kb, doc_of, _ = index_beir(beir, workdir, torch_e)  # kept index: vectors by the torch backend
    got = kb.store.get(include=["embeddings", "documents", "metadatas"])
    chunks = [Chunk(m["source"], m.get("section") or "", d, int(m["start"]), int(m["end"]))
              for d, m in zip(got["documents"], got["metadatas"], strict=True)]
    torch_vecs = np.asarray(got["embeddings"], dtype=np.float32)
    onnx_e = OnnxEmbedder(export_onnx())
    began = time.perf_counter()
    onnx_vecs = onnx_e.encode([c.text for c in chunks])
    onnx_all_s = time.perf_counter() - began

    sample = [c.text for c in chunks[:: max(1, len(chunks) // 300)]][:300]
    queries = list(beir.queries.values())
    speed: dict[str, list[float]] = {"torch": [], "onnx": []}
    latency: dict[str, list[float]] = {"torch": [], "onnx": []}
    for _ in range(runs):  # interleaved, so that load from other processes hits both alike
        for name, e in (("torch", torch_e), ("onnx", onnx_e)):
            speed[name].append(len(sample) / timed(e.encode, sample))
            latency[name].append(statistics.median(1000 * timed(e.embed_query, q) for q in queries[:50]))

    n, k = 30, 10
    qvecs = {name: e.encode(queries) for name, e in (("torch", torch_e), ("onnx", onnx_e))}
    quality = {}
    for name, vecs in (("torch", torch_vecs), ("onnx", onnx_vecs)):
        dense_run, hybrid_run = {}, {}
        for qi, (qid, text) in enumerate(beir.queries.items()):
            sims = vecs @ qvecs[name][qi]
            top = np.argsort(-sims)[:90]
            dense = [(chunks[i], float(sims[i])) for i in top]
            dense_run[qid] = doc_run([Hit(c, s) for c, s in dense[:n]], doc_of, k)
            fused = rrf_fuse(dense, kb.lexical.search(text, 90), kb.settings.dense_weight, kb.settings.rrf_k)
            hybrid_run[qid] = doc_run(fused[:n], doc_of, k)
        quality[name] = {"dense_ndcg@10": ir_metrics(beir.qrels, dense_run, k)["ndcg@10"],
                         "hybrid_ndcg@10": ir_metrics(beir.qrels, hybrid_run, k)["ndcg@10"]}
    return {
        "chunks": len(chunks),
        "max_abs_cosine_diff": float(np.max(np.abs(np.sum(torch_vecs * onnx_vecs, axis=1) - 1.0))),
        "encode_chunks_per_second": {m: statistics.median(v) for m, v in speed.items()},
        "speedup": statistics.median(speed["onnx"]) / statistics.median(speed["torch"]),
        "query_embed_ms": {m: statistics.median(v) for m, v in latency.items()},
        "onnx_all_chunks_seconds": onnx_all_s,
        "quality": quality,
    }


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
    parser.add_argument("--beir", type=Path, default=DATA / "debian-faq")
    parser.add_argument("--workdir", type=Path, default=DATA / "work")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--skip-onnx", action="store_true")
    parser.add_argument("--skip-10k", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {}
    if not args.skip_onnx:
        result["backends"] = backends(args.beir, args.workdir / "debian-faq", args.runs)
    if not args.skip_10k:
        index_embedder = Embedder() if args.skip_onnx else OnnxEmbedder(export_onnx())
        result["latency"] = latency_10k(args.beir, args.workdir / f"generated-{args.chunks}", args.chunks, index_embedder)
    if args.json:
        print(json.dumps(result))
        return
    if "backends" in result:
        b = result["backends"]
        print(f"embedding backends ({b['chunks']} chunks of the Debian FAQ set; max |cos-1| {b['max_abs_cosine_diff']:.1e})")
        for m in ("torch", "onnx"):
            q = b["quality"][m]
            print(f"  {m:<6} {b['encode_chunks_per_second'][m]:6.1f} chunks/s  query {b['query_embed_ms'][m]:5.1f} ms  "
                  f"dense nDCG@10 {q['dense_ndcg@10']:.4f}  hybrid nDCG@10 {q['hybrid_ndcg@10']:.4f}")
        print(f"  speed-up {b['speedup']:.2f}x")
    if "latency" in result:
        lat = result["latency"]
        print(f"query latency at {lat['chunks']} chunks ({lat['queries']} queries):")
        for mode in ("bm25", "dense", "hybrid", "ask_extractive"):
            print(f"  {mode:<15} median {lat[mode]['median_ms']:7.1f} ms  p95 {lat[mode]['p95_ms']:7.1f} ms")


if __name__ == "__main__":
    main()
